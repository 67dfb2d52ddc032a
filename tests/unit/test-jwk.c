/* Unit tests for P-256 JWKs: export of the vector key, import round trip, strict refusals. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit-test.h"

#include "json_strict.h"
#include "jwk.h"
#include "log.h"
#include "protocol-vectors.h"

static void test_export_matches_vector(void **state)
{
	struct json_object *vec = vectors_load(), *jwk = NULL, *want;
	EVP_PKEY *key;

	(void)state;
	assert_non_null(vec);
	key = vec_tee_key(vec);
	assert_non_null(key);
	want = vec_obj(vec, "report_data", "tee_pubkey");
	assert_int_equal(jwk_from_public_key(key, 1, &jwk), 0);
	/* Same members, same order as guest-components sends them. */
	assert_string_equal(json_object_to_json_string_ext(jwk, JSON_C_TO_STRING_PLAIN),
			    json_object_to_json_string_ext(want, JSON_C_TO_STRING_PLAIN));
	json_object_put(jwk);
	assert_int_equal(jwk_from_public_key(key, 0, &jwk), 0);
	assert_false(json_object_object_get_ex(jwk, "alg", NULL));
	assert_string_equal(json_object_get_string(json_object_object_get(jwk, "crv")), "P-256");
	json_object_put(jwk);
	EVP_PKEY_free(key);
	json_object_put(vec);
}

static void test_import_round_trip(void **state)
{
	struct json_object *jwk = NULL, *jwk2 = NULL;
	EVP_PKEY *key, *back = NULL;
	char reason[256];

	(void)state;
	assert_int_equal(jwk_generate_p256(&key), 0);
	assert_int_equal(jwk_from_public_key(key, 1, &jwk), 0);
	assert_int_equal(jwk_to_public_key(jwk, "tee-pubkey", JWK_ALG_REQUIRED, &back, reason,
					   sizeof(reason)),
			 0);
	assert_int_equal(EVP_PKEY_eq(key, back), 1);
	assert_int_equal(jwk_from_public_key(back, 1, &jwk2), 0);
	assert_string_equal(json_object_to_json_string(jwk), json_object_to_json_string(jwk2));
	EVP_PKEY_free(back);
	back = NULL;
	/* The same key with the wrong alg rule is refused both ways. */
	assert_int_equal(
		jwk_to_public_key(jwk, "epk", JWK_ALG_ABSENT, &back, reason, sizeof(reason)),
		-EINVAL);
	assert_non_null(strstr(reason, "unexpected member 'alg'"));
	json_object_object_del(jwk, "alg");
	assert_int_equal(
		jwk_to_public_key(jwk, "epk", JWK_ALG_ABSENT, &back, reason, sizeof(reason)), 0);
	EVP_PKEY_free(back);
	back = NULL;
	assert_int_equal(jwk_to_public_key(jwk, "tee-pubkey", JWK_ALG_REQUIRED, &back, reason,
					   sizeof(reason)),
			 -EINVAL);
	assert_non_null(strstr(reason, "'alg' is missing"));
	assert_null(back);
	json_object_put(jwk);
	json_object_put(jwk2);
	EVP_PKEY_free(key);
}

/* Parses text as a JWK with alg required; returns the result and the reason. */
static int import(const char *text, char *reason, size_t reason_len)
{
	struct json_object *o = NULL;
	EVP_PKEY *key = NULL;
	int r;

	reason[0] = '\0';
	if (json_strict_parse(text, strlen(text), 4096, &o, NULL, 0) < 0)
		return -1000;
	r = jwk_to_public_key(o, "tee-pubkey", JWK_ALG_REQUIRED, &key, reason, reason_len);
	if (r == 0)
		assert_non_null(key);
	else
		assert_null(key);
	{
		/* The coordinates-only reading (keyd's attest) checks the point its own way: it
		 * must agree, with the same reason. */
		uint8_t xy[2 * JWK_P256_COORD_LEN], want[2 * JWK_P256_COORD_LEN];
		char why[256] = "";

		assert_int_equal(jwk_to_p256_coordinates(o, "tee-pubkey", JWK_ALG_REQUIRED, xy, why,
							 sizeof(why)),
				 r);
		assert_string_equal(why, reason);
		if (r == 0) {
			assert_int_equal(jwk_p256_coordinates(key, want), 0);
			assert_memory_equal(xy, want, sizeof(xy));
		}
	}
	EVP_PKEY_free(key);
	json_object_put(o);
	return r;
}

