/* Unit tests for the tdx-unlock LUKS2 token: strict parsing, formatting, resource paths. */
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

#include "agent/luks_token.h"

#define SALT_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static const char good[] = "{\"type\":\"tdx-unlock\",\"keyslots\":[\"3\"],"
			   "\"resource\":\"default/disk/root\",\"salt\":\"" SALT_B64 "\","
			   "\"version\":1}";

static void test_token_good(void **state)
{
	struct luks_token t;
	char reason[256] = "";

	(void)state;
	assert_int_equal(luks_token_parse(good, &t, reason, sizeof(reason)), 0);
	assert_int_equal(t.keyslot, 3);
	assert_string_equal(t.resource, "default/disk/root");
	assert_int_equal(t.version, 1);
	for (int i = 0; i < LUKS_TOKEN_SALT_LEN; i++)
		assert_int_equal(t.salt[i], i);
}

static void test_token_roundtrip(void **state)
{
	struct luks_token t = {.keyslot = 17, .version = 1}, back;
	char *json = NULL;

	(void)state;
	snprintf(t.resource, sizeof(t.resource), "repo-1/type_2/tag.3");
	for (int i = 0; i < LUKS_TOKEN_SALT_LEN; i++)
		t.salt[i] = (uint8_t)(0xff - i);
	assert_int_equal(luks_token_format(&t, &json), 0);
	assert_non_null(strstr(json, "\"keyslots\":[\"17\"]"));
	assert_int_equal(luks_token_parse(json, &back, NULL, 0), 0);
	assert_int_equal(back.keyslot, 17);
	assert_string_equal(back.resource, t.resource);
	assert_memory_equal(back.salt, t.salt, LUKS_TOKEN_SALT_LEN);
	free(json);

	t.keyslot = 32;
	assert_int_equal(luks_token_format(&t, &json), -EINVAL);
	t.keyslot = 1;
	snprintf(t.resource, sizeof(t.resource), "no-slashes");
	assert_int_equal(luks_token_format(&t, &json), -EINVAL);
}

struct bad_case {
	const char *json;
	const char *reason; /* substring the refusal must contain */
};

#define TOK(type, slots, res, salt, ver)                                                \
	"{\"type\":" type ",\"keyslots\":" slots ",\"resource\":" res ",\"salt\":" salt \
	",\"version\":" ver "}"

