/* Unit tests for base64 / base64url: RFC 4648 §10 vectors, strict refusals, round trips. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit-test.h"

#include "b64.h"

static const struct {
	const char *plain, *std, *url;
} rfc4648[] = {
	{"", "", ""},
	{"f", "Zg==", "Zg"},
	{"fo", "Zm8=", "Zm8"},
	{"foo", "Zm9v", "Zm9v"},
	{"foob", "Zm9vYg==", "Zm9vYg"},
	{"fooba", "Zm9vYmE=", "Zm9vYmE"},
	{"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

static void test_rfc4648_vectors(void **state)
{
	size_t i, n;
	uint8_t out[16];

	(void)state;
	for (i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
		const char *p = rfc4648[i].plain;
		char *e;

		e = b64_encode(B64_STD, (const uint8_t *)p, strlen(p));
		assert_non_null(e);
		assert_string_equal(e, rfc4648[i].std);
		assert_int_equal(strlen(e), b64_encoded_len(B64_STD, strlen(p)));
		free(e);
		e = b64_encode(B64_URL, (const uint8_t *)p, strlen(p));
		assert_non_null(e);
		assert_string_equal(e, rfc4648[i].url);
		assert_int_equal(strlen(e), b64_encoded_len(B64_URL, strlen(p)));
		free(e);

		assert_int_equal(b64_decode(B64_STD, rfc4648[i].std, strlen(rfc4648[i].std), out,
					    sizeof(out), &n),
				 0);
		assert_int_equal(n, strlen(p));
		assert_memory_equal(out, p, n);
		assert_int_equal(b64_decode(B64_URL, rfc4648[i].url, strlen(rfc4648[i].url), out,
					    sizeof(out), &n),
				 0);
		assert_int_equal(n, strlen(p));
		assert_memory_equal(out, p, n);
	}
}

static void test_alphabets_differ(void **state)
{
	static const uint8_t bytes[] = {0xfb, 0xff, 0xbf};
	uint8_t out[3];
	size_t n;
	char *e;

	(void)state;
	e = b64_encode(B64_STD, bytes, sizeof(bytes));
	assert_string_equal(e, "+/+/");
	free(e);
	e = b64_encode(B64_URL, bytes, sizeof(bytes));
	assert_string_equal(e, "-_-_");
	free(e);
	assert_int_equal(b64_decode(B64_URL, "+/+/", 4, out, sizeof(out), &n), -EINVAL);
	assert_int_equal(b64_decode(B64_STD, "-_-_", 4, out, sizeof(out), &n), -EINVAL);
	assert_int_equal(b64_decode(B64_URL, "-_-_", 4, out, sizeof(out), &n), 0);
	assert_memory_equal(out, bytes, 3);
}

static void test_strict_refusals(void **state)
{
	static const char *const bad_std[] = {
		"Zg",	    /* missing padding */
		"Zg=",	    /* short padding */
		"Zh==",	    /* non-zero unused bits */
		"Zm9=",	    /* non-zero unused bits */
		"Zg==Zg==", /* padding in the middle */
		"=Zg=",	    /* padding first */
		"Z===",	    /* impossible length */
		"====",	    /* only padding */
		"Zm9v\n",   /* whitespace */
		"Zm 9v",    /* space */
		"Zm9v====", /* too much padding */
		"Zm-v",	    /* url alphabet */
		"Zm9\x80",  /* high byte */
	};
	static const char *const bad_url[] = {
		"Zg==", /* padding */
		"Zg=",	/* padding */
		"Z",	/* impossible length */
		"Zh",	/* non-zero unused bits */
		"Zm+v", /* std alphabet */
		"Zm9v ",
	};
	uint8_t out[16];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(bad_std) / sizeof(bad_std[0]); i++)
		assert_int_equal(
			b64_decode(B64_STD, bad_std[i], strlen(bad_std[i]), out, sizeof(out), &n),
			-EINVAL);
	for (i = 0; i < sizeof(bad_url) / sizeof(bad_url[0]); i++)
		assert_int_equal(
			b64_decode(B64_URL, bad_url[i], strlen(bad_url[i]), out, sizeof(out), &n),
			-EINVAL);
	/* An embedded NUL is a bad character, not the end of the input. */
	assert_int_equal(b64_decode(B64_URL, "Zm\0v", 4, out, sizeof(out), &n), -EINVAL);
}

static void test_lengths(void **state)
{
	uint8_t out[8];
	size_t n;

	(void)state;
	assert_int_equal(b64_decode(B64_STD, "Zm9vYmFy", 8, out, 5, &n), -ENOBUFS);
	assert_int_equal(b64_decode_exact(B64_STD, "Zm9vYmFy", 8, out, 6), 0);
	assert_int_equal(b64_decode_exact(B64_STD, "Zm9vYmFy", 8, out, 5), -EINVAL);
	assert_int_equal(b64_decode_exact(B64_STD, "Zm9vYmFy", 8, out, 7), -EINVAL);
	assert_int_equal(b64_decode_exact(B64_URL, "Zm9vYmE", 7, out, 5), 0);
	assert_memory_equal(out, "fooba", 5);
	assert_int_equal(b64_decoded_max(8), 6);
	assert_int_equal(b64_decoded_max(7), 5);
}

static void test_round_trip(void **state)
{
	uint8_t in[100], *out;
	size_t len, n;
	int v;

	(void)state;
	for (len = 0; len < sizeof(in); len++)
		in[len] = (uint8_t)(len * 37 + 11);
	for (v = B64_STD; v <= B64_URL; v++) {
		for (len = 0; len <= sizeof(in); len++) {
			char *e = b64_encode((enum b64_variant)v, in, len);

			assert_non_null(e);
			assert_int_equal(
				b64_decode_alloc((enum b64_variant)v, e, strlen(e), &out, &n), 0);
			assert_int_equal(n, len);
			if (len)
				assert_memory_equal(out, in, len);
			free(out);
			free(e);
		}
	}
}

UNIT_TEST_MAIN(NULL, NULL, cmocka_unit_test(test_rfc4648_vectors),
	       cmocka_unit_test(test_alphabets_differ), cmocka_unit_test(test_strict_refusals),
	       cmocka_unit_test(test_lengths), cmocka_unit_test(test_round_trip))
