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

/* What enroll and rotate write with: the device opened, the new secret and the passphrase that
 * unlocks the volume key today (both secmem), and the keyslot asked for (-1: libcryptsetup
 * picks). */
struct cmd_new_key {
	struct crypt_device *cd;
	uint8_t *secret;
	size_t secret_len;
	char *existing;
	size_t existing_len;
	int keyslot;
};

/* Checks --keyslot and --resource (each when given), reads the new secret and opens device, in
 * that order; a refusal is logged as "CMD: ..." and is a usage error (-EINVAL or the error). */
int cmd_new_key_open(const char *cmd, const char *device, const char *keyslot_arg,
		     const char *resource, const char *secret_file, struct cmd_new_key *k);
/* luks_enroll_add() with k's device, keyslot, passphrase and new secret (token_id < 0: a new
 * token, else the one it replaces); both secrets are wiped right after. */
int cmd_new_key_enroll(struct cmd_new_key *k, const char *resource, int token_id,
		       struct luks_token *out, int *out_token_id);
/* Frees the device context and wipes the secrets (a _cleanup_ function). */
void cmd_new_key_done(struct cmd_new_key *k);

/* The tdx-unlock token's header check exactly as unlock runs it (luks_header_validate with the
 * token required), on a header the command opened or has just written; a refusal is logged as
 * "CMD: DEVICE: [WHAT: ]REASON". Returns 0 or luks_header_validate()'s error. */
int cmd_header_validate(const char *cmd, struct crypt_device *cd, const char *device,
			const char *what, char *uuid, int *token_id, struct luks_token *token);

/* Loads and validates device's header as unlock does (token_optional: a header without a
 * tdx-unlock token passes too) and prints on stdout why not. Returns the command's exit code: 0
 * with *out set, 1 refused, 2 the device cannot be opened. */
int cmd_header_load(const char *device, bool token_optional, struct luks_header **out);
