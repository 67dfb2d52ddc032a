/* Unit tests of text_escape(): whatever bytes come in (a forged certificate CN with a newline, a
 * BMPString CN, JSON strings with control or bidi characters), what goes out is valid UTF-8
 * without control characters, bounded, and escaping it again changes nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "unit-test.h"

#include "escape.h"
#include "utf8.h"

static void expect(const char *in, size_t len, const char *want)
{
	char out[256];

	assert_int_equal(text_escape(in, len, out, sizeof(out)), strlen(want));
	assert_string_equal(out, want);
}

/* For literals, which may hold NUL bytes. */
#define EXPECT(lit, want) expect(lit, sizeof(lit) - 1, want)

static void test_escapes(void **state)
{
	(void)state;
	EXPECT("plain text, été, 中文", "plain text, été, 中文");
	/* A newline cannot start a forged log line. */
	EXPECT("x\ntdx-keyd: FORGED", "x\\x0atdx-keyd: FORGED");
	EXPECT("a\r\tb\x1b[31m\x7f", "a\\x0d\\x09b\\x1b[31m\\x7f");
	EXPECT("nul\0after", "nul\\x00after");
	/* A BMPString's raw UTF-16 bytes are not UTF-8. */
	EXPECT("\xff\xfe\xe0\xff", "\\xff\\xfe\\xe0\\xff");
	/* Truncated, overlong and surrogate sequences. */
	EXPECT("\xe2\x82", "\\xe2\\x82");
	EXPECT("\xc0\xaf", "\\xc0\\xaf");
	EXPECT("\xed\xa0\x80", "\\xed\\xa0\\x80");
	/* C1 controls, line separator, bidi override (valid UTF-8, still escaped). */
	EXPECT("\xc2\x85|\xe2\x80\xa8|\xe2\x80\xae", "\\xc2\\x85|\\xe2\\x80\\xa8|\\xe2\\x80\\xae");
	/* Idempotent: escaped text passes unchanged, so sinks may escape again. */
	EXPECT("x\\x0atdx-keyd: FORGED", "x\\x0atdx-keyd: FORGED");
}

static void test_bounds(void **state)
{
	char in[1000], out[64], tiny[3];
	size_t n;

	(void)state;
	memset(in, '\n', sizeof(in));
	n = text_escape(in, sizeof(in), out, sizeof(out));
	assert_int_equal(n, strlen(out));
	assert_true(n <= sizeof(out) - 1);
	assert_int_equal(strcmp(out + n - 3, "..."), 0);
	/* Never half an escape before the "...". */
	assert_int_equal((n - 3) % 4, 0);
	memset(in, 0, sizeof(in));
	for (size_t i = 0; i < sizeof(in); i += 3)
		memcpy(in + i, "\xe4\xb8\xad", sizeof(in) - i < 3 ? sizeof(in) - i : 3);
	n = text_escape(in, 999, out, sizeof(out));
	assert_true(utf8_valid((const uint8_t *)out, n));
	assert_int_equal(text_escape("abcdef", 6, tiny, sizeof(tiny)), 2);
	assert_string_equal(tiny, "..");
	assert_int_equal(text_escape("ab", 2, tiny, sizeof(tiny)), 2);
	assert_string_equal(tiny, "ab");
	assert_int_equal(text_escape_str(NULL, tiny, sizeof(tiny)), 0);
}

/* Every byte pattern gives valid UTF-8 without C0/DEL. */
static void test_all_bytes(void **state)
{
	uint8_t in[512];
	char out[4 * sizeof(in) + 1];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7 + (i >> 8));
	n = text_escape(in, sizeof(in), out, sizeof(out));
	assert_true(utf8_valid((const uint8_t *)out, n));
	for (size_t i = 0; i < n; i++)
		assert_true((uint8_t)out[i] >= 0x20 && (uint8_t)out[i] != 0x7f);
	{
		char again[sizeof(out)];

		assert_int_equal(text_escape(out, n, again, sizeof(again)), n);
		assert_string_equal(again, out);
	}
}

UNIT_TEST_MAIN(NULL, NULL, cmocka_unit_test(test_escapes), cmocka_unit_test(test_bounds),
	       cmocka_unit_test(test_all_bytes))
