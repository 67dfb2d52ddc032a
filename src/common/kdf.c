#include "kdf.h"

#include "cleanup.h"
#include "log.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KDF_PASSPHRASE_INFO_PREFIX "tdx-unlock/v1"
#define KDF_DISK_SECRET_PREFIX	   "tdx-unlock/disk/v1"
#define KDF_FIELD_MAX		   4096

DEFINE_CLEANUP_FUNC(EVP_KDF, EVP_KDF_free)
DEFINE_CLEANUP_FUNC(EVP_KDF_CTX, EVP_KDF_CTX_free)

/* HMAC contexts are copied from one template made once per process: HMAC() fetches the MAC and
 * the digest by name on every call (OpenSSL 3.0), a third of its cost for the short messages
 * here. The template is keyed with zeros only because an HMAC context that was never keyed
 * cannot be copied; each copy is keyed with the real key, used once and freed (wiped). */
static EVP_MAC_CTX *hmac_template;
static pthread_once_t hmac_template_once = PTHREAD_ONCE_INIT;

static void hmac_template_make(void)
{
	static const uint8_t zero[32];
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;

	EVP_MAC_free(mac); /* the context holds its own reference */
	if (ctx && EVP_MAC_init(ctx, zero, sizeof(zero), params) != 1) {
		EVP_MAC_CTX_free(ctx);
		ctx = NULL;
	}
	ERR_clear_error();
	hmac_template = ctx;
}

int kdf_hmac_sha256(const uint8_t *key, size_t key_len, const void *msg, size_t len,
		    uint8_t out[32])
{
	EVP_MAC_CTX *ctx;
	size_t outl = 0;
	int r = -EIO;

	pthread_once(&hmac_template_once, hmac_template_make);
	/* Copies of the read-only template may be made on several threads at once. */
	ctx = hmac_template ? EVP_MAC_CTX_dup(hmac_template) : NULL;
	if (ctx && EVP_MAC_init(ctx, key, key_len, NULL) == 1 &&
	    EVP_MAC_update(ctx, msg, len) == 1 && EVP_MAC_final(ctx, out, &outl, 32) == 1 &&
	    outl == 32)
		r = 0;
	EVP_MAC_CTX_free(ctx);
	if (r < 0)
		ERR_clear_error();
	return r;
}

int kdf_evp_derive(const char *alg, const OSSL_PARAM *params, uint8_t *out, size_t len)
{
	_cleanup_(EVP_KDF_freep) EVP_KDF *kdf = EVP_KDF_fetch(NULL, alg, NULL);
	_cleanup_(EVP_KDF_CTX_freep) EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;

	if (!ctx || EVP_KDF_derive(ctx, out, len, params) <= 0) {
		ERR_clear_error();
		return -EIO;
	}
	return 0;
}

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

	if (kdf_evp_derive("HKDF", params, out, KDF_PASSPHRASE_LEN) < 0)
		return log_error_errno(-EIO, "passphrase derivation: HKDF-SHA256 failed");
	return 0;
}

static uint8_t *put_u32be(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return p + 4;
}

int kdf_disk_secret_message(const char *policy_id, const char *resource_path, uint32_t key_version,
			    uint8_t **out, size_t *out_len)
{
	const size_t prefix_len = sizeof(KDF_DISK_SECRET_PREFIX) - 1;
	size_t pid_len, path_len, len;
	uint8_t *m, *p;

	pid_len = policy_id ? strlen(policy_id) : 0;
	path_len = resource_path ? strlen(resource_path) : 0;
	if (pid_len == 0 || pid_len > KDF_FIELD_MAX)
		return log_error_errno(-EINVAL,
				       "disk secret derivation: policy id empty or too long");
	if (path_len == 0 || path_len > KDF_FIELD_MAX)
		return log_error_errno(-EINVAL,
				       "disk secret derivation: resource path empty or too long");
	len = prefix_len + 4 + pid_len + 4 + path_len + 4;
	m = malloc(len);
	if (!m)
		return -ENOMEM;
	p = m;
	memcpy(p, KDF_DISK_SECRET_PREFIX, prefix_len);
	p = put_u32be(p + prefix_len, (uint32_t)pid_len);
	memcpy(p, policy_id, pid_len);
	p = put_u32be(p + pid_len, (uint32_t)path_len);
	memcpy(p, resource_path, path_len);
	put_u32be(p + path_len, key_version);
	*out = m;
	*out_len = len;
	return 0;
}

int kdf_disk_secret(const uint8_t *root_key, size_t root_key_len, const char *policy_id,
		    const char *resource_path, uint32_t key_version,
		    uint8_t out[KDF_DISK_SECRET_LEN])
{
	uint8_t *msg = NULL;
	size_t len = 0;
	int r;

	if (!root_key || root_key_len == 0)
		return log_error_errno(-EINVAL, "disk secret derivation: empty root key");
	r = kdf_disk_secret_message(policy_id, resource_path, key_version, &msg, &len);
	if (r < 0 || !msg)
		return r < 0 ? r : -EINVAL;
	if (kdf_hmac_sha256(root_key, root_key_len, msg, len, out) < 0)
		r = log_error_errno(-EIO, "disk secret derivation: HMAC-SHA256 failed");
	free(msg);
	return r;
}
