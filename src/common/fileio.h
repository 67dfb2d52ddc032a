/* Reading whole files with a size bound. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Reads at most max bytes of path into a malloc'ed buffer (NUL-terminated for convenience; the
 * terminator is not counted in *len). Files larger than max give -EFBIG. */
int file_read_all(const char *path, size_t max, uint8_t **out, size_t *len);

/* Creates path with mode 0600 (O_EXCL unless overwrite) and writes len bytes. */
int file_write_private(const char *path, const void *data, size_t len, int overwrite);
