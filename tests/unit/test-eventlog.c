/* Event logs against quotes: the real Google COS TD quote and its CCEL ($TDX_TESTDATA/ccel,
 * "skipped" when absent) replay; one changed digest byte is a mismatch naming the register;
 * truncated, oversized and malformed logs are refused without a crash; an event-level policy
 * made from the log accepts that TD and refuses one whose RTMR1 differs. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit-test.h"

#include "aael.h"
#include "ccel.h"
#include "fileio.h"
#include "keyd/eventlog.h"
#include "keyd/policy.h"
#include "quote.h"

struct real {
	uint8_t *ccel, *quote;
	size_t ccel_len, quote_len;
	struct tdx_quote q;
};

static bool load_real(struct real *r)
{
	const char *td = getenv("TDX_TESTDATA");
	char *p = NULL;
	bool ok;

	memset(r, 0, sizeof(*r));
	if (!td || asprintf(&p, "%s/ccel/ccel_data.bin", td) < 0 || access(p, R_OK) != 0) {
		free(p);
		printf("skipped: no real CCEL under $TDX_TESTDATA/ccel\n");
		return false;
	}
	ok = file_read_all(p, CCEL_MAX_LEN, &r->ccel, &r->ccel_len) == 0;
	free(p);
	assert_true(ok && asprintf(&p, "%s/ccel/cos-113-tdx-quote.bin", td) > 0);
	assert_int_equal(file_read_all(p, TDX_QUOTE_MAX_LEN, &r->quote, &r->quote_len), 0);
	free(p);
	assert_int_equal(quote_parse(r->quote, r->quote_len, &r->q, NULL, 0), 0);
	return true;
}

static void real_free(struct real *r)
{
	free(r->ccel);
	free(r->quote);
}

static void test_real_ccel_replays(void **state)
{
	struct real r;
	struct eventlog el;
	unsigned mismatch = 99;
	char reason[256] = "";

	(void)state;
	if (!load_real(&r))
		return;
	assert_int_equal(eventlog_parse(&el, r.ccel, r.ccel_len, NULL, 0, reason, sizeof(reason)),
			 0);
	assert_true(el.ccel.n_events > 30);
	assert_int_equal(eventlog_replay(&el, &r.q.body, &mismatch, reason, sizeof(reason)), 0);
	assert_int_equal(mismatch, 0);
	/* The records end at 18101 of 262144 bytes: what the agent sends replays the same. */
	assert_int_equal(el.ccel.used_len, 18101);
	eventlog_done(&el);
	assert_int_equal(eventlog_parse(&el, r.ccel, 18101, NULL, 0, reason, sizeof(reason)), 0);
	assert_int_equal(eventlog_replay(&el, &r.q.body, &mismatch, reason, sizeof(reason)), 0);
	eventlog_done(&el);

	/* One digest byte of an RTMR1 event changed: the log no longer explains the quote. */
	{
		struct ccel_log log;
		size_t off;

		assert_int_equal(ccel_parse(r.ccel, r.ccel_len, &log, NULL, 0), 0);
		for (off = 0; off < log.n_events && log.events[off].rtmr != 1; off++)
			;
		assert_true(off < log.n_events);
		/* the digest sits right before its event's u32 size and data */
		off = (size_t)(log.events[off].data - r.ccel) - 4 - CCEL_DIGEST_LEN;
		ccel_log_done(&log);
		r.ccel[off + 5] ^= 0x01;
	}
	assert_int_equal(eventlog_parse(&el, r.ccel, r.ccel_len, NULL, 0, reason, sizeof(reason)),
			 0);
	assert_int_equal(eventlog_replay(&el, &r.q.body, &mismatch, reason, sizeof(reason)),
			 -EACCES);
	assert_int_equal(mismatch, 1u << 1);
	assert_string_equal(reason, "event log replay mismatch: RTMR1 (CCEL)");
	eventlog_done(&el);
	real_free(&r);
}

/* Every prefix of the real log, and every log with one byte changed in its headers, parses or is
 * refused; none crashes (the fuzz harness does the same at random). */
