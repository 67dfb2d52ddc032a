/* Key derivations of tdx-unlock: the LUKS keyslot passphrase (agent and enrollment) and the
 * per-disk secret (server). Byte encodings are fixed here and in docs/protocol.md. */
#pragma once

#include <openssl/types.h>
#include <stddef.h>
#include <stdint.h>

#define KDF_PASSPHRASE_LEN  32
#define KDF_DISK_SECRET_LEN 32
#define KDF_UUID_STR_LEN    36
#define KDF_KEYSLOT_MAX	    31 /* LUKS2 keyslots are 0..31 */

/* passphrase = HKDF-SHA256(IKM = secret, salt = salt,
 *                          info = "tdx-unlock/v1" || uuid || keyslot, L = 32)
 * where uuid is the 36-character textual LUKS UUID in lowercase (upper-case input is lowered;
 * anything not of the form 8-4-4-4-12 hex digits is refused with -EINVAL) and keyslot is its
 * decimal ASCII without leading zeros ("0".."31"). The fixed-length uuid keeps the concatenation
 * unambiguous. The passphrase is the 32 raw bytes; out should be secure memory. */
int kdf_luks_passphrase(const uint8_t *secret, size_t secret_len, const uint8_t *salt,
			size_t salt_len, const char *uuid, unsigned keyslot,
			uint8_t out[KDF_PASSPHRASE_LEN]);

/* disk secret = HMAC-SHA256(key = root_key,
 *                           "tdx-unlock/disk/v1" || u32be(len(policy_id)) || policy_id
 *                           || u32be(len(resource_path)) || resource_path || u32be(key_version))
 * policy_id and resource_path are non-empty strings of at most 4096 bytes (else -EINVAL). out
 * should be secure memory. */
int kdf_disk_secret(const uint8_t *root_key, size_t root_key_len, const char *policy_id,
		    const char *resource_path, uint32_t key_version,
		    uint8_t out[KDF_DISK_SECRET_LEN]);

/* The message of that HMAC (everything but the key), malloc'ed: for root keys that stay inside a
 * token, which computes the HMAC itself. Same checks and errors as kdf_disk_secret(). */
int kdf_disk_secret_message(const char *policy_id, const char *resource_path, uint32_t key_version,
			    uint8_t **out, size_t *out_len);

/* out = HMAC-SHA256(key, msg): the one HMAC of the project (disk secrets, root-key subkeys, the
 * token, the audit chain). 0 or -EIO. */
int kdf_hmac_sha256(const uint8_t *key, size_t key_len, const void *msg, size_t len,
		    uint8_t out[32]);

/* One run of OpenSSL's KDF alg ("HKDF", "SSKDF", ...) with params into out[len]: 0, or -EIO with
 * OpenSSL's error queue cleared (the caller logs what failed). The one place EVP_KDF is driven. */
int kdf_evp_derive(const char *alg, const OSSL_PARAM *params, uint8_t *out, size_t len);
