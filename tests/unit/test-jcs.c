/* Unit tests for RFC 8785 canonical JSON: the vectors of docs/protocol.md, numbers, refusals. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jcs.h"
#include "json_strict.h"
#include "log.h"
#include "protocol-vectors.h"

static void assert_jcs(struct json_object *v, const char *want)
{
	char *out = NULL;
	size_t len = 0;

	assert_int_equal(jcs_serialize(v, &out, &len), 0);
	assert_string_equal(out, want);
	assert_int_equal(len, strlen(want));
	free(out);
}

static void test_vectors(void **state)
{
	struct json_object *vec = vectors_load(), *list;
	size_t i, n;

	(void)state;
	assert_non_null(vec);
	assert_true(json_object_object_get_ex(vec, "jcs", &list));
	n = json_object_array_length(list);
	assert_true(n >= 3);
	for (i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(list, i), *in, *want, *v = NULL;
		const char *text;

		assert_true(json_object_object_get_ex(c, "input", &in));
		assert_true(json_object_object_get_ex(c, "canonical", &want));
		text = json_object_get_string(in);
		assert_int_equal(json_strict_parse(text, strlen(text), 4096, &v, NULL, 0), 0);
		assert_jcs(v, json_object_get_string(want));
		json_object_put(v);
	}
	json_object_put(vec);
}

static void test_report_data_canonical_form(void **state)
{
	struct json_object *vec = vectors_load(), *o = json_object_new_object();

	(void)state;
	assert_non_null(vec);
	/* Members added out of order: JCS sorts them. */
	json_object_object_add(o, "tee-pubkey",
			       json_object_get(vec_obj(vec, "report_data", "tee_pubkey")));
	json_object_object_add(o, "nonce",
			       json_object_new_string(vec_str(vec, "report_data", "nonce")));
	json_object_object_add(o, "additional-evidence", json_object_new_string(""));
	assert_jcs(o, vec_str(vec, "report_data", "canonical"));
	json_object_put(o);
	json_object_put(vec);
}

static void test_numbers(void **state)
{
	struct json_object *v;
	char *out = NULL;

	(void)state;
	v = json_object_new_int64(9007199254740992LL); /* 2^53 */
	assert_jcs(v, "9007199254740992");
	json_object_put(v);
	v = json_object_new_int64(-9007199254740992LL);
	assert_jcs(v, "-9007199254740992");
	json_object_put(v);
	v = json_object_new_int64(9007199254740993LL);
	assert_int_equal(jcs_serialize(v, &out, NULL), -ENOTSUP);
	json_object_put(v);
	v = json_object_new_double(1.0);
	assert_jcs(v, "1");
	json_object_put(v);
	v = json_object_new_double(-0.0);
	assert_jcs(v, "0");
	json_object_put(v);
	v = json_object_new_double(1.5);
	assert_int_equal(jcs_serialize(v, &out, NULL), -ENOTSUP);
	json_object_put(v);
	v = json_object_new_double(1e300);
	assert_int_equal(jcs_serialize(v, &out, NULL), -ENOTSUP);
	json_object_put(v);
	v = json_object_new_int64(0);
	assert_jcs(v, "0");
	json_object_put(v);
}

static void test_refuses_invalid_utf8(void **state)
{
	static const char *const bad[] = {"\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
					  "\xe2\x82", "\x80"};
	char *out = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct json_object *v = json_object_new_string_len(bad[i], (int)strlen(bad[i]));
		struct json_object *o = json_object_new_object();

		assert_int_equal(jcs_serialize(v, &out, NULL), -EINVAL);
		json_object_object_add(o, bad[i], json_object_new_int(1));
		assert_int_equal(jcs_serialize(o, &out, NULL), -EINVAL);
		json_object_put(v);
		json_object_put(o);
	}
	assert_null(out);
}

static void test_embedded_nul_and_null_values(void **state)
{
	struct json_object *o = json_object_new_object();

	(void)state;
	json_object_object_add(o, "s", json_object_new_string_len("a\0b", 3));
	json_object_object_add(o, "n", NULL);
	json_object_object_add(o, "e", json_object_new_array());
	json_object_object_add(o, "o", json_object_new_object());
	assert_jcs(o, "{\"e\":[],\"n\":null,\"o\":{},\"s\":\"a\\u0000b\"}");
	json_object_put(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_report_data_canonical_form),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_refuses_invalid_utf8),
		cmocka_unit_test(test_embedded_nul_and_null_values),
	};

	log_setup("test-jcs", LOG_TARGET_STDERR, LOG_LVL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
