#define _GNU_SOURCE
/* Unit tests for the KBS 0.4.0 messages: build/parse round trips on both sides, the REPORTDATA
 * vector of docs/protocol.md, and refusal of malformed, mistyped, duplicate-key and oversized
 * bodies. */
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

#include "jwk.h"
#include "kbs_msg.h"
#include "log.h"
#include "protocol-vectors.h"

#define S(x) x, strlen(x)

static void expect_reason(int r, int want, const char *reason, const char *want_reason)
{
	if (r != want || !strstr(reason, want_reason))
		print_error("gave %d '%s', expected %d '%s'\n", r, reason, want, want_reason);
	assert_int_equal(r, want);
	assert_non_null(strstr(reason, want_reason));
}

static void test_auth_request(void **state)
{
	static const struct {
		const char *body;
		int err;
		const char *why;
	} refused[] = {
		{"{\"version\":\"0.3.0\",\"tee\":\"tdx\"}", -EPROTONOSUPPORT, "0.3.0"},
		{"{\"version\":\"0.4.0 \",\"tee\":\"tdx\"}", -EPROTONOSUPPORT, "version"},
		{"{\"version\":\"0.4.0\",\"tee\":\"snp\"}", -EOPNOTSUPP, "snp"},
		{"{\"version\":0.4,\"tee\":\"tdx\"}", -EINVAL, "'version' is not a string"},
		{"{\"tee\":\"tdx\"}", -EINVAL, "'version' is missing"},
		{"{\"version\":\"0.4.0\",\"tee\":\"tdx\",\"version\":\"0.4.0\"}", -EINVAL,
		 "duplicate"},
		{"{\"version\":\"0.4.0\",\"tee\":\"tdx\",\"x\":1}", -EINVAL,
		 "unexpected member 'x'"},
		{"{\"version\":\"0.4.0\",\"tee\":\"tdx\",}", -EINVAL, "malformed"},
		{"{\"version\":\"0.4.0\",\"tee\":\"tdx\"} {}", -EINVAL, "offset"},
		{"[\"0.4.0\"]", -EINVAL, "not a JSON object"},
		{"{\"version\":\"0.4.0\",\"tee\":\"tdx\"", -EINVAL, "malformed"},
		{"", -EINVAL, "empty"},
		{"{\"version\":\"0.4.0\",\"tee\":\"t\xffx\"}", -EINVAL, "malformed"},
	};
	char *body = NULL, reason[256];

	(void)state;
	assert_int_equal(kbs_auth_request_build(&body), 0);
	assert_string_equal(body, "{\"version\":\"0.4.0\",\"tee\":\"tdx\",\"extra-params\":{}}");
	assert_int_equal(kbs_auth_request_parse(S(body), reason, sizeof(reason)), 0);
	free(body);

	/* What guest-components sends is accepted; extra-params may be anything or absent. */
	assert_int_equal(kbs_auth_request_parse(S("{\"version\":\"0.4.0\",\"tee\":\"tdx\",\"extra-"
						  "params\":{\"supported-hash-algorithms\":["
						  "\"sha384\"]}}"),
						reason, sizeof(reason)),
			 0);
	assert_int_equal(kbs_auth_request_parse(S("{\"version\":\"0.4.0\",\"tee\":\"tdx\"}"),
						reason, sizeof(reason)),
			 0);
	assert_int_equal(kbs_auth_request_parse(S(" {\"tee\":\"tdx\",\"version\":\"0.4.0\","
						  "\"extra-params\":\"\"}\n"),
						reason, sizeof(reason)),
			 0);

	for (size_t i = 0; i < ARRAY_SIZE(refused); i++)
		expect_reason(kbs_auth_request_parse(S(refused[i].body), reason, sizeof(reason)),
			      refused[i].err, reason, refused[i].why);
	/* Nesting is bounded. */
	{
		char deep[200];
		int i, n = 0;

		n += sprintf(deep + n, "{\"version\":\"0.4.0\",\"tee\":\"tdx\",\"extra-params\":");
		for (i = 0; i < 40; i++)
			deep[n++] = '[';
		for (i = 0; i < 40; i++)
			deep[n++] = ']';
		deep[n++] = '}';
		deep[n] = '\0';
		expect_reason(kbs_auth_request_parse(S(deep), reason, sizeof(reason)), -EINVAL,
			      reason, "malformed");
	}
	{
		size_t big = KBS_MSG_MAX_LEN + 1;
		char *text = malloc(big);

		memset(text, ' ', big);
		expect_reason(kbs_auth_request_parse(text, big, reason, sizeof(reason)), -EMSGSIZE,
			      reason, "at most");
		free(text);
	}
}