static void test_truncated_and_malformed(void **state)
{
	struct real r;
	struct ccel_log log;
	uint8_t *big;
	char reason[256];
	size_t end;

	(void)state;
	if (!load_real(&r))
		return;
	assert_int_equal(ccel_parse(r.ccel, r.ccel_len, &log, NULL, 0), 0);
	end = (size_t)(log.events[log.n_events - 1].data - r.ccel) +
	      log.events[log.n_events - 1].data_len;
	ccel_log_done(&log);
	for (size_t len = 0; len < end; len += len < 200 ? 1 : 37) {
		int rc = ccel_parse(r.ccel, len, &log, reason, sizeof(reason));

		/* A cut between records is a shorter valid log; inside one it is refused. */
		if (rc == 0)
			ccel_log_done(&log);
		else
			assert_int_equal(rc, -EBADMSG);
	}
	assert_int_equal(ccel_parse(r.ccel, 20, &log, reason, sizeof(reason)), -EBADMSG);
	assert_non_null(strstr(reason, "Spec ID"));
	/* Garbage after the last record instead of 0xff padding. */
	r.ccel[end + 10] = 0x42;
	assert_int_equal(ccel_parse(r.ccel, r.ccel_len, &log, reason, sizeof(reason)), -EBADMSG);
	r.ccel[end + 10] = 0xff;
	/* The first event (after the 65-byte Spec ID record) names a register outside RTMR0-3. */
	assert_int_equal(r.ccel[65], 1);
	r.ccel[65] = 9;
	assert_int_equal(ccel_parse(r.ccel, r.ccel_len, &log, reason, sizeof(reason)), -EBADMSG);
	assert_non_null(strstr(reason, "event 1: measurement register index 9"));
	r.ccel[65] = 1;
	big = calloc(1, CCEL_MAX_LEN + 1);
	assert_non_null(big);
	memcpy(big, r.ccel, r.ccel_len);
	assert_int_equal(ccel_parse(big, CCEL_MAX_LEN + 1, &log, reason, sizeof(reason)), -EBADMSG);
	assert_non_null(strstr(reason, "exceeds"));
	free(big);
	real_free(&r);
}

static char dir[] = "/tmp/test-eventlog.XXXXXX";

static struct policy_set *load_policy_text(const char *text)
{
	struct policy_set *s = NULL;
	char *p = NULL;
	FILE *f;

	assert_true(asprintf(&p, "%s/p.json", dir) > 0);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	if (policy_set_load_dir(dir, &s) < 0)
		s = NULL;
	unlink(p);
	free(p);
	return s;
}

/* policy-from-quote --eventlog on the real TD: RTMR1 and RTMR2 per event; the policy accepts
 * the TD; with one event digest replaced it no longer does, naming RTMR1. */
static void test_event_level_policy_from_real_log(void **state)
{
	struct real r;
	struct eventlog el;
	struct policy_set *s;
	struct policy_td td = {.tcb_status = TCB_UP_TO_DATE, .now = 1000};
	char *doc = NULL, *hit, reason[256];

	(void)state;
	if (!load_real(&r))
		return;
	assert_int_equal(eventlog_parse(&el, r.ccel, r.ccel_len, NULL, 0, NULL, 0), 0);
	assert_int_equal(policy_from_evidence(&r.q.body, &el.ccel, NULL, "cos", "a/b/c", &doc), 0);
	eventlog_done(&el);
	assert_non_null(strstr(doc, "\"rtmr1\": {"));
	assert_non_null(strstr(doc, "\"EV_SEPARATOR\""));
	s = load_policy_text(doc);
	assert_non_null(s);
	td.body = &r.q.body;
	assert_int_equal(policy_evaluate(policy_set_find(s, "a/b/c"), &td, reason, sizeof(reason)),
			 0);
	policy_set_unref(s);

	/* The first RTMR1 digest ("Calling EFI Application from Boot Option") replaced. */
	hit = strstr(strstr(doc, "\"rtmr1\""), "\"digest\"");
	assert_non_null(hit);
	hit = strchr(hit, '[');
	hit = strchr(hit, '"') + 1;
	*hit = *hit == '0' ? '1' : '0';
	s = load_policy_text(doc);
	assert_non_null(s);
	assert_int_equal(policy_evaluate(policy_set_find(s, "a/b/c"), &td, reason, sizeof(reason)),
			 -EACCES);
	assert_string_equal(reason,
			    "RTMR1 mismatch (no accepted event sequence yields it) (policy cos)");
	policy_set_unref(s);
	free(doc);
	real_free(&r);
}

static void hex48(uint8_t b, char out[97])
{
	for (int i = 0; i < 48; i++)
		sprintf(out + 2 * i, "%02x", b);
}

/* Hand-written event-level sets: kernel ∈ {A, B} accepted, C refused; an AAEL application event
 * for RTMR3; too many combinations refused at load. */
