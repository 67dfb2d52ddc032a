/* Unit tests for the flattened JWE (ECDH-ES+A256KW, A256GCM): the vector of docs/protocol.md
 * decrypts and re-encrypts byte for byte; every malformed field is refused with its reason. */
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

#include "cleanup.h"

#include "jwe.h"
#include "jwk.h"
#include "log.h"
#include "protocol-vectors.h"
#include "secmem.h"

struct fixture {
	struct json_object *vec;
	EVP_PKEY *tee;	   /* recipient key pair */
	const char *jwe;   /* vector JWE text */
	const char *epk_x; /* base64url of the vector's ephemeral x, y */
	const char *epk_y;
	uint8_t pt[32];
};

static int setup(void **state)
{
	struct fixture *f;
	struct json_object *hdr;
	const char *h;

	unit_test_quiet(state);
	f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	f->vec = vectors_load();
	if (!f->vec)
		return -1;
	f->tee = vec_tee_key(f->vec);
	f->jwe = vec_str(f->vec, "jwe", "jwe");
	h = vec_str(f->vec, "jwe", "protected_header");
	if (!f->tee || !f->jwe || !h || vec_hex(f->vec, "jwe", "plaintext_hex", f->pt, 32) < 0)
		return -1;
	/* Kept alive by f->vec: re-used to build variants of the protected header. */
	hdr = json_tokener_parse(h);
	json_object_object_add(f->vec, "_header", hdr);
	f->epk_x = json_object_get_string(
		json_object_object_get(json_object_object_get(hdr, "epk"), "x"));
	f->epk_y = json_object_get_string(
		json_object_object_get(json_object_object_get(hdr, "epk"), "y"));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	EVP_PKEY_free(f->tee);
	json_object_put(f->vec);
	free(f);
	return 0;
}

/* Decrypts text with the vector's key; returns the result code and the reason. */
static int try_decrypt(struct fixture *f, const char *text, char *reason, size_t reason_len)
{
	uint8_t *pt = NULL;
	size_t n = 0;
	int r;

	reason[0] = '\0';
	r = jwe_decrypt(f->tee, text, strlen(text), &pt, &n, reason, reason_len);
	if (r == 0) {
		assert_non_null(pt);
		secmem_free(pt);
	} else {
		assert_null(pt);
	}
	return r;
}

/* The vector JWE with member key replaced by a string value (NULL: removed). */
static char *jwe_with(struct fixture *f, const char *key, const char *value)
{
	struct json_object *o = json_tokener_parse(f->jwe);
	char *text;

	assert_non_null(o);
	if (value)
		json_object_object_add(o, key, json_object_new_string(value));
	else
		json_object_object_del(o, key);
	text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return text;
}

/* The vector JWE with its protected header replaced by header_json (base64url-encoded here). */
static char *jwe_with_header(struct fixture *f, const char *header_json)
{
	char *p = b64_encode(B64_URL, (const uint8_t *)header_json, strlen(header_json));
	char *text = jwe_with(f, "protected", p);

	free(p);
	return text;
}

static void expect_refused(struct fixture *f, char *text, int want_r, const char *want_reason)
{
	char reason[256];
	int r = try_decrypt(f, text, reason, sizeof(reason));

	if (r != want_r || !strstr(reason, want_reason))
		print_error("JWE %s\n  gave %d '%s', expected %d '%s'\n", text, r, reason, want_r,
			    want_reason);
	assert_int_equal(r, want_r);
	assert_non_null(strstr(reason, want_reason));
	free(text);
}

static void test_vector_decrypts(void **state)
{
	struct fixture *f = *state;
	uint8_t *pt = NULL;
	size_t n = 0;
	char reason[256];

	assert_int_equal(
		jwe_decrypt(f->tee, f->jwe, strlen(f->jwe), &pt, &n, reason, sizeof(reason)), 0);
	assert_int_equal(n, 32);
	assert_memory_equal(pt, f->pt, 32);
	assert_int_equal(secmem_size(pt), 32); /* the plaintext lives in secure memory */
	secmem_free(pt);
}

