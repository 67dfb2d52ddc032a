/* Unit tests for strict JSON parsing: duplicates (at any depth, escaped spellings), trailing
 * bytes, depth, size, raw control characters, invalid UTF-8 raw or escaped, typed getters. */
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

#include "json_strict.h"
#include "log.h"

static int parse(const char *text, char *reason, size_t reason_len)
{
	struct json_object *v = NULL;
	int r;

	reason[0] = '\0';
	r = json_strict_parse(text, strlen(text), 4096, &v, reason, reason_len);
	if (r == 0)
		assert_non_null(v);
	json_object_put(v);
	return r;
}

static void test_accepts(void **state)
{
	static const char *const good[] = {
		"{}",
		"[]",
		"0",
		"-12",
		"\"x\"",
		"true",
		" {\"a\":1} \n",
		"{\"a\":{\"a\":{\"a\":1}},\"b\":[{\"a\":1},{\"a\":2}]}", /* same name, different
									    objects */
		"{\"k:\":\"v:\",\"q\\\"\":\"\\\\\"}", /* colons and escapes in strings */
		"{\"e\":\"\\u00e9\\ud83d\\ude00\\u0000\"}",
		"{\"\xc3\xa9\":\"\xf0\x9f\x98\x80\"}",
	};
	char reason[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (parse(good[i], reason, sizeof(reason)) != 0)
			print_error("refused %s: %s\n", good[i], reason);
		assert_int_equal(parse(good[i], reason, sizeof(reason)), 0);
	}
}

static void test_refuses(void **state)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
		{"{\"a\":1,\"a\":1}", "duplicate"},
		{"{\"a\":1,\"\\u0061\":2}", "duplicate"}, /* same name, escaped */
		{"{\"x\":{\"b\":1,\"c\":{},\"b\":{\"d\":1}}}", "duplicate"},
		{"[{\"a\":[1,{\"z\":1,\"z\":1}]}]", "duplicate"},
		{"{\"a\":1} x", "offset"},
		{"{\"a\":1}{}", "offset"},
		{"{\"a\":1,}", "malformed"},
		{"{'a':1}", "malformed"}, /* json-c's strict mode accepts these four */
		{"[NaN]", "malformed"},
		{"[-Infinity]", "malformed"},
		{"[1.]", "malformed"},
		{"{'\"':1,\"a\":1,\"a\":2,'\"':3}",
		 "malformed"}, /* quotes that would hide colons */
		{"[1,]", "malformed"},
		{"{\"a\":1", "malformed"},
		{"\"abc", "malformed"},
		{"nul", "malformed"},
		{"null", "malformed"},
		{"{\"a\":\"b\x07\"}", "control character"},
		{"{\"a\":\"line\nbreak\"}", "control character"},
		{"{\"a\":\"\xf4\xb8\x87\x88\"}", "UTF-8"}, /* above U+10FFFF */
		{"{\"a\":\"\xc0\xaf\"}", "UTF-8"},	   /* overlong: json-c lets it through */
		{"{\"a\":\"\\ud800\"}", "UTF-8"},	   /* lone surrogate, escaped */
		{"{\"\\udc00\":1}", "UTF-8"},
		{"[\"\\ud800\\u0041\"]", "UTF-8"},
		{"[\"\\ud800\\\\udc00\"]", "UTF-8"},
		{"[\"\\udbff\"]", "UTF-8"},
		{"[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]", "malformed"},
		{"", "empty"},
	};
	char reason[256];
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = parse(bad[i].text, reason, sizeof(reason));
		if (r != -EINVAL || !strstr(reason, bad[i].why))
			print_error("case %zu gave %d '%s', expected '%s'\n", i, r, reason,
				    bad[i].why);
		assert_int_equal(r, -EINVAL);
		assert_non_null(strstr(reason, bad[i].why));
	}
	assert_int_equal(json_strict_parse("{\"a\":\0}", 7, 100, NULL, reason, sizeof(reason)),
			 -EINVAL);
	assert_non_null(strstr(reason, "NUL"));
	assert_int_equal(json_strict_parse("{}   ", 5, 4, NULL, reason, sizeof(reason)), -EMSGSIZE);
}

static void test_getters(void **state)
{
	static const char *const allowed[] = {"s", "o", NULL};
	static const struct {
		const char *key;
		size_t max;
		const char *why;
	} refused[] = {
		{"s", 2, "at most 2"},
		{"n", 10, "NUL"},
		{"i", 10, "'i' is not a string"},
		{"x", 10, "'x' is missing"},
	};
	struct json_object *v = NULL, *o;
	const char *s;
	char reason[256];

	(void)state;
	assert_int_equal(json_strict_parse("{\"s\":\"abc\",\"o\":{},\"n\":\"a\\u0000b\",\"i\":3}",
					   39, 100, &v, reason, sizeof(reason)),
			 0);
	assert_int_equal(json_strict_get_string(v, "t", "s", 3, &s, reason, sizeof(reason)), 0);
	assert_string_equal(s, "abc");
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		assert_int_equal(json_strict_get_string(v, "t", refused[i].key, refused[i].max, &s,
							reason, sizeof(reason)),
				 -EINVAL);
		assert_non_null(strstr(reason, refused[i].why));
	}
	assert_int_equal(json_strict_get_object(v, "t", "o", &o, reason, sizeof(reason)), 0);
	assert_int_equal(json_strict_get_object(v, "t", "s", &o, reason, sizeof(reason)), -EINVAL);
	assert_int_equal(json_strict_only_members(v, "t", allowed, reason, sizeof(reason)),
			 -EINVAL);
	assert_non_null(strstr(reason, "unexpected member 'n'"));
	json_object_put(v);
}