static const struct bad_case bad[] = {
	{"", "not valid JSON"},
	{"{", "not valid JSON"},
	{"[1,2]", "not a JSON object"},
	{"\"tdx-unlock\"", "not a JSON object"},
	{TOK("\"tdx-unlock\"", "[\"1\"]", "\"a/b/c\"", "\"" SALT_B64 "\"", "1") "x",
	 "not valid JSON"},
	/* json-c would silently keep the second "resource": refused as a duplicate. */
	{"{\"type\":\"tdx-unlock\",\"keyslots\":[\"1\"],\"resource\":\"a/b/c\",\"resource\":"
	 "\"x/y/z\",\"salt\":\"" SALT_B64 "\",\"version\":1}",
	 "not valid JSON"},
	/* The token locates things, it never names a server or a trust anchor. */
	{"{\"type\":\"tdx-unlock\",\"keyslots\":[\"1\"],\"resource\":\"a/b/c\",\"salt\":\"" SALT_B64
	 "\",\"version\":1,\"server\":\"https://evil:8080\"}",
	 "unknown member 'server'"},
	{"{\"type\":\"tdx-unlock\",\"keyslots\":[\"1\"],\"resource\":\"a/b/c\",\"salt\":\"" SALT_B64
	 "\",\"version\":1,\"url\":\"https://evil\"}",
	 "unknown member 'url'"},
	{"{\"type\":\"tdx-unlock\",\"keyslots\":[\"1\"],\"resource\":\"a/b/c\",\"salt\":\"" SALT_B64
	 "\",\"version\":1,\"ca\":\"-----BEGIN\"}",
	 "unknown member 'ca'"},
	{"{\"keyslots\":[\"1\"],\"resource\":\"a/b/c\",\"salt\":\"" SALT_B64 "\",\"version\":1}",
	 "'type' is missing"},
	{TOK("1", "[\"1\"]", "\"a/b/c\"", "\"" SALT_B64 "\"", "1"), "'type' is not a string"},
	{TOK("\"systemd-tpm2\"", "[\"1\"]", "\"a/b/c\"", "\"" SALT_B64 "\"", "1"), "'type' is not"},
	{"{\"type\":\"tdx-unlock\",\"keyslots\":[\"1\"],\"resource\":\"a/b/c\",\"salt\":\"" SALT_B64
	 "\"}",
	 "'version' is missing"},
	{TOK("\"tdx-unlock\"", "[\"1\"]", "\"a/b/c\"", "\"" SALT_B64 "\"", "\"1\""),
	 "'version' is not an integer"},
	{TOK("\"tdx-unlock\"", "[\"1\"]", "\"a/b/c\"", "\"" SALT_B64 "\"", "2"), "unsupported"},
	{TOK("\"tdx-unlock\"", "[\"1\"]", "\"a/b/c\"", "\"" SALT_B64 "\"", "1.0"),
	 "'version' is not an integer"},
	{"{\"type\":\"tdx-unlock\",\"resource\":\"a/b/c\",\"salt\":\"" SALT_B64 "\",\"version\":1}",
	 "'keyslots' is missing"},
	{TOK("\"tdx-unlock\"", "\"1\"", "\"a/b/c\"", "\"" SALT_B64 "\"", "1"),
	 "'keyslots' is not an array"},
	{TOK("\"tdx-unlock\"", "[]", "\"a/b/c\"", "\"" SALT_B64 "\"", "1"), "exactly one"},
	{TOK("\"tdx-unlock\"", "[\"1\",\"2\"]", "\"a/b/c\"", "\"" SALT_B64 "\"", "1"),
	 "exactly one"},
	{TOK("\"tdx-unlock\"", "[1]", "\"a/b/c\"", "\"" SALT_B64 "\"", "1"), "not a string"},
	{TOK("\"tdx-unlock\"", "[\"32\"]", "\"a/b/c\"", "\"" SALT_B64 "\"", "1"),
	 "not a keyslot number"},
	{TOK("\"tdx-unlock\"", "[\"-1\"]", "\"a/b/c\"", "\"" SALT_B64 "\"", "1"),
	 "not a keyslot number"},
	{TOK("\"tdx-unlock\"", "[\"01\"]", "\"a/b/c\"", "\"" SALT_B64 "\"", "1"),
	 "not a keyslot number"},
	{TOK("\"tdx-unlock\"", "[\"\"]", "\"a/b/c\"", "\"" SALT_B64 "\"", "1"),
	 "not a keyslot number"},
	{"{\"type\":\"tdx-unlock\",\"keyslots\":[\"1\"],\"salt\":\"" SALT_B64 "\",\"version\":1}",
	 "'resource' is missing"},
	{TOK("\"tdx-unlock\"", "[\"1\"]", "[\"a/b/c\"]", "\"" SALT_B64 "\"", "1"),
	 "'resource' is not a string"},
	{TOK("\"tdx-unlock\"", "[\"1\"]", "\"a/b\"", "\"" SALT_B64 "\"", "1"), "repo/type/tag"},
	{TOK("\"tdx-unlock\"", "[\"1\"]", "\"a/../c\"", "\"" SALT_B64 "\"", "1"), "repo/type/tag"},
	{TOK("\"tdx-unlock\"", "[\"1\"]", "\"a/b/c?x=1\"", "\"" SALT_B64 "\"", "1"),
	 "repo/type/tag"},
	{"{\"type\":\"tdx-unlock\",\"keyslots\":[\"1\"],\"resource\":\"a/b/c\",\"version\":1}",
	 "'salt' is missing"},
	{TOK("\"tdx-unlock\"", "[\"1\"]", "\"a/b/c\"", "42", "1"), "'salt' is not a string"},
	/* 31 bytes, not 32 */
	{TOK("\"tdx-unlock\"", "[\"1\"]", "\"a/b/c\"",
	     "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==\"", "1"),
	 "canonical base64"},
	/* base64url alphabet */
	{TOK("\"tdx-unlock\"", "[\"1\"]", "\"a/b/c\"",
	     "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh-_\"", "1"),
	 "canonical base64"},
	/* non-zero unused bits in the last character: decodes, but not canonical */
	{TOK("\"tdx-unlock\"", "[\"1\"]", "\"a/b/c\"",
	     "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=\"", "1"),
	 "canonical base64"},
	{TOK("\"tdx-unlock\"", "[\"1\"]", "\"a/b/c\"",
	     "\" AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\"", "1"),
	 "canonical base64"},
};

