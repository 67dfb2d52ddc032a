/* Unit tests for the RTMR3 outcome events: the attribute write, the event log (AAEL) the agent
 * keeps beside it, and the refusals (no attribute, a content that is no AAEL field). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit-test.h"
#include <openssl/sha.h>

#include "aael.h"
#include "agent/rtmr.h"
#include "fileio.h"
#include "hexutil.h"

struct paths {
	char dir[64];
	char attr[128];
	char log[128];
};

static void paths_setup(struct paths *p)
{
	strcpy(p->dir, "/tmp/test-rtmr-XXXXXX");
	assert_non_null(mkdtemp(p->dir));
	snprintf(p->attr, sizeof(p->attr), "%s/rtmr3:sha384", p->dir);
	snprintf(p->log, sizeof(p->log), "%s/run/rtmr3.log", p->dir);
	assert_int_equal(setenv(RTMR_TEST_PATH_ENV, p->attr, 1), 0);
	assert_int_equal(setenv(RTMR_TEST_LOG_ENV, p->log, 1), 0);
}

static void paths_teardown(struct paths *p)
{
	char run[160];

	unlink(p->attr);
	unlink(p->log);
	snprintf(run, sizeof(run), "%s/run", p->dir);
	rmdir(run);
	rmdir(p->dir);
	unsetenv(RTMR_TEST_PATH_ENV);
	unsetenv(RTMR_TEST_LOG_ENV);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(rtmr_outcome_name(RTMR_RELEASED), "released");
	assert_string_equal(rtmr_outcome_name(RTMR_FALLBACK), "fallback");
	assert_string_equal(rtmr_outcome_name(RTMR_NO_TOKEN), "no-token");
	assert_string_equal(rtmr_outcome_name(RTMR_ERROR), "error");
	assert_string_equal(rtmr_outcome_name(RTMR_RECOVERY), "recovery");
	unsetenv(RTMR_TEST_PATH_ENV);
	unsetenv(RTMR_TEST_LOG_ENV);
	assert_string_equal(rtmr3_path(), "/sys/class/misc/tdx_guest/measurements/rtmr3:sha384");
	assert_string_equal(rtmr_event_log_path(), "/run/tdx-unlock/rtmr3.log");
}

static void test_extend(void **state)
{
	struct paths p;
	uint8_t digest[RTMR_DIGEST_LEN], *buf = NULL;
	size_t len = 0;

	(void)state;
	paths_setup(&p);
	for (int i = 0; i < RTMR_DIGEST_LEN; i++)
		digest[i] = (uint8_t)i;
	/* No attribute (older kernel): -EOPNOTSUPP, and no file is created. */
	assert_int_equal(rtmr_extend(p.attr, digest), -EOPNOTSUPP);
	assert_int_not_equal(access(p.attr, F_OK), 0);
	/* The attribute takes exactly one 48-byte digest. */
	assert_int_equal(file_write_private(p.attr, "", 0, 0), 0);
	assert_int_equal(rtmr_extend(p.attr, digest), 0);
	assert_int_equal(file_read_all(p.attr, 1024, &buf, &len), 0);
	assert_int_equal(len, RTMR_DIGEST_LEN);
	assert_memory_equal(buf, digest, RTMR_DIGEST_LEN);
	free(buf);
	/* A directory where the attribute should be: a real error, not "unsupported". */
	unlink(p.attr);
	assert_int_equal(mkdir(p.attr, 0700), 0);
	assert_true(rtmr_extend(p.attr, digest) < 0);
	assert_int_not_equal(rtmr_extend(p.attr, digest), -EOPNOTSUPP);
	rmdir(p.attr);
	paths_teardown(&p);
}

/* The attribute here is a regular file holding the "current" value (48 bytes, as the kernel's
 * reads), which each extension overwrites with the digest written: enough to see the INIT value
 * read and the last digest written. */
static void test_record(void **state)
{
	static const char uuid[] = "11111111-2222-3333-4444-555555555555";
	char want_line[128], init_hex[2 * RTMR_DIGEST_LEN + 1], want_init[160];
	uint8_t before[RTMR_DIGEST_LEN], last[SHA384_DIGEST_LENGTH], *buf = NULL;
	struct aael_log *log = NULL;
	struct paths p;
	size_t len = 0;

	(void)state;
	paths_setup(&p);
	/* No attribute: nothing recorded, no log. */
	assert_int_equal(rtmr_available(), false);
	assert_int_equal(rtmr_record(RTMR_RELEASED, uuid), -EOPNOTSUPP);
	assert_int_not_equal(access(p.log, F_OK), 0);

	memset(before, 0xab, sizeof(before));
	assert_int_equal(file_write_private(p.attr, before, sizeof(before), 0), 0);
	assert_true(rtmr_available());
	/* A content with a space is no AAEL field: refused before anything is extended. */
	assert_int_equal(rtmr_record(RTMR_ERROR, "two words"), -EINVAL);
	assert_int_not_equal(access(p.log, F_OK), 0);

	assert_int_equal(rtmr_record(RTMR_RELEASED, uuid), 0);
	assert_int_equal(file_read_all(p.log, 4096, &buf, &len), 0);
	hex_encode(before, sizeof(before), init_hex);
	snprintf(want_init, sizeof(want_init), "INIT sha384/%s\n", init_hex);
	snprintf(want_line, sizeof(want_line), "tdx-unlock released %s", uuid);
	assert_true(len > strlen(want_init));
	assert_memory_equal(buf, want_init, strlen(want_init));
	assert_string_equal((char *)buf + strlen(want_init),
			    "tdx-unlock released "
			    "11111111-2222-3333-4444-555555555555\n");
	free(buf);
	/* The last digest written is the event line's SHA-384. */
	SHA384((const unsigned char *)want_line, strlen(want_line), last);
	assert_int_equal(file_read_all(p.attr, 1024, &buf, &len), 0);
	assert_int_equal(len, RTMR_DIGEST_LEN);
	assert_memory_equal(buf, last, RTMR_DIGEST_LEN);
	free(buf);

	/* A second event: no second INIT; the log parses as AAEL with both events in order. */
	assert_int_equal(rtmr_record(RTMR_ERROR, "refused"), 0);
	assert_int_equal(file_read_all(p.log, 4096, &buf, &len), 0);
	assert_int_equal(aael_parse(buf, len, &log, NULL, 0), 0);
	assert_memory_equal(log->init, before, RTMR_DIGEST_LEN);
	assert_int_equal(log->n_events, 2);
	assert_string_equal(log->events[0].operation, "released");
	assert_string_equal(log->events[1].domain, "tdx-unlock");
	assert_string_equal(log->events[1].operation, "error");
	assert_string_equal(log->events[1].content, "refused");
	aael_log_free(log);
	free(buf);
	paths_teardown(&p);
}

UNIT_TEST_MAIN(NULL, NULL, cmocka_unit_test(test_names), cmocka_unit_test(test_extend),
	       cmocka_unit_test(test_record))