static void test_vector_encrypts_byte_for_byte(void **state)
{
	struct fixture *f = *state;
	uint8_t d[32], x[32], y[32], cek[32], iv[12];
	EVP_PKEY *eph;
	char *out = NULL;
	size_t len = 0;

	assert_int_equal(vec_hex(f->vec, "jwe", "ephemeral_private_hex", d, 32), 0);
	assert_int_equal(vec_hex(f->vec, "jwe", "ephemeral_x_hex", x, 32), 0);
	assert_int_equal(vec_hex(f->vec, "jwe", "ephemeral_y_hex", y, 32), 0);
	assert_int_equal(vec_hex(f->vec, "jwe", "cek_hex", cek, 32), 0);
	assert_int_equal(vec_hex(f->vec, "jwe", "iv_hex", iv, 12), 0);
	eph = vec_p256_key(d, x, y);
	assert_non_null(eph);
	assert_int_equal(jwe_encrypt_fixed_for_test(f->tee, eph, cek, iv, f->pt, 32, &out, &len),
			 0);
	assert_string_equal(out, f->jwe);
	assert_int_equal(len, strlen(f->jwe));
	free(out);
	EVP_PKEY_free(eph);
}

static void test_round_trip_and_fresh_randomness(void **state)
{
	struct fixture *f = *state;
	static const uint8_t msg[] = "a disk secret of some length";
	char *a = NULL, *b = NULL, reason[256];
	uint8_t *pt = NULL;
	size_t n = 0, alen = 0, blen = 0, len;
	EVP_PKEY *other;

	assert_int_equal(jwe_encrypt(f->tee, msg, sizeof(msg), &a, &alen), 0);
	assert_int_equal(jwe_encrypt(f->tee, msg, sizeof(msg), &b, &blen), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(jwe_decrypt(f->tee, a, alen, &pt, &n, reason, sizeof(reason)), 0);
	assert_int_equal(n, sizeof(msg));
	assert_memory_equal(pt, msg, n);
	secmem_free(pt);
	pt = NULL;

	/* Another key cannot decrypt it. */
	assert_int_equal(jwk_generate_p256(&other), 0);
	assert_int_equal(jwe_decrypt(other, b, blen, &pt, &n, reason, sizeof(reason)), -EBADMSG);
	assert_null(pt);
	EVP_PKEY_free(other);

	/* Empty plaintext and the largest accepted one. */
	free(a);
	assert_int_equal(jwe_encrypt(f->tee, msg, 0, &a, &alen), 0);
	assert_int_equal(jwe_decrypt(f->tee, a, alen, &pt, &n, reason, sizeof(reason)), 0);
	assert_int_equal(n, 0);
	secmem_free(pt);
	free(a);
	len = JWE_MAX_PLAINTEXT_LEN;
	{
		uint8_t *big = calloc(1, len + 1);

		assert_int_equal(jwe_encrypt(f->tee, big, len, &a, &alen), 0);
		assert_int_equal(jwe_decrypt(f->tee, a, alen, &pt, &n, reason, sizeof(reason)), 0);
		assert_int_equal(n, len);
		secmem_free(pt);
		free(a);
		assert_int_equal(jwe_encrypt(f->tee, big, len + 1, &a, &alen), -EMSGSIZE);
		free(big);
	}
	free(b);
}

/* A protected header: alg, enc, an extra member (or ""), and the fixture's epk on curve crv. */
static const char *header_json(const struct fixture *f, char *buf, size_t len, const char *alg,
			       const char *enc, const char *extra, const char *crv)
{
	snprintf(buf, len,
		 "{\"alg\":\"%s\",\"enc\":\"%s\",%s%s\"epk\":{\"crv\":\"%s\",\"kty\":\"EC\","
		 "\"x\":\"%s\",\"y\":\"%s\"}}",
		 alg, enc, extra, *extra ? "," : "", crv, f->epk_x, f->epk_y);
	return buf;
}

/* header with "$X" and "$Y" replaced by the vector's epk coordinates, in buf. */
static const char *with_epk(const struct fixture *f, const char *header, char *buf, size_t len)
{
	size_t n = 0;

	for (const char *p = header; *p; p++) {
		const char *v = p[0] != '$'   ? NULL
				: p[1] == 'X' ? f->epk_x
				: p[1] == 'Y' ? f->epk_y
					      : NULL;
		size_t k = v ? strlen(v) : 1;

		assert_true(n + k < len);
		memcpy(buf + n, v ? v : p, k);
		n += k;
		p += v ? 1 : 0;
	}
	buf[n] = '\0';
	return buf;
}

static void test_refuses_algorithms(void **state)
{
	static const char *const algs[] = {"RSA1_5",  "RSA-OAEP-256",	"dir", "none", "A256KW",
					   "ECDH-ES", "ECDH-ES+A128KW", ""};
	static const char *const encs[] = {"A128GCM", "A256CBC-HS512", "A192GCM", "a256gcm"};
	struct fixture *f = *state;
	char hdr[512];
	size_t i;

	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		header_json(f, hdr, sizeof(hdr), algs[i], "A256GCM", "", "P-256");
		expect_refused(f, jwe_with_header(f, hdr), -EINVAL, "alg");
	}
	for (i = 0; i < sizeof(encs) / sizeof(encs[0]); i++) {
		header_json(f, hdr, sizeof(hdr), "ECDH-ES+A256KW", encs[i], "", "P-256");
		expect_refused(f, jwe_with_header(f, hdr), -EINVAL, "enc");
	}
	/* alg of the wrong type, and missing. */
	snprintf(hdr, sizeof(hdr), "{\"alg\":7,\"enc\":\"A256GCM\"}");
	expect_refused(f, jwe_with_header(f, hdr), -EINVAL, "'alg' is not a string");
	snprintf(hdr, sizeof(hdr), "{\"enc\":\"A256GCM\"}");
	expect_refused(f, jwe_with_header(f, hdr), -EINVAL, "'alg' is missing");
}

