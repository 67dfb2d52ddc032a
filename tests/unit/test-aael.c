/* Unit tests for the AAEL runtime event log: formatting, digests and replay against values
 * computed independently (Python hashlib), and refusals of malformed logs. */
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

#include "aael.h"
#include "hexutil.h"

#define EV_LINE "tdx-unlock released 2f1c3a6e-0000-4000-8000-000000000001"
/* python3: sha384(sha384(zero48 + sha384(INIT line)) + sha384(EV_LINE)) */
#define INIT_DIGEST                                                                               \
	"5d97ae953f7b03a1e93f58f9d621f84d1bdf053d1ec5ad2461262a938ecd4ed4d42d3c5c42084828da1c805" \
	"1a6c08e6a"
#define EV_DIGEST                                                                                 \
	"b22587030a22907b937f267accd93c924b942df5cfcaba64a6fb8941514b1c76d85f6ba49ce6e102d06d34f" \
	"09ac543a1"
#define FINAL_RTMR                                                                                \
	"8b372f46dd898349d1dbf0761220a0d16df242b5ed2cc2124aae5796738fde95d9127038a986d1ba260f6c6" \
	"6c32260a4"

static void assert_hex(const uint8_t *v, const char *hex)
{
	char got[2 * AAEL_DIGEST_LEN + 1];

	hex_encode(v, AAEL_DIGEST_LEN, got);
	assert_string_equal(got, hex);
}

static char *build_log(const char *const *events, size_t n)
{
	static const uint8_t zero[AAEL_DIGEST_LEN];
	char *log = calloc(1, 8192), line[AAEL_LINE_MAX + 1];

	assert_non_null(log);
	assert_int_equal(aael_format_init(zero, line, sizeof(line)), 0);
	strcat(log, line);
	strcat(log, "\n");
	for (size_t i = 0; i < n; i++) {
		strcat(log, events[i]);
		strcat(log, "\n");
	}
	return log;
}

static void test_format_digest_extend(void **state)
{
	static const uint8_t zero[AAEL_DIGEST_LEN];
	char line[AAEL_LINE_MAX + 1];
	uint8_t d[AAEL_DIGEST_LEN], reg[AAEL_DIGEST_LEN] = {0};

	(void)state;
	assert_int_equal(aael_format_init(zero, line, sizeof(line)), 0);
	assert_int_equal(strlen(line), AAEL_INIT_LEN);
	assert_int_equal(aael_line_digest(line, strlen(line), d), 0);
	assert_hex(d, INIT_DIGEST);
	assert_int_equal(aael_extend(reg, d), 0);

	assert_int_equal(aael_format_event(AAEL_DOMAIN, "released",
					   "2f1c3a6e-0000-4000-8000-000000000001", line,
					   sizeof(line)),
			 0);
	assert_string_equal(line, EV_LINE);
	assert_int_equal(aael_line_digest(line, strlen(line), d), 0);
	assert_hex(d, EV_DIGEST);
	assert_int_equal(aael_extend(reg, d), 0);
	assert_hex(reg, FINAL_RTMR);

	/* Fields with spaces, newlines or nothing in them cannot be formatted. */
	assert_int_equal(aael_format_event(AAEL_DOMAIN, "released", "a b", line, sizeof(line)),
			 -EINVAL);
	assert_int_equal(aael_format_event(AAEL_DOMAIN, "", "x", line, sizeof(line)), -EINVAL);
	assert_int_equal(aael_format_event(AAEL_DOMAIN, "error", "x\n", line, sizeof(line)),
			 -EINVAL);
	assert_int_equal(aael_format_event(AAEL_DOMAIN, "error", "x", line, 8), -ENOSPC);
}

static void test_parse_replay(void **state)
{
	static const char *const ev[] = {EV_LINE};
	struct aael_log *log = NULL;
	uint8_t reg[AAEL_DIGEST_LEN];
	char *text = build_log(ev, 1);

	(void)state;
	assert_int_equal(aael_parse((const uint8_t *)text, strlen(text), &log, NULL, 0), 0);
	assert_int_equal(log->n_events, 1);
	assert_string_equal(log->events[0].domain, "tdx-unlock");
	assert_string_equal(log->events[0].operation, "released");
	assert_string_equal(log->events[0].content, "2f1c3a6e-0000-4000-8000-000000000001");
	assert_hex(log->events[0].digest, EV_DIGEST);
	assert_int_equal(aael_replay(log, reg), 0);
	assert_hex(reg, FINAL_RTMR);
	aael_log_free(log);

	/* An INIT line alone replays to the INIT extension. */
	text[AAEL_INIT_LEN + 1] = '\0';
	assert_int_equal(aael_parse((const uint8_t *)text, strlen(text), &log, NULL, 0), 0);
	assert_int_equal(log->n_events, 0);
	aael_log_free(log);
	free(text);
}

static void expect_refused(const char *text, size_t len, const char *want)
{
	struct aael_log *log = NULL;
	char reason[256] = "";

	assert_int_equal(aael_parse((const uint8_t *)text, len, &log, reason, sizeof(reason)),
			 -EBADMSG);
	assert_null(log);
	if (!strstr(reason, want))
		fail_msg("reason '%s' does not say '%s'", reason, want);
}

static void test_refusals(void **state)
{
	static const char *const ev[] = {EV_LINE, "tdx-unlock error x"};
	char *text = build_log(ev, 2), *big;
	size_t len = strlen(text);

	(void)state;
	expect_refused("", 0, "empty log");
	expect_refused(text, len - 1, "truncated");
	expect_refused(text, AAEL_INIT_LEN, "truncated");
	expect_refused("INIT sha256/00\n", 15, "line 1");
	expect_refused(text + 1, len - 1, "line 1");

	text[AAEL_INIT_LEN + 1 + 5] = '\t';
	expect_refused(text, len, "line 2: field");
	free(text);

	static const char *const three[] = {"a b"};
	text = build_log(three, 1);
	expect_refused(text, strlen(text), "line 2: not");
	free(text);
	static const char *const four[] = {"a b c d"};
	text = build_log(four, 1);
	expect_refused(text, strlen(text), "more than three");
	free(text);

	/* An embedded NUL is refused, not silently cut. */
	text = build_log(ev, 1);
	len = strlen(text);
	text[len - 3] = '\0';
	expect_refused(text, len, "NUL");
	free(text);

	/* Oversized logs are refused before parsing. */
	big = malloc(AAEL_MAX_LEN + 1);
	assert_non_null(big);
	memset(big, 'a', AAEL_MAX_LEN + 1);
	expect_refused(big, AAEL_MAX_LEN + 1, "exceeds");
	free(big);

	/* Too many events. */
	big = build_log(NULL, 0);
	{
		size_t n = strlen(big), cap = 8192;

		for (int i = 0; i <= AAEL_MAX_EVENTS; i++) {
			if (n + 16 >= cap) {
				char *grown = realloc(big, cap * 2);

				assert_non_null(grown);
				big = grown;
				cap *= 2;
			}
			n += (size_t)sprintf(big + n, "d o %d\n", i);
		}
		expect_refused(big, n, "more than");
	}
	free(big);
}

UNIT_TEST_MAIN(NULL, NULL, cmocka_unit_test(test_format_digest_extend),
	       cmocka_unit_test(test_parse_replay), cmocka_unit_test(test_refusals))