static void test_event_level_conveniences(void **state)
{
	uint8_t A[48], B[48], C[48], sep[48], reg[48];
	char a[97], b[97], sp[97], z[97], *doc;
	struct tdx_td_body body = {0};
	struct policy_td td = {.body = &body, .tcb_status = TCB_UP_TO_DATE, .now = 1000};
	struct policy_set *s;
	char reason[256], line[AAEL_LINE_MAX + 1];

	(void)state;
	memset(A, 0xaa, 48);
	memset(B, 0xbb, 48);
	memset(C, 0xcc, 48);
	memset(sep, 0x5e, 48);
	hex48(0xaa, a);
	hex48(0xbb, b);
	hex48(0x5e, sp);
	hex48(0x00, z);
	body.td_attributes[3] = 0x10;
	assert_true(asprintf(&doc,
			     "{\"id\":\"ev\",\"resources\":[\"a/b/c\"],\"measurements\":[{"
			     "\"mrtd\":\"%s\",\"rtmr0\":\"%s\","
			     "\"rtmr1\":{\"events\":[{\"kernel\":[\"%s\",\"%s\"]},"
			     "{\"type\":\"EV_SEPARATOR\",\"digest\":\"%s\"}]},"
			     "\"rtmr2\":{\"waive\":\"test\"},"
			     "\"rtmr3\":{\"events\":[{\"domain\":\"example.org\",\"operation\":"
			     "\"compose\",\"content\":[\"h1\",\"h2\"]}]},"
			     "\"td_attributes\":\"0000001000000000\"}]}",
			     z, z, a, b, sp) > 0);
	s = load_policy_text(doc);
	free(doc);
	assert_non_null(s);
	/* RTMR3: INIT (zero) then "example.org compose h2". */
	{
		struct aael_log *log = NULL;
		static const char text[] =
			"INIT sha384/000000000000000000000000000000000000000000000000000000000000"
			"000000000000000000000000000000000000\nexample.org compose h2\n";

		assert_int_equal(aael_parse((const uint8_t *)text, strlen(text), &log, NULL, 0), 0);
		assert_int_equal(aael_replay(log, body.rtmr[3]), 0);
		aael_log_free(log);
	}
	for (int k = 0; k < 3; k++) {
		memset(reg, 0, 48);
		assert_int_equal(aael_extend(reg, k == 0 ? A : k == 1 ? B : C), 0);
		assert_int_equal(aael_extend(reg, sep), 0);
		memcpy(body.rtmr[1], reg, 48);
		assert_int_equal(
			policy_evaluate(policy_set_find(s, "a/b/c"), &td, reason, sizeof(reason)),
			k < 2 ? 0 : -EACCES);
	}
	assert_non_null(strstr(reason, "RTMR1 mismatch"));
	/* An RTMR3 application event not in the list. */
	memset(reg, 0, 48);
	assert_int_equal(aael_extend(reg, A), 0);
	assert_int_equal(aael_extend(reg, sep), 0);
	memcpy(body.rtmr[1], reg, 48);
	assert_int_equal(aael_format_event("example.org", "compose", "h3", line, sizeof(line)), 0);
	memset(body.rtmr[3], 0x33, 48);
	assert_int_equal(policy_evaluate(policy_set_find(s, "a/b/c"), &td, reason, sizeof(reason)),
			 -EACCES);
	assert_non_null(strstr(reason, "RTMR3 mismatch"));
	policy_set_unref(s);

	/* 16 x 16 x 2 alternatives exceed the bound: refused at load, not expanded. */
	{
		char *list = calloc(1, 17 * 100), *d;

		assert_non_null(list);
		for (int i = 0; i < 16; i++) {
			char h[97];

			hex48((uint8_t)i, h);
			strcat(list, i ? ",\"" : "\"");
			strcat(list, h);
			strcat(list, "\"");
		}
		assert_true(
			asprintf(
				&d,
				"{\"id\":\"ev\",\"resources\":[\"a/b/c\"],\"measurements\":[{"
				"\"mrtd\":\"%s\",\"rtmr0\":\"%s\",\"rtmr1\":{\"events\":["
				"{\"digest\":[%s]},{\"digest\":[%s]},{\"digest\":[\"%s\",\"%s\"]}"
				"]},\"rtmr2\":\"%s\",\"rtmr3\":\"%s\",\"td_attributes\":{\"waive\":"
				"\"t\"}}]}",
				z, z, list, list, a, b, z, z) > 0);
		assert_null(load_policy_text(d));
		free(d);
		free(list);
	}
}

UNIT_TEST_MAIN_IN_DIR(dir, cmocka_unit_test(test_real_ccel_replays),
		      cmocka_unit_test(test_truncated_and_malformed),
		      cmocka_unit_test(test_event_level_policy_from_real_log),
		      cmocka_unit_test(test_event_level_conveniences))
