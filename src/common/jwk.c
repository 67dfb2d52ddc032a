#include "jwk.h"

#include "b64.h"
#include "cleanup.h"
#include "json_build.h"
#include "json_strict.h"
#include "log.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <pthread.h>
#include <string.h>

#define P256_GROUP_NAME "prime256v1"

DEFINE_CLEANUP_FUNC(EVP_PKEY_CTX, EVP_PKEY_CTX_free)
DEFINE_CLEANUP_FUNC(BIGNUM, BN_free)
/* P-256 domain parameters (no key), made once per process and never changed: new keys copy
 * them, which spares OpenSSL 3.0 building the curve from its name for every key generated or
 * imported (about half the cost of a key generation). */
static EVP_PKEY *p256_params;
static pthread_once_t p256_params_once = PTHREAD_ONCE_INIT;

static void p256_params_make(void)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);

	if (!ctx || EVP_PKEY_paramgen_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_group_name(ctx, P256_GROUP_NAME) <= 0 ||
	    EVP_PKEY_paramgen(ctx, &p256_params) <= 0)
		p256_params = NULL;
	EVP_PKEY_CTX_free(ctx);
}

static EVP_PKEY *p256_domain(void)
{
	pthread_once(&p256_params_once, p256_params_make);
	return p256_params;
}

/* The curve alone, for checking a point without making a key (a fifth of the cost). */
static EC_GROUP *p256_group;
static pthread_once_t p256_group_once = PTHREAD_ONCE_INIT;

static void p256_group_make(void)
{
	p256_group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
}

/* 0 when (x, y) is a point on P-256: OpenSSL's SEC1 decoding, the same one a key import runs,
 * refuses coordinates >= p and points off the curve. -EDOM otherwise, -ENOMEM. */
static int p256_point_check(const uint8_t xy[2 * JWK_P256_COORD_LEN])
{
	uint8_t point[1 + 2 * JWK_P256_COORD_LEN];
	EC_POINT *p;
	int r;

	pthread_once(&p256_group_once, p256_group_make);
	p = p256_group ? EC_POINT_new(p256_group) : NULL;
	if (!p)
		return -ENOMEM;
	point[0] = 0x04; /* uncompressed SEC1 point */
	memcpy(point + 1, xy, 2 * JWK_P256_COORD_LEN);
	r = EC_POINT_oct2point(p256_group, p, point, sizeof(point), NULL) == 1 ? 0 : -EDOM;
	EC_POINT_free(p);
	ERR_clear_error();
	return r;
}

int jwk_generate_p256(EVP_PKEY **out)
{
	_cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *params = p256_domain(), *key = NULL;

	ctx = params ? EVP_PKEY_CTX_new_from_pkey(NULL, params, NULL) : NULL;
	if (!ctx || EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_keygen(ctx, &key) <= 0)
		return log_error_errno(-EIO, "jwk: generating a P-256 key failed");
	*out = key;
	return 0;
}

int jwk_p256_coordinates(EVP_PKEY *key, uint8_t xy[2 * JWK_P256_COORD_LEN])
{
	uint8_t *x = xy, *y = xy + JWK_P256_COORD_LEN;
	_cleanup_(BN_freep) BIGNUM *bx = NULL;
	_cleanup_(BN_freep) BIGNUM *by = NULL;
	uint8_t point[1 + 2 * JWK_P256_COORD_LEN];
	size_t point_len = 0;
	char group[32];

	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
	    !EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
					    NULL) ||
	    strcmp(group, P256_GROUP_NAME) != 0)
		return log_error_errno(-EINVAL, "jwk: key is not an EC P-256 key");
	/* One call for both coordinates when the point is held uncompressed (the usual case). */
	if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point),
					    &point_len) &&
	    point_len == sizeof(point) && point[0] == 0x04) {
		memcpy(x, point + 1, JWK_P256_COORD_LEN);
		memcpy(y, point + 1 + JWK_P256_COORD_LEN, JWK_P256_COORD_LEN);
		return 0;
	}
	if (!EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &bx) ||
	    !EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &by) ||
	    BN_bn2binpad(bx, x, JWK_P256_COORD_LEN) != JWK_P256_COORD_LEN ||
	    BN_bn2binpad(by, y, JWK_P256_COORD_LEN) != JWK_P256_COORD_LEN)
		return log_error_errno(-EINVAL, "jwk: cannot read the P-256 public point");
	return 0;
}

int jwk_from_public_key(EVP_PKEY *key, int with_alg, struct json_object **out)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	_cleanup_free_ char *x64 = NULL;
	_cleanup_free_ char *y64 = NULL;
	uint8_t xy[2 * JWK_P256_COORD_LEN];
	int r;

	r = jwk_p256_coordinates(key, xy);
	if (r < 0)
		return r;
	x64 = b64_encode(B64_URL, xy, JWK_P256_COORD_LEN);
	y64 = b64_encode(B64_URL, xy + JWK_P256_COORD_LEN, JWK_P256_COORD_LEN);
	o = json_object_new_object();
	if (!x64 || !y64 || !o)
		return log_error_errno(-ENOMEM, "jwk: out of memory");
	if (with_alg)
		r = json_add_string(o, "kty", "EC") ?: json_add_string(o, "crv", "P-256")
			?: json_add_string(o, "alg", JWK_ALG_ECDH_ES_A256KW);
	else
		r = json_add_string(o, "crv", "P-256") ?: json_add_string(o, "kty", "EC");
	if (r == 0)
		r = json_add_string(o, "x", x64) ?: json_add_string(o, "y", y64);
	if (r < 0)
		return log_error_errno(r, "jwk: out of memory");
	*out = TAKE_PTR(o);
	return 0;
}

