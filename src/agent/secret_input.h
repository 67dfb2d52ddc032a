/* Secrets for the admin commands (secret files, existing passphrases): read from a file or the
 * terminal straight into secure memory, never through stdio buffers. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Reads the whole of path (1..max bytes) into secmem; *out is freed with secmem_free. */
int secret_file_read(const char *path, size_t max, uint8_t **out, size_t *len);

/* Prompts on /dev/tty with echo off and reads one line (without its newline, at most max bytes)
 * into NUL-terminated secmem. -ENXIO when there is no terminal. */
int secret_tty_read(const char *prompt, size_t max, char **out, size_t *len);

/* The existing passphrase for enroll/rotate: the whole of key_file when given (as cryptsetup's
 * --key-file reads it), else a prompt on the terminal. NUL-terminated secmem in *out. */
int secret_passphrase_get(const char *key_file, char **out, size_t *len);
