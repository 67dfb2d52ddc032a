/* Writing the tdx-unlock keyslot and token (enroll, rotate, unenroll); never touches other
 * keyslots, so the recovery passphrase always survives. */
#pragma once

#include <stdbool.h>

#include <stddef.h>
#include <stdint.h>

#include "luks_token.h"

struct crypt_device;

/* Opens device read-write with its LUKS2 header loaded, libcryptsetup logging routed to ours. */
int luks_device_open(const char *device, struct crypt_device **out);

/* Adds a PBKDF2-SHA256 keyslot (LUKS_PBKDF2_ITER iterations, no benchmark) whose passphrase is
 * derived from secret with a fresh random salt, unlocking it with the existing passphrase, then
 * writes the token: a new one when token_id < 0, else it replaces token token_id in one header
 * write (rotate). keyslot < 0 picks the first free slot. The new keyslot is proven to open before
 * the token is written; on any failure the new keyslot is removed again. On success *out holds
 * the written token and *out_token_id its id. */
int luks_enroll_add(struct crypt_device *cd, int keyslot, const char *existing, size_t existing_len,
		    const uint8_t *secret, size_t secret_len, const char *resource, int token_id,
		    struct luks_token *out, int *out_token_id);

/* 0 when keyslot is one tdx-unlock enrolled: active, PBKDF2-SHA256 with exactly LUKS_PBKDF2_ITER
 * iterations (enroll never benchmarks; a human passphrase never looks like that). Otherwise
 * -EPERM with the reason in why: a token naming any other keyslot must not get it destroyed. */
int luks_keyslot_enrolled_check(struct crypt_device *cd, int keyslot, char *why, size_t why_len);

/* Removes the token's keyslot (when it exists, is one tdx-unlock enrolled and is not the last
 * active keyslot) and then the token itself. *keyslot_kept says the keyslot was not ours and stays
 * (the reason is logged). */
int luks_enroll_remove(struct crypt_device *cd, int token_id, const struct luks_token *tok,
		       bool *keyslot_kept);

/* Destroys one keyslot unless it is the last active one (that would lock the disk for good). */
int luks_keyslot_remove(struct crypt_device *cd, int keyslot);