static void test_token_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct luks_token t;
		char reason[256] = "";
		int r = luks_token_parse(bad[i].json, &t, reason, sizeof(reason));
		if (r != -EINVAL || !strstr(reason, bad[i].reason))
			fail_msg("case %zu (%s): r=%d reason='%s', want '%s'", i, bad[i].json, r,
				 reason, bad[i].reason);
	}
	assert_int_equal(luks_token_parse(NULL, &(struct luks_token){0}, NULL, 0), -EINVAL);
}

static void test_token_too_long(void **state)
{
	size_t n = LUKS_TOKEN_JSON_MAX + 16;
	char *big = malloc(n + 1);
	char reason[256] = "";

	(void)state;
	assert_non_null(big);
	memset(big, ' ', n);
	big[n] = '\0';
	assert_int_equal(luks_token_parse(big, &(struct luks_token){0}, reason, sizeof(reason)),
			 -EINVAL);
	assert_non_null(strstr(reason, "longer"));
	free(big);
}

/* Names from a hostile token reach the logs: control characters are escaped (escape.h). */
static void test_token_reason_sanitised(void **state)
{
	static const char evil[] = "{\"type\":\"tdx-unlock\",\"keyslots\":[\"1\"],\"resource\":"
				   "\"a/b/c\",\"salt\":\"" SALT_B64 "\",\"version\":1,"
				   "\"\\u001b[2J\\nx\":1}";
	char reason[256] = "";

	(void)state;
	assert_int_equal(luks_token_parse(evil, &(struct luks_token){0}, reason, sizeof(reason)),
			 -EINVAL);
	assert_non_null(strstr(reason, "unknown member '\\x1b[2J\\x0ax'"));
	for (const char *c = reason; *c; c++)
		assert_true((unsigned char)*c >= 0x20 && *c != 0x7f);
}

static void test_resource_paths(void **state)
{
	char longp[300];

	(void)state;
	assert_int_equal(luks_resource_path_check("default/disk/root"), 0);
	assert_int_equal(luks_resource_path_check("A.b_c-9/x/y"), 0);
	assert_int_equal(luks_resource_path_check("a/b"), -EINVAL);
	assert_int_equal(luks_resource_path_check("a/b/c/d"), -EINVAL);
	assert_int_equal(luks_resource_path_check("/a/b"), -EINVAL);
	assert_int_equal(luks_resource_path_check("a//b"), -EINVAL);
	assert_int_equal(luks_resource_path_check("a/b/"), -EINVAL);
	assert_int_equal(luks_resource_path_check("./b/c"), -EINVAL);
	assert_int_equal(luks_resource_path_check("a/../c"), -EINVAL);
	assert_int_equal(luks_resource_path_check("a/b/c d"), -EINVAL);
	assert_int_equal(luks_resource_path_check("a/b/c%2f"), -EINVAL);
	assert_int_equal(luks_resource_path_check(""), -EINVAL);
	assert_int_equal(luks_resource_path_check(NULL), -EINVAL);
	memset(longp, 'a', sizeof(longp));
	longp[1] = '/';
	longp[3] = '/';
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(luks_resource_path_check(longp), -EINVAL);
	longp[LUKS_TOKEN_RESOURCE_MAX] = '\0';
	assert_int_equal(luks_resource_path_check(longp), 0);
}

UNIT_TEST_MAIN(NULL, NULL, cmocka_unit_test(test_token_good),
	       cmocka_unit_test(test_token_roundtrip), cmocka_unit_test(test_token_bad),
	       cmocka_unit_test(test_token_too_long), cmocka_unit_test(test_token_reason_sanitised),
	       cmocka_unit_test(test_resource_paths))
