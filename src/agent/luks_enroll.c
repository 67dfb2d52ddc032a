#include "luks_enroll.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libcryptsetup.h>
#include <openssl/rand.h>

#include "cleanup.h"
#include "log.h"
#include "luks_activate.h"
#include "luks_header.h"
#include "secmem.h"

int luks_device_open(const char *device, struct crypt_device **out)
{
	struct crypt_device *cd = NULL;
	int r;

	r = crypt_init(&cd, device);
	if (r < 0)
		return luks_open_error(device, r);
	luks_log_attach(cd);
	r = crypt_load(cd, CRYPT_LUKS2, NULL);
	if (r < 0) {
		crypt_free(cd);
		return log_error_errno(r, "%s: not a LUKS2 device", device);
	}
	*out = cd;
	return 0;
}

static int keyslot_pick(struct crypt_device *cd, int keyslot)
{
	int max = crypt_keyslot_max(CRYPT_LUKS2);

	if (keyslot >= 0) {
		if (keyslot >= max)
			return log_error_errno(-EINVAL, "keyslot %d out of range 0..%d", keyslot,
					       max - 1);
		if (crypt_keyslot_status(cd, keyslot) != CRYPT_SLOT_INACTIVE)
			return log_error_errno(-EEXIST, "keyslot %d is already in use", keyslot);
		return keyslot;
	}
	for (int i = 0; i < max; i++)
		if (crypt_keyslot_status(cd, i) == CRYPT_SLOT_INACTIVE)
			return i;
	return log_error_errno(-ENOSPC, "no free keyslot");
}

int luks_keyslot_remove(struct crypt_device *cd, int keyslot)
{
	crypt_keyslot_info st = crypt_keyslot_status(cd, keyslot);
	int r;

	if (st == CRYPT_SLOT_INACTIVE)
		return 0;
	if (st == CRYPT_SLOT_ACTIVE_LAST)
		return log_error_errno(-EBUSY,
				       "keyslot %d is the last active keyslot: removing it would "
				       "make the disk unrecoverable",
				       keyslot);
	if (st != CRYPT_SLOT_ACTIVE && st != CRYPT_SLOT_UNBOUND)
		return log_error_errno(-EINVAL, "keyslot %d is not a valid keyslot", keyslot);
	r = crypt_keyslot_destroy(cd, keyslot);
	if (r < 0)
		return log_error_errno(r, "removing keyslot %d failed", keyslot);
	return 0;
}

int luks_enroll_add(struct crypt_device *cd, int keyslot, const char *existing, size_t existing_len,
		    const uint8_t *secret, size_t secret_len, const char *resource, int token_id,
		    struct luks_token *out, int *out_token_id)
{
	/* A machine key with 256 bits of entropy: a slow KDF would only cost boot time. */
	const struct crypt_pbkdf_type pbkdf = {
		.type = CRYPT_KDF_PBKDF2,
		.hash = "sha256",
		.iterations = LUKS_PBKDF2_ITER,
		.flags = CRYPT_PBKDF_NO_BENCHMARK,
	};
	_cleanup_secmem_ uint8_t *pass = NULL;
	_cleanup_free_ char *json = NULL;
	struct luks_token tok = {0};
	const char *uuid = crypt_get_uuid(cd);
	size_t pass_len = 0;
	int slot, r, tid;

	if (luks_resource_path_check(resource) < 0)
		return log_error_errno(-EINVAL, "resource '%s' is not a repo/type/tag path",
				       resource);
	if (!uuid)
		return log_error_errno(-EINVAL, "device has no UUID");
	slot = keyslot_pick(cd, keyslot);
	if (slot < 0)
		return slot;

