#include "kdf.h"

#include "cleanup.h"
#include "log.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <stdio.h>
#include <string.h>

#define KDF_PASSPHRASE_INFO_PREFIX "tdx-unlock/v1"
#define KDF_DISK_SECRET_PREFIX	   "tdx-unlock/disk/v1"
#define KDF_FIELD_MAX		   4096

DEFINE_CLEANUP_FUNC(EVP_KDF, EVP_KDF_free)
DEFINE_CLEANUP_FUNC(EVP_KDF_CTX, EVP_KDF_CTX_free)
DEFINE_CLEANUP_FUNC(EVP_MAC, EVP_MAC_free)
DEFINE_CLEANUP_FUNC(EVP_MAC_CTX, EVP_MAC_CTX_free)

/* Writes the canonical lowercase form of a textual UUID, refusing anything else. */
static int uuid_canonical(const char *uuid, char out[KDF_UUID_STR_LEN + 1])
{
	size_t i;

	if (!uuid || strlen(uuid) != KDF_UUID_STR_LEN)
		return -EINVAL;
	for (i = 0; i < KDF_UUID_STR_LEN; i++) {
		char c = uuid[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return -EINVAL;
		} else if (c >= 'A' && c <= 'F') {
			c = (char)(c - 'A' + 'a');
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
			return -EINVAL;
		}
		out[i] = c;
	}
	out[KDF_UUID_STR_LEN] = '\0';
	return 0;
}

int kdf_luks_passphrase(const uint8_t *secret, size_t secret_len, const uint8_t *salt,
			size_t salt_len, const char *uuid, unsigned keyslot,
			uint8_t out[KDF_PASSPHRASE_LEN])
{
	_cleanup_(EVP_KDF_freep) EVP_KDF *kdf = NULL;
	_cleanup_(EVP_KDF_CTX_freep) EVP_KDF_CTX *ctx = NULL;
	char info[sizeof(KDF_PASSPHRASE_INFO_PREFIX) + KDF_UUID_STR_LEN + 8];
	char canon[KDF_UUID_STR_LEN + 1];
	OSSL_PARAM params[5];
	int n;

	if (!secret || secret_len == 0)
		return log_error_errno(-EINVAL, "passphrase derivation: empty secret");
	if (!salt || salt_len == 0)
		return log_error_errno(-EINVAL, "passphrase derivation: empty salt");
	if (uuid_canonical(uuid, canon) < 0)
		return log_error_errno(-EINVAL, "passphrase derivation: '%.40s' is not a UUID",
				       uuid ? uuid : "(null)");
	if (keyslot > KDF_KEYSLOT_MAX)
		return log_error_errno(-EINVAL, "passphrase derivation: keyslot %u out of range",
				       keyslot);
	n = snprintf(info, sizeof(info), KDF_PASSPHRASE_INFO_PREFIX "%s%u", canon, keyslot);
	if (n < 0 || (size_t)n >= sizeof(info))
		return log_error_errno(-EINVAL, "passphrase derivation: info too long");

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] =
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, secret_len);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, (size_t)n);
	params[4] = OSSL_PARAM_construct_end();

	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	if (!ctx || EVP_KDF_derive(ctx, out, KDF_PASSPHRASE_LEN, params) <= 0) {
		ERR_clear_error();
		return log_error_errno(-EIO, "passphrase derivation: HKDF-SHA256 failed");
	}
	return 0;
}

static int mac_update_field(EVP_MAC_CTX *ctx, const void *data, size_t len)
{
	uint8_t be[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
			 (uint8_t)len};

	return EVP_MAC_update(ctx, be, sizeof(be)) && EVP_MAC_update(ctx, data, len);
}

int kdf_disk_secret(const uint8_t *root_key, size_t root_key_len, const char *policy_id,
		    const char *resource_path, uint32_t key_version,
		    uint8_t out[KDF_DISK_SECRET_LEN])
{
	_cleanup_(EVP_MAC_freep) EVP_MAC *mac = NULL;
	_cleanup_(EVP_MAC_CTX_freep) EVP_MAC_CTX *ctx = NULL;
	uint8_t version_be[4] = {(uint8_t)(key_version >> 24), (uint8_t)(key_version >> 16),
				 (uint8_t)(key_version >> 8), (uint8_t)key_version};
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	size_t pid_len, path_len, outl = 0;

	if (!root_key || root_key_len == 0)
		return log_error_errno(-EINVAL, "disk secret derivation: empty root key");
	pid_len = policy_id ? strlen(policy_id) : 0;
	path_len = resource_path ? strlen(resource_path) : 0;
	if (pid_len == 0 || pid_len > KDF_FIELD_MAX)
		return log_error_errno(-EINVAL,
				       "disk secret derivation: policy id empty or too long");
	if (path_len == 0 || path_len > KDF_FIELD_MAX)
		return log_error_errno(-EINVAL,
				       "disk secret derivation: resource path empty or too long");

	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	if (!ctx || !EVP_MAC_init(ctx, root_key, root_key_len, params) ||
	    !EVP_MAC_update(ctx, (const uint8_t *)KDF_DISK_SECRET_PREFIX,
			    strlen(KDF_DISK_SECRET_PREFIX)) ||
	    !mac_update_field(ctx, policy_id, pid_len) ||
	    !mac_update_field(ctx, resource_path, path_len) ||
	    !EVP_MAC_update(ctx, version_be, sizeof(version_be)) ||
	    !EVP_MAC_final(ctx, out, &outl, KDF_DISK_SECRET_LEN) || outl != KDF_DISK_SECRET_LEN) {
		ERR_clear_error();
		return log_error_errno(-EIO, "disk secret derivation: HMAC-SHA256 failed");
	}
	return 0;
}