static void test_challenge(void **state)
{
	struct kbs_challenge c;
	char *body = NULL, reason[256], longnonce[KBS_NONCE_MAX_LEN + 40];

	(void)state;
	assert_int_equal(kbs_challenge_build("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", &body),
			 0);
	assert_string_equal(body, "{\"nonce\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\","
				  "\"extra-params\":\"\"}");
	assert_int_equal(kbs_challenge_parse(S(body), &c, reason, sizeof(reason)), 0);
	assert_string_equal(c.nonce, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
	free(body);

	assert_int_equal(kbs_challenge_parse(S("{\"nonce\":\"n\",\"extra-params\":{}}"), &c, reason,
					     sizeof(reason)),
			 0);
	assert_int_equal(kbs_challenge_parse(S("{\"nonce\":\"n\",\"extra-params\":{\"selected-hash-"
					       "algorithm\":\"Sha384\"}}"),
					     &c, reason, sizeof(reason)),
			 0);
	assert_int_equal(kbs_challenge_parse(S("{\"nonce\":\"n\"}"), &c, reason, sizeof(reason)),
			 0);
	expect_reason(kbs_challenge_parse(S("{\"nonce\":\"n\",\"extra-params\":{\"selected-hash-"
					    "algorithm\":\"sha512\"}}"),
					  &c, reason, sizeof(reason)),
		      -EOPNOTSUPP, reason, "sha512");
	expect_reason(kbs_challenge_parse(S("{\"nonce\":\"n\",\"extra-params\":7}"), &c, reason,
					  sizeof(reason)),
		      -EINVAL, reason, "extra-params");
	expect_reason(kbs_challenge_parse(S("{\"extra-params\":\"\"}"), &c, reason, sizeof(reason)),
		      -EINVAL, reason, "'nonce' is missing");
	expect_reason(kbs_challenge_parse(S("{\"nonce\":42}"), &c, reason, sizeof(reason)), -EINVAL,
		      reason, "'nonce' is not a string");
	expect_reason(kbs_challenge_parse(S("{\"nonce\":\"\"}"), &c, reason, sizeof(reason)),
		      -EINVAL, reason, "empty");
	expect_reason(
		kbs_challenge_parse(S("{\"nonce\":\"a\\u0000b\"}"), &c, reason, sizeof(reason)),
		-EINVAL, reason, "NUL");
	expect_reason(kbs_challenge_parse(S("{\"nonce\":\"a\",\"nonce\":\"b\"}"), &c, reason,
					  sizeof(reason)),
		      -EINVAL, reason, "duplicate");
	memset(longnonce, 0, sizeof(longnonce));
	strcpy(longnonce, "{\"nonce\":\"");
	memset(longnonce + strlen(longnonce), 'a', KBS_NONCE_MAX_LEN + 1);
	strcat(longnonce, "\"}");
	expect_reason(kbs_challenge_parse(S(longnonce), &c, reason, sizeof(reason)), -EINVAL,
		      reason, "at most");
	assert_int_equal(kbs_challenge_build("", &body), -EINVAL);
}

static void test_attest_request_round_trip_and_report_data(void **state)
{
	struct json_object *vec = vectors_load();
	struct kbs_attest_request req;
	uint8_t quote[1000], log[77], want[64], rd[64];
	struct json_object *jwk = NULL;
	const char *nonce;
	char *body = NULL, reason[256];
	uint8_t xy[2 * JWK_P256_COORD_LEN];
	EVP_PKEY *tee;
	size_t i;

	(void)state;
	assert_non_null(vec);
	tee = vec_tee_key(vec);
	nonce = vec_str(vec, "report_data", "nonce");
	assert_non_null(tee);
	assert_int_equal(vec_hex(vec, "report_data", "report_data_hex", want, 64), 0);
	for (i = 0; i < sizeof(quote); i++)
		quote[i] = (uint8_t)(i * 7);
	for (i = 0; i < sizeof(log); i++)
		log[i] = (uint8_t)(255 - i);

	/* Agent side: REPORTDATA from the key it is about to send. */
	assert_int_equal(jwk_from_public_key(tee, 1, &jwk), 0);
	assert_int_equal(kbs_report_data(nonce, jwk, rd), 0);
	assert_memory_equal(rd, want, 64);
	json_object_put(jwk);

	assert_int_equal(kbs_attest_request_build(nonce, tee, quote, sizeof(quote), log,
						  sizeof(log), NULL, &body),
			 0);
	/* Server side: the JWK as received gives the same REPORTDATA. */
	assert_int_equal(kbs_attest_request_parse(S(body), &req, reason, sizeof(reason)), 0);
	assert_string_equal(req.nonce, nonce);
	assert_int_equal(req.quote_len, sizeof(quote));
	assert_memory_equal(req.quote, quote, sizeof(quote));
	assert_int_equal(req.cc_eventlog_len, sizeof(log));
	assert_memory_equal(req.cc_eventlog, log, sizeof(log));
	assert_int_equal(jwk_p256_coordinates(tee, xy), 0);
	assert_memory_equal(req.tee_xy, xy, sizeof(xy));
	assert_int_equal(kbs_report_data(req.nonce, req.tee_pubkey_jwk, rd), 0);
	assert_memory_equal(rd, want, 64);
	/* A different nonce gives a different REPORTDATA. */
	assert_int_equal(kbs_report_data("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh4=",
					 req.tee_pubkey_jwk, rd),
			 0);
	assert_memory_not_equal(rd, want, 48);
	kbs_attest_request_done(&req);
	free(body);

	/* No event log: "cc_eventlog": null. */
	assert_int_equal(kbs_attest_request_build(nonce, tee, quote, 10, NULL, 0, NULL, &body), 0);
	assert_non_null(strstr(body, "\"cc_eventlog\":null"));
	assert_non_null(strstr(body, "\"additional_evidence\":\"\""));
	assert_int_equal(kbs_attest_request_parse(S(body), &req, reason, sizeof(reason)), 0);
	assert_null(req.cc_eventlog);
	assert_int_equal(req.quote_len, 10);
	kbs_attest_request_done(&req);
	free(body);
	EVP_PKEY_free(tee);
	json_object_put(vec);
}

/* An attest request with the given pieces (each a JSON fragment). */
static char *attest_body(const char *nonce, const char *jwk, const char *quote, const char *log,
			 const char *additional, const char *extra)
{
	char *s = NULL;

	assert_true(asprintf(&s,
			     "{\"runtime-data\":{\"nonce\":%s,\"tee-pubkey\":%s},\"tee-evidence\":{"
			     "\"primary_evidence\":{\"quote\":%s,\"cc_eventlog\":%s},"
			     "\"additional_evidence\":%s}%s}",
			     nonce, jwk, quote, log, additional, extra) > 0);
	return s;
}

static void test_attest_request_refusals(void **state)
{
	static const char jwk[] =
		"{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"ECDH-ES+A256KW\",\"x\":"
		"\"hHDvdQzppd2LjFmIjT7VzE2kJDnzw38hLeKQRN1mcLI\",\"y\":"
		"\"U5jzZjwAaS0XAqANhOTqvnAXdqxtoCUp86I_hwlkXyE\"}";
	static const char bad_jwk[] = "{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"RSA1_5\",\"x\":"
				      "\"hHDvdQzppd2LjFmIjT7VzE2kJDnzw38hLeKQRN1mcLI\",\"y\":"
				      "\"U5jzZjwAaS0XAqANhOTqvnAXdqxtoCUp86I_hwlkXyE\"}";
	/* y + 1: off the curve. The server keeps only the coordinates, so the check must happen
	 * here, at attest. */
	static const char off_curve_jwk[] =
		"{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"ECDH-ES+A256KW\",\"x\":"
		"\"hHDvdQzppd2LjFmIjT7VzE2kJDnzw38hLeKQRN1mcLI\",\"y\":"
		"\"U5jzZjwAaS0XAqANhOTqvnAXdqxtoCUp86I_hwlkXyI\"}";
	static const struct {
		const char *nonce, *jwk, *quote, *log, *additional, *extra;
		int r;
		const char *why;
	} cases[] = {
		{"\"n\"", jwk, "\"AQID\"", "null", "\"\"", "", 0, ""},
		{"\"n\"", off_curve_jwk, "\"AQID\"", "null", "\"\"", "", -EINVAL,
		 "tee-pubkey: (x, y) is not a point on P-256"},
		{"\"n\"", jwk, "\"AQID\"", "\"BAUG\"", "\"\"", ",\"init-data\":null", 0, ""},
		{"\"n\"", jwk, "\"AQID\"", "null", "\"\"", ",\"init-data\":{\"format\":\"toml\"}",
		 -EOPNOTSUPP, "init-data"},
		{"\"n\"", jwk, "\"AQID\"", "null", "\"{\\\"tdx\\\":{}}\"", "", -EOPNOTSUPP,
		 "additional_evidence"},
		{"\"n\"", jwk, "\"AQID\"", "null", "{}", "", -EINVAL,
		 "'additional_evidence' is not"},
		{"\"\"", jwk, "\"AQID\"", "null", "\"\"", "", -EINVAL, "'nonce' is empty"},
		{"7", jwk, "\"AQID\"", "null", "\"\"", "", -EINVAL, "'nonce' is not a string"},
		{"\"n\"", bad_jwk, "\"AQID\"", "null", "\"\"", "", -EINVAL, "ECDH-ES+A256KW"},
		{"\"n\"", "\"jwk\"", "\"AQID\"", "null", "\"\"", "", -EINVAL, "not a JSON object"},
		{"\"n\"", jwk, "\"AQI\"", "null", "\"\"", "", -EINVAL,
		 "'quote' is not standard base64"},
		{"\"n\"", jwk, "\"AQ-D\"", "null", "\"\"", "", -EINVAL, "'quote' is not standard"},
		{"\"n\"", jwk, "\"\"", "null", "\"\"", "", -EINVAL, "'quote' is empty"},
		{"\"n\"", jwk, "null", "null", "\"\"", "", -EINVAL, "'quote' is not a string"},
		{"\"n\"", jwk, "\"AQID\"", "7", "\"\"", "", -EINVAL,
		 "'cc_eventlog' is not a string"},
		{"\"n\"", jwk, "\"AQID\"", "\"%%%\"", "\"\"", "", -EINVAL, "'cc_eventlog' is not"},
		{"\"n\"", jwk, "\"AQID\"", "null", "\"\"", ",\"tee\":\"tdx\"", -EINVAL,
		 "unexpected member 'tee'"},
		{"\"n\"", jwk, "\"AQID\"", "null", "\"\"", ",\"runtime-data\":{}", -EINVAL,
		 "duplicate"},
	};
	struct kbs_attest_request req;
	char reason[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *body = attest_body(cases[i].nonce, cases[i].jwk, cases[i].quote, cases[i].log,
					 cases[i].additional, cases[i].extra);
		int r;

		reason[0] = '\0';
		r = kbs_attest_request_parse(S(body), &req, reason, sizeof(reason));
		if (r != cases[i].r || !strstr(reason, cases[i].why))
			print_error("case %zu: %s\n gave %d '%s'\n", i, body, r, reason);
		assert_int_equal(r, cases[i].r);
		assert_non_null(strstr(reason, cases[i].why));
		if (r == 0)
			kbs_attest_request_done(&req);
		else
			assert_null(req.quote); /* nothing left to free on failure */
		free(body);
	}
	/* Missing pieces. */
	expect_reason(
		kbs_attest_request_parse(S("{\"tee-evidence\":{}}"), &req, reason, sizeof(reason)),
		-EINVAL, reason, "'runtime-data' is missing");
	expect_reason(
		kbs_attest_request_parse(S("{\"runtime-data\":{\"nonce\":\"n\",\"tee-pubkey\":"
					   "{}}}"),
					 &req, reason, sizeof(reason)),
		-EINVAL, reason, "'kty' is missing");
	{
		char *body = NULL;

		assert_true(asprintf(&body,
				     "{\"runtime-data\":{\"nonce\":\"n\",\"tee-pubkey\":%s}}",
				     jwk) > 0);
		expect_reason(kbs_attest_request_parse(S(body), &req, reason, sizeof(reason)),
			      -EINVAL, reason, "'tee-evidence' is missing");
		free(body);
	}
	/* A quote over the size limit is refused before it is decoded. */
	{
		size_t n = (KBS_QUOTE_MAX_LEN + 3) / 3 * 4 + 4;
		char *q = malloc(n + 3), *body;

		memset(q + 1, 'A', n);
		q[0] = '"';
		q[n + 1] = '"';
		q[n + 2] = '\0';
		body = attest_body("\"n\"", jwk, q, "null", "\"\"", "");
		expect_reason(kbs_attest_request_parse(S(body), &req, reason, sizeof(reason)),
			      -EINVAL, reason, "at most");
		free(body);
		free(q);
	}
}

static void test_attest_response(void **state)
{
	char *body = NULL, *token = NULL, reason[256];

	(void)state;
	assert_int_equal(kbs_attest_response_build("eyJ.a.b", &body), 0);
	assert_string_equal(body, "{\"token\":\"eyJ.a.b\"}");
	assert_int_equal(kbs_attest_response_parse(S(body), &token, reason, sizeof(reason)), 0);
	assert_string_equal(token, "eyJ.a.b");
	free(token);
	free(body);
	expect_reason(
		kbs_attest_response_parse(S("{\"token\":null}"), &token, reason, sizeof(reason)),
		-EINVAL, reason, "'token' is not a string");
	expect_reason(kbs_attest_response_parse(S("{}"), &token, reason, sizeof(reason)), -EINVAL,
		      reason, "'token' is missing");
	expect_reason(kbs_attest_response_parse(S("{\"token\":\"a\",\"token\":\"b\"}"), &token,
						reason, sizeof(reason)),
		      -EINVAL, reason, "duplicate");
}

static void test_errors(void **state)
{
	struct kbs_error e;
	char *body = NULL, reason[256], detail[3000];

	(void)state;
	assert_int_equal(kbs_error_http_status(KBS_ERR_ATTESTATION), 401);
	assert_int_equal(kbs_error_http_status(KBS_ERR_POLICY_DENY), 401);
	assert_int_equal(kbs_error_http_status(KBS_ERR_INVALID_REQUEST_PATH), 404);
	assert_int_equal(kbs_error_http_status(KBS_ERR_PLUGIN_NOT_FOUND), 404);
	assert_string_equal(kbs_error_type_name(KBS_ERR_TOKEN_NOT_FOUND), "TokenNotFound");

	assert_int_equal(kbs_error_build(KBS_ERR_POLICY_DENY, "MRTD mismatch", &body), 0);
	assert_string_equal(body, "{\"type\":\"https://github.com/confidential-containers/kbs/"
				  "errors/PolicyDeny\",\"detail\":\"MRTD mismatch\"}");
	assert_int_equal(kbs_error_parse(S(body), &e, reason, sizeof(reason)), 0);
	assert_string_equal(e.type, "PolicyDeny");
	assert_string_equal(e.detail, "MRTD mismatch");
	free(body);

	/* Long details are cut to KBS_DETAIL_MAX_LEN on both sides, never refused. */
	memset(detail, 'd', sizeof(detail) - 1);
	detail[sizeof(detail) - 1] = '\0';
	assert_int_equal(kbs_error_build(KBS_ERR_ATTESTATION, detail, &body), 0);
	assert_int_equal(kbs_error_parse(S(body), &e, reason, sizeof(reason)), 0);
	assert_int_equal(strlen(e.detail), KBS_DETAIL_MAX_LEN);
	free(body);

	assert_int_equal(kbs_error_parse(S("{\"type\":\"urn:other\",\"detail\":\"x\"}"), &e, reason,
					 sizeof(reason)),
			 0);
	assert_string_equal(e.type, "");
	expect_reason(kbs_error_parse(S("{\"type\":\"x\"}"), &e, reason, sizeof(reason)), -EINVAL,
		      reason, "'detail' is missing");
	expect_reason(kbs_error_parse(S("not json"), &e, reason, sizeof(reason)), -EINVAL, reason,
		      "error body");
}

UNIT_TEST_MAIN(unit_test_quiet, NULL, cmocka_unit_test(test_auth_request),
	       cmocka_unit_test(test_challenge),
	       cmocka_unit_test(test_attest_request_round_trip_and_report_data),
	       cmocka_unit_test(test_attest_request_refusals),
	       cmocka_unit_test(test_attest_response), cmocka_unit_test(test_errors))