static void test_refusals(void **state)
{
	static const char x[] = "hHDvdQzppd2LjFmIjT7VzE2kJDnzw38hLeKQRN1mcLI";
	static const char y[] = "U5jzZjwAaS0XAqANhOTqvnAXdqxtoCUp86I_hwlkXyE";
	static const char y_off[] = "U5jzZjwAaS0XAqANhOTqvnAXdqxtoCUp86I_hwlkXyI"; /* y + 1 */
	static const struct {
		const char *kty, *crv, *alg, *x, *y, *extra, *why;
	} cases[] = {
		{"\"EC\"", "\"P-256\"", "\"ECDH-ES+A256KW\"", x, y, "", NULL}, /* the good one */
		{"\"RSA\"", "\"P-256\"", "\"ECDH-ES+A256KW\"", x, y, "", "only EC"},
		{"\"OKP\"", "\"P-256\"", "\"ECDH-ES+A256KW\"", x, y, "", "only EC"},
		{"\"EC\"", "\"P-384\"", "\"ECDH-ES+A256KW\"", x, y, "", "only P-256"},
		{"\"EC\"", "\"secp256k1\"", "\"ECDH-ES+A256KW\"", x, y, "", "only P-256"},
		{"\"EC\"", "\"P-256\"", "\"RSA1_5\"", x, y, "", "only ECDH-ES+A256KW"},
		{"\"EC\"", "\"P-256\"", "\"ECDH-ES\"", x, y, "", "only ECDH-ES+A256KW"},
		{"\"EC\"", "\"P-256\"", "1", x, y, "", "not a string"},
		{"\"EC\"", "\"P-256\"", "\"ECDH-ES+A256KW\"",
		 "hHDvdQzppd2LjFmIjT7VzE2kJDnzw38hLeKQRN1mc", y, "", "exactly 32 bytes"},
		{"\"EC\"", "\"P-256\"", "\"ECDH-ES+A256KW\"",
		 "AIRw73UM6aXdi4xZiI0-1cxNpCQ583N_IS3ikETdZnCy", y, "", "exactly 32 bytes"},
		{"\"EC\"", "\"P-256\"", "\"ECDH-ES+A256KW\"",
		 "hHDvdQzppd2LjFmIjT7VzE2kJDnzw38hLeKQRN1mcLI=", y, "", "exactly 32 bytes"},
		{"\"EC\"", "\"P-256\"", "\"ECDH-ES+A256KW\"",
		 "hHDvdQzppd2LjFmIjT7VzE2kJDnzw38hLeKQRN1mcL+", y, "", "exactly 32 bytes"},
		{"\"EC\"", "\"P-256\"", "\"ECDH-ES+A256KW\"", x, y_off, "", "P-256"},
		{"\"EC\"", "\"P-256\"", "\"ECDH-ES+A256KW\"",
		 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "", "P-256"},
		/* (0, sqrt(b)) is on the curve; (p, sqrt(b)) names it with x unreduced, which a
		 * decoder without the range check would take for it. */
		{"\"EC\"", "\"P-256\"", "\"ECDH-ES+A256KW\"",
		 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		 "ZkhceA4vg9ckM71dhKBrtlQcKvMdrocXKL-FahdPk_Q", "", NULL},
		{"\"EC\"", "\"P-256\"", "\"ECDH-ES+A256KW\"",
		 "_____wAAAAEAAAAAAAAAAAAAAAD_______________8",
		 "ZkhceA4vg9ckM71dhKBrtlQcKvMdrocXKL-FahdPk_Q", "", "P-256"},
		{"\"EC\"", "\"P-256\"", "\"ECDH-ES+A256KW\"", x, y, ",\"d\":\"AAAA\"",
		 "unexpected member 'd'"},
		{"\"EC\"", "\"P-256\"", "\"ECDH-ES+A256KW\"", x, y, ",\"use\":\"enc\"",
		 "unexpected member 'use'"},
	};
	char text[512], reason[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r;

		snprintf(text, sizeof(text),
			 "{\"kty\":%s,\"crv\":%s,\"alg\":%s,\"x\":\"%s\",\"y\":\"%s\"%s}",
			 cases[i].kty, cases[i].crv, cases[i].alg, cases[i].x, cases[i].y,
			 cases[i].extra);
		r = import(text, reason, sizeof(reason));
		if (!cases[i].why) {
			assert_int_equal(r, 0);
			continue;
		}
		if (r != -EINVAL || !strstr(reason, cases[i].why))
			print_error("case %zu: %s gave %d '%s'\n", i, text, r, reason);
		assert_int_equal(r, -EINVAL);
		assert_non_null(strstr(reason, cases[i].why));
	}
	assert_int_equal(
		import("{\"crv\":\"P-256\",\"alg\":\"ECDH-ES+A256KW\",\"x\":\"a\",\"y\":\"b\"}",
		       reason, sizeof(reason)),
		-EINVAL);
	assert_non_null(strstr(reason, "'kty' is missing"));
	assert_int_equal(import("[1]", reason, sizeof(reason)), -EINVAL);
	assert_non_null(strstr(reason, "not a JSON object"));
	assert_int_equal(import("\"EC\"", reason, sizeof(reason)), -EINVAL);
}

UNIT_TEST_MAIN(unit_test_quiet, NULL, cmocka_unit_test(test_export_matches_vector),
	       cmocka_unit_test(test_import_round_trip), cmocka_unit_test(test_refusals))