/* Checks that member key of jwk is the string want. */
static int expect_string(struct json_object *jwk, const char *what, const char *key,
			 const char *want, const char *rule, char *reason, size_t reason_len)
{
	const char *s;
	int r;

	r = json_strict_get_string(jwk, what, key, 64, &s, reason, reason_len);
	if (r < 0)
		return r;
	if (strcmp(s, want) != 0)
		return json_strict_fail(reason, reason_len, -EINVAL, "%s: '%s' is \"%.32s\", %s",
					what, key, s, rule);
	return 0;
}

int jwk_p256_from_coordinates(const uint8_t xy[2 * JWK_P256_COORD_LEN], EVP_PKEY **out)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
	EVP_PKEY *domain = p256_domain();
	uint8_t point[1 + 2 * JWK_P256_COORD_LEN];

	/* A key with the shared P-256 parameters, then the point. Decoding an uncompressed point
	 * refuses coordinates >= p and points off the curve, and 65 bytes can never encode the
	 * point at infinity: all that EVP_PKEY_public_check_quick() would check (P-256 has
	 * cofactor 1, so the costly order check would add nothing), without its context. */
	point[0] = 0x04; /* uncompressed SEC1 point */
	memcpy(point + 1, xy, 2 * JWK_P256_COORD_LEN);
	key = EVP_PKEY_new();
	if (!domain || !key || EVP_PKEY_copy_parameters(key, domain) != 1)
		return -ENOMEM;
	if (EVP_PKEY_set1_encoded_public_key(key, point, sizeof(point)) != 1) {
		ERR_clear_error();
		return -EDOM;
	}
	*out = TAKE_PTR(key);
	return 0;
}

/* The checks of jwk_to_public_key(); xy gets the coordinates and *out (when out is not NULL)
 * the key, whose import checks the point; without out the point alone is checked. */
static int jwk_parse(struct json_object *jwk, const char *what, enum jwk_alg_rule alg_rule,
		     uint8_t xy[2 * JWK_P256_COORD_LEN], EVP_PKEY **out, char *reason,
		     size_t reason_len)
{
	static const char *const with_alg[] = {"kty", "crv", "alg", "x", "y", NULL};
	static const char *const without_alg[] = {"kty", "crv", "x", "y", NULL};
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
	int r;

	if (!json_object_is_type(jwk, json_type_object))
		return json_strict_fail(reason, reason_len, -EINVAL, "%s: not a JSON object", what);
	r = json_strict_only_members(jwk, what,
				     alg_rule == JWK_ALG_REQUIRED ? with_alg : without_alg, reason,
				     reason_len);
	if (r < 0)
		return r;
	r = expect_string(jwk, what, "kty", "EC", "only EC keys are accepted", reason, reason_len);
	if (r < 0)
		return r;
	r = expect_string(jwk, what, "crv", "P-256", "only P-256 is accepted", reason, reason_len);
	if (r < 0)
		return r;
	if (alg_rule == JWK_ALG_REQUIRED) {
		r = expect_string(jwk, what, "alg", JWK_ALG_ECDH_ES_A256KW,
				  "only ECDH-ES+A256KW is accepted", reason, reason_len);
		if (r < 0)
			return r;
	}
	r = json_strict_get_b64url_exact(jwk, what, "x", xy, JWK_P256_COORD_LEN, reason,
					 reason_len);
	if (r < 0)
		return r;
	r = json_strict_get_b64url_exact(jwk, what, "y", xy + JWK_P256_COORD_LEN,
					 JWK_P256_COORD_LEN, reason, reason_len);
	if (r < 0)
		return r;
	r = out ? jwk_p256_from_coordinates(xy, &key) : p256_point_check(xy);
	if (r == -ENOMEM)
		return log_error_errno(r, "%s: out of memory", what);
	if (r < 0)
		return json_strict_fail(reason, reason_len, -EINVAL,
					"%s: (x, y) is not a point on P-256", what);
	if (out)
		*out = TAKE_PTR(key);
	return 0;
}

int jwk_to_public_key(struct json_object *jwk, const char *what, enum jwk_alg_rule alg_rule,
		      EVP_PKEY **out, char *reason, size_t reason_len)
{
	uint8_t xy[2 * JWK_P256_COORD_LEN];

	return jwk_parse(jwk, what, alg_rule, xy, out, reason, reason_len);
}

int jwk_to_p256_coordinates(struct json_object *jwk, const char *what, enum jwk_alg_rule alg_rule,
			    uint8_t xy[2 * JWK_P256_COORD_LEN], char *reason, size_t reason_len)
{
	return jwk_parse(jwk, what, alg_rule, xy, NULL, reason, reason_len);
}