static void test_refuses_header_members(void **state)
{
	static const struct {
		const char *header, *why;
	} bad_epk[] = {
		{"{\"alg\":\"ECDH-ES+A256KW\",\"enc\":\"A256GCM\",\"epk\":{\"crv\":\"P-256\","
		 "\"kty\":\"EC\",\"x\":\"$X\",\"y\":\"$Y\",\"alg\":\"ECDH-ES+A256KW\"}}",
		 "unexpected member 'alg'"},
		/* (y, y) is not on the curve */
		{"{\"alg\":\"ECDH-ES+A256KW\",\"enc\":\"A256GCM\",\"epk\":{\"crv\":\"P-256\","
		 "\"kty\":\"EC\",\"x\":\"$Y\",\"y\":\"$Y\"}}",
		 "P-256"},
		{"{\"alg\":\"ECDH-ES+A256KW\",\"alg\":\"ECDH-ES+A256KW\",\"enc\":\"A256GCM\","
		 "\"epk\":{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"$X\",\"y\":\"$Y\"}}",
		 "protected header"},
	};
	static const char *const extra[] = {"\"zip\":\"DEF\"", "\"crit\":[\"exp\"]",
					    "\"apu\":\"QWxpY2U\"", "\"apv\":\"Qm9i\"",
					    "\"kid\":\"k\""};
	struct fixture *f = *state;
	char hdr[512];
	size_t i;

	for (i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		header_json(f, hdr, sizeof(hdr), "ECDH-ES+A256KW", "A256GCM", extra[i], "P-256");
		expect_refused(f, jwe_with_header(f, hdr), -EINVAL, "unexpected member");
	}
	expect_refused(f, jwe_with_header(f, "{\"alg\":\"ECDH-ES+A256KW\",\"enc\":\"A256GCM\"}"),
		       -EINVAL, "'epk' is missing");
	header_json(f, hdr, sizeof(hdr), "ECDH-ES+A256KW", "A256GCM", "", "P-384");
	expect_refused(f, jwe_with_header(f, hdr), -EINVAL, "P-256");
	for (i = 0; i < ARRAY_SIZE(bad_epk); i++)
		expect_refused(f,
			       jwe_with_header(f, with_epk(f, bad_epk[i].header, hdr, sizeof(hdr))),
			       -EINVAL, bad_epk[i].why);
	expect_refused(f, jwe_with_header(f, "not json"), -EINVAL, "protected header");
	expect_refused(f, jwe_with_header(f, "[1,2]"), -EINVAL, "not a JSON object");
	expect_refused(f, jwe_with(f, "protected", "eyJhbGciOi=="), -EINVAL, "base64url");
	expect_refused(f, jwe_with(f, "protected", ""), -EINVAL, "protected header");
}

static void test_refuses_lengths_and_encodings(void **state)
{
	static const struct {
		const char *key;
		size_t n;
	} bad_lengths[] = {
		{"encrypted_key", 39},
		{"encrypted_key", 41},
		{"encrypted_key", 0},
		{"iv", 11},
		{"iv", 16},
		{"tag", 15},
		{"tag", 17},
	};
	struct fixture *f = *state;
	uint8_t buf[64] = {0};

	for (size_t i = 0; i < ARRAY_SIZE(bad_lengths); i++) {
		char *s = b64_encode(B64_URL, buf, bad_lengths[i].n), why[32];

		snprintf(why, sizeof(why), "'%s'", bad_lengths[i].key);
		expect_refused(f, s ? jwe_with(f, bad_lengths[i].key, s) : NULL, -EINVAL, why);
		free(s);
	}
	expect_refused(f, jwe_with(f, "ciphertext", "ab+c"), -EINVAL, "'ciphertext'");
	expect_refused(f, jwe_with(f, "ciphertext", "abc="), -EINVAL, "'ciphertext'");
	expect_refused(f, jwe_with(f, "iv", "Udl2uN5evwNzsMFS\n"), -EINVAL, "'iv'");
	expect_refused(f, jwe_with(f, "tag", "0kUeoYl5bGAOhpqiL7LmKA=="), -EINVAL, "'tag'");
}

