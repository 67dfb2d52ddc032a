/* Option values shared by the disk-side admin commands (enroll, rotate), checked the same way. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Size bounds of a tdx-unlock secret file. */
#define CMD_SECRET_MIN 16
#define CMD_SECRET_MAX 4096

/* Parses a --keyslot value (0..31) into *keyslot; logs "<cmd>: ..." and returns -EINVAL if it is
 * not one. */
int cmd_keyslot_parse(const char *cmd, const char *arg, int *keyslot);

/* Reads the new secret (CMD_SECRET_MIN..CMD_SECRET_MAX bytes) from path into secmem; *out is freed
 * with secmem_free. */
int cmd_new_secret_read(const char *cmd, const char *path, uint8_t **out, size_t *len);
