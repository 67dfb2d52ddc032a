/* What the disk-side admin commands share: option values checked the same way (enroll, rotate)
 * the header checked and loaded and reported the same way (enroll, rotate, check, check-header). */
#pragma once

#include <stdbool.h>
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

struct luks_header;
struct luks_token;
struct crypt_device;

/* The tdx-unlock token's header check exactly as unlock runs it (luks_header_validate with the
 * token required), on a header the command opened or has just written; a refusal is logged as
 * "CMD: DEVICE: [WHAT: ]REASON". Returns 0 or luks_header_validate()'s error. */
int cmd_header_validate(const char *cmd, struct crypt_device *cd, const char *device,
			const char *what, char *uuid, int *token_id, struct luks_token *token);

/* Loads and validates device's header as unlock does (token_optional: a header without a
 * tdx-unlock token passes too) and prints on stdout why not. Returns the command's exit code: 0
 * with *out set, 1 refused, 2 the device cannot be opened. */
int cmd_header_load(const char *device, bool token_optional, struct luks_header **out);