/* The table reader: every type, its bounds, unknown and missing members, defaults kept. */
static void test_fields(void **state)
{
	struct json_object *o = NULL, *obj = NULL, *arr = NULL;
	const char *name = "default";
	uint64_t big = 7;
	uint32_t small = 9;
	bool flag = false;
	char why[256];
	const struct json_field fields[] = {
		JSON_STRING("name", true, 1, 8, &name),	 JSON_U64("big", false, 1, 100, &big),
		JSON_U32("small", false, 0, 10, &small), JSON_BOOL("flag", false, &flag),
		JSON_OBJECT("obj", false, &obj),	 JSON_ARRAY("arr", false, 1, 2, &arr),
	};
	static const struct {
		const char *json;
		int err;
		const char *why;
	} bad[] = {
		{"{}", -EINVAL, "t: 'name' is missing"},
		{"{\"name\":\"x\",\"nmae\":1}", -EINVAL, "t: unknown member 'nmae'"},
		{"{\"name\":\"\"}", -EINVAL, "t: 'name' is 0 characters, 1 to at most 8"},
		{"{\"name\":\"123456789\"}", -EINVAL, "t: 'name' is 9 characters, 1 to at most 8"},
		{"{\"name\":\"a\\u0000b\"}", -EINVAL, "contains a NUL"},
		{"{\"name\":7}", -EINVAL, "t: 'name' is not a string"},
		{"{\"name\":null}", -EINVAL, "t: 'name' is not a string"},
		{"{\"name\":\"x\",\"big\":0}", -ERANGE, "t: 'big' must be in [1, 100]"},
		{"{\"name\":\"x\",\"big\":-1}", -ERANGE, "t: 'big' must be in [1, 100]"},
		{"{\"name\":\"x\",\"big\":1.5}", -EINVAL, "t: 'big' is not an integer"},
		{"{\"name\":\"x\",\"small\":11}", -ERANGE, "t: 'small' must be in [0, 10]"},
		{"{\"name\":\"x\",\"flag\":1}", -EINVAL, "t: 'flag' is not a boolean"},
		{"{\"name\":\"x\",\"obj\":[]}", -EINVAL, "t: 'obj' is not an object"},
		{"{\"name\":\"x\",\"arr\":[]}", -EINVAL, "t: 'arr' must hold 1 to 2 entries"},
		{"{\"name\":\"x\",\"arr\":{}}", -EINVAL, "t: 'arr' is not an array"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
			json_strict_parse(bad[i].json, strlen(bad[i].json), 1024, &o, NULL, 0), 0);
		why[0] = '\0';
		if (json_strict_fields(o, "t", fields, 6, why, sizeof(why)) != bad[i].err ||
		    !strstr(why, bad[i].why))
			fail_msg("case %zu (%s): got \"%s\"", i, bad[i].json, why);
		json_object_put(o);
	}
	/* Absent optional members keep what the caller set. */
	assert_int_equal(json_strict_parse("{\"name\":\"x\"}", 12, 1024, &o, NULL, 0), 0);
	assert_int_equal(json_strict_fields(o, "t", fields, 6, why, sizeof(why)), 0);
	assert_string_equal(name, "x");
	assert_int_equal(big, 7);
	assert_int_equal(small, 9);
	assert_null(obj);
	json_object_put(o);
	{
		const char *all = "{\"name\":\"abc\",\"big\":100,\"small\":0,\"flag\":true,"
				  "\"obj\":{},\"arr\":[1,2]}";

		assert_int_equal(json_strict_parse(all, strlen(all), 1024, &o, NULL, 0), 0);
		assert_int_equal(json_strict_fields(o, "t", fields, 6, why, sizeof(why)), 0);
		assert_string_equal(name, "abc");
		assert_int_equal(big, 100);
		assert_int_equal(small, 0);
		assert_true(flag);
		assert_non_null(obj);
		assert_int_equal(json_object_array_length(arr), 2);
		json_object_put(o);
	}
	{
		/* JSON_OTHERS_ALLOWED: unknown members pass (unread), the named ones are still
		 * checked. */
		const struct json_field open_fields[] = {JSON_STRING("name", true, 1, 8, &name),
							 JSON_OTHERS_ALLOWED};
		const char *more = "{\"name\":\"y\",\"later\":[1],\"also\":null}";

		assert_int_equal(json_strict_parse(more, strlen(more), 1024, &o, NULL, 0), 0);
		assert_int_equal(json_strict_fields(o, "t", fields, 6, why, sizeof(why)), -EINVAL);
		assert_int_equal(json_strict_fields(o, "t", open_fields, 2, why, sizeof(why)), 0);
		assert_string_equal(name, "y");
		json_object_put(o);
		assert_int_equal(json_strict_parse("{\"later\":1}", 11, 1024, &o, NULL, 0), 0);
		assert_int_equal(json_strict_fields(o, "t", open_fields, 2, why, sizeof(why)),
				 -EINVAL);
		json_object_put(o);
	}
}

UNIT_TEST_MAIN(unit_test_quiet, NULL, cmocka_unit_test(test_accepts),
	       cmocka_unit_test(test_refuses), cmocka_unit_test(test_getters),
	       cmocka_unit_test(test_fields))
