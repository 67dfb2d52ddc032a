/* Test helper: loads tests/vectors/protocol-vectors.json (the vectors of docs/protocol.md) and
 * builds the fixed P-256 keys it names. Included by the protocol unit tests only. */
#pragma once

#include <json-c/json.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "fileio.h"
#include "hexutil.h"

#ifndef PROTOCOL_VECTORS_PATH
/* Tests run from the repository root (make check-unit); PROTOCOL_VECTORS overrides. */
#define PROTOCOL_VECTORS_PATH "tests/vectors/protocol-vectors.json"
#endif

static inline struct json_object *vectors_load(void)
{
	const char *path = getenv("PROTOCOL_VECTORS") ?: PROTOCOL_VECTORS_PATH;
	struct json_object *v;
	uint8_t *text = NULL;
	size_t len = 0;

	if (file_read_all(path, 1 << 20, &text, &len) < 0)
		return NULL;
	v = json_tokener_parse((const char *)text);
	free(text);
	return v;
}

/* Member path a.b of the vectors, as a string (NULL when absent). */
static inline const char *vec_str(struct json_object *v, const char *section, const char *key)
{
	struct json_object *s, *k;

	if (!json_object_object_get_ex(v, section, &s) || !json_object_object_get_ex(s, key, &k))
		return NULL;
	return json_object_get_string(k);
}

static inline struct json_object *vec_obj(struct json_object *v, const char *section,
					  const char *key)
{
	struct json_object *s, *k;

	if (!json_object_object_get_ex(v, section, &s) || !json_object_object_get_ex(s, key, &k))
		return NULL;
	return k;
}

/* Decodes hex member section.key into out (exactly len bytes); returns 0 or -1. */
static inline int vec_hex(struct json_object *v, const char *section, const char *key, uint8_t *out,
			  size_t len)
{
	const char *s = vec_str(v, section, key);

	if (!s)
		return -1;
	return hex_decode_exact(s, strlen(s), out, len) == 0 ? 0 : -1;
}

/* A P-256 key pair from its private scalar and public coordinates. */
static inline EVP_PKEY *vec_p256_key(const uint8_t d[32], const uint8_t x[32], const uint8_t y[32])
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	BIGNUM *bn = BN_bin2bn(d, 32, NULL);
	OSSL_PARAM *params = NULL;
	EVP_PKEY *key = NULL;
	uint8_t point[65];

	point[0] = 0x04;
	memcpy(point + 1, x, 32);
	memcpy(point + 33, y, 32);
	if (bld && ctx && bn &&
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bn) &&
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)) &&
	    (params = OSSL_PARAM_BLD_to_param(bld)) && EVP_PKEY_fromdata_init(ctx) > 0 &&
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_KEYPAIR, params) <= 0)
		key = NULL;
	OSSL_PARAM_free(params);
	BN_clear_free(bn);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_BLD_free(bld);
	return key;
}

/* The TEE (JWE recipient) key of the vectors: private scalar plus the JWK's x and y. */
static inline EVP_PKEY *vec_tee_key(struct json_object *v)
{
	struct json_object *jwk = vec_obj(v, "report_data", "tee_pubkey"), *x, *y;
	uint8_t d[32], bx[32], by[32];

	if (!jwk || vec_hex(v, "report_data", "tee_private_hex", d, 32) < 0 ||
	    !json_object_object_get_ex(jwk, "x", &x) || !json_object_object_get_ex(jwk, "y", &y) ||
	    b64_decode_exact(B64_URL, json_object_get_string(x),
			     (size_t)json_object_get_string_len(x), bx, 32) < 0 ||
	    b64_decode_exact(B64_URL, json_object_get_string(y),
			     (size_t)json_object_get_string_len(y), by, 32) < 0)
		return NULL;
	return vec_p256_key(d, bx, by);
}