static void test_refuses_structure(void **state)
{
	static const char *const members[] = {"protected", "encrypted_key", "iv", "ciphertext",
					      "tag"};
	struct fixture *f = *state;
	char *text, *p, reason[256];
	size_t i;

	for (i = 0; i < sizeof(members) / sizeof(members[0]); i++)
		expect_refused(f, jwe_with(f, members[i], NULL), -EINVAL, "missing");
	expect_refused(f, jwe_with(f, "aad", "eHl6"), -EINVAL, "unexpected member 'aad'");
	expect_refused(f, jwe_with(f, "header", "x"), -EINVAL, "unexpected member 'header'");

	/* "iv" twice, the second one valid: json-c alone would silently keep it. */
	text = jwe_with(f, "iv", NULL);
	p = malloc(strlen(text) + 64);
	sprintf(p, "{\"iv\":\"AAAAAAAAAAAAAAAA\",%s", text + 1);
	free(text);
	text = malloc(strlen(p) + 64);
	sprintf(text, "%.*s,\"iv\":\"Udl2uN5evwNzsMFS\"}", (int)strlen(p) - 1, p);
	free(p);
	expect_refused(f, text, -EINVAL, "duplicate");

	/* A member of the wrong type. */
	text = strdup(f->jwe);
	p = strstr(text, "\"iv\":\"");
	memcpy(p, "\"iv\":12,\"x", 10); /* keeps the text valid JSON with a number */
	assert_int_equal(try_decrypt(f, text, reason, sizeof(reason)), -EINVAL);
	free(text);

	expect_refused(f, strdup("[]"), -EINVAL, "not a JSON object");
	expect_refused(f, strdup("{\"protected\":"), -EINVAL, "malformed JSON");
	text = strdup(f->jwe);
	text[strlen(text) / 2] = '\0';
	expect_refused(f, text, -EINVAL, "malformed JSON");
	text = malloc(strlen(f->jwe) + 8);
	sprintf(text, "%s x", f->jwe);
	expect_refused(f, text, -EINVAL, "offset"); /* json-c or our trailing-byte check */
	text = malloc(JWE_MAX_LEN + 2);
	memset(text, ' ', JWE_MAX_LEN + 1);
	text[JWE_MAX_LEN + 1] = '\0';
	expect_refused(f, text, -EMSGSIZE, "at most");
}

/* Flips one character of member key (keeping base64url valid and lengths intact). */
static char *jwe_tampered(struct fixture *f, const char *key)
{
	struct json_object *o = json_tokener_parse(f->jwe), *v;
	char *s, *text;

	assert_true(json_object_object_get_ex(o, key, &v));
	s = strdup(json_object_get_string(v));
	s[2] = s[2] == 'A' ? 'B' : 'A';
	json_object_object_add(o, key, json_object_new_string(s));
	text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	free(s);
	json_object_put(o);
	return text;
}

static void test_refuses_tampering(void **state)
{
	struct fixture *f = *state;
	char hdr[512];

	expect_refused(f, jwe_tampered(f, "ciphertext"), -EBADMSG, "tag check failed");
	expect_refused(f, jwe_tampered(f, "tag"), -EBADMSG, "tag check failed");
	expect_refused(f, jwe_tampered(f, "iv"), -EBADMSG, "tag check failed");
	expect_refused(f, jwe_tampered(f, "encrypted_key"), -EBADMSG, "unwrap");
	/* Same header meaning, different bytes: the AAD no longer matches. */
	with_epk(f,
		 "{\"enc\":\"A256GCM\",\"alg\":\"ECDH-ES+A256KW\",\"epk\":{\"crv\":\"P-256\","
		 "\"kty\":\"EC\",\"x\":\"$X\",\"y\":\"$Y\"}}",
		 hdr, sizeof(hdr));
	expect_refused(f, jwe_with_header(f, hdr), -EBADMSG, "tag check failed");
}

UNIT_TEST_MAIN(setup, teardown, cmocka_unit_test(test_vector_decrypts),
	       cmocka_unit_test(test_vector_encrypts_byte_for_byte),
	       cmocka_unit_test(test_round_trip_and_fresh_randomness),
	       cmocka_unit_test(test_refuses_algorithms),
	       cmocka_unit_test(test_refuses_header_members),
	       cmocka_unit_test(test_refuses_lengths_and_encodings),
	       cmocka_unit_test(test_refuses_structure), cmocka_unit_test(test_refuses_tampering))