	tok.keyslot = slot;
	tok.version = LUKS_TOKEN_VERSION;
	snprintf(tok.resource, sizeof(tok.resource), "%s", resource);
	if (RAND_bytes(tok.salt, sizeof(tok.salt)) != 1)
		return log_error_errno(-EIO, "no randomness for the salt");
	r = luks_token_format(&tok, &json);
	if (r < 0)
		return r;
	r = luks_passphrase_derive(secret, secret_len, &tok, uuid, &pass, &pass_len);
	if (r < 0)
		return r;

	r = crypt_set_pbkdf_type(cd, &pbkdf);
	if (r < 0)
		return log_error_errno(r, "setting PBKDF2 parameters failed");
	r = crypt_keyslot_add_by_passphrase(cd, slot, existing, existing_len, (const char *)pass,
					    pass_len);
	if (r == -EPERM || r == -ENOENT)
		return log_error_errno(-EPERM, "the existing passphrase opens no keyslot");
	if (r < 0)
		return log_error_errno(r, "adding keyslot %d failed", slot);

	/* Prove the new keyslot opens before anything points at it. */
	r = crypt_activate_by_passphrase(cd, NULL, slot, (const char *)pass, pass_len, 0);
	if (r < 0) {
		log_error_errno(r, "new keyslot %d does not open with its passphrase", slot);
		goto undo;
	}
	tid = crypt_token_json_set(cd, token_id < 0 ? CRYPT_ANY_TOKEN : token_id, json);
	if (tid < 0) {
		r = log_error_errno(tid, "writing the tdx-unlock token failed");
		goto undo;
	}
	*out = tok;
	*out_token_id = tid;
	return 0;
undo:
	if (crypt_keyslot_destroy(cd, slot) < 0)
		log_error("keyslot %d could not be removed again: remove it by hand", slot);
	return r;
}

int luks_keyslot_enrolled_check(struct crypt_device *cd, int keyslot, char *why, size_t why_len)
{
	struct crypt_pbkdf_type pbkdf;
	crypt_keyslot_info st = crypt_keyslot_status(cd, keyslot);

	if (st != CRYPT_SLOT_ACTIVE && st != CRYPT_SLOT_ACTIVE_LAST) {
		snprintf(why, why_len, "keyslot %d is not an active keyslot", keyslot);
		return -EPERM;
	}
	if (crypt_keyslot_get_pbkdf(cd, keyslot, &pbkdf) < 0 || !pbkdf.type) {
		snprintf(why, why_len, "keyslot %d has no readable PBKDF", keyslot);
		return -EPERM;
	}
	if (strcmp(pbkdf.type, CRYPT_KDF_PBKDF2) != 0 || !pbkdf.hash ||
	    strcmp(pbkdf.hash, "sha256") != 0 || pbkdf.iterations != LUKS_PBKDF2_ITER) {
		snprintf(why, why_len,
			 "keyslot %d uses %s%s%s with %u iterations, not the PBKDF2-SHA256 x %d "
			 "tdx-unlock enrolls",
			 keyslot, pbkdf.type, pbkdf.hash ? "/" : "", pbkdf.hash ? pbkdf.hash : "",
			 pbkdf.iterations, LUKS_PBKDF2_ITER);
		return -EPERM;
	}
	return 0;
}

int luks_enroll_remove(struct crypt_device *cd, int token_id, const struct luks_token *tok,
		       bool *keyslot_kept)
{
	char why[256];
	int r;

	*keyslot_kept = false;
	if (tok && luks_keyslot_enrolled_check(cd, tok->keyslot, why, sizeof(why)) < 0) {
		log_warn("token %d names keyslot %d, which tdx-unlock did not enroll (%s): keeping "
			 "the keyslot, removing only the token",
			 token_id, tok->keyslot, why);
		*keyslot_kept = true;
	} else if (tok) {
		r = luks_keyslot_remove(cd, tok->keyslot);
		if (r < 0)
			return r;
	}
	r = crypt_token_json_set(cd, token_id, NULL);
	if (r < 0)
		return log_error_errno(r, "removing token %d failed", token_id);
	return 0;
}
