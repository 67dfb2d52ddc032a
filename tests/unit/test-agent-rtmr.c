/* Unit tests for the RTMR3 "unlocked" event: digest definition and the sysfs write. */
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
#include <openssl/sha.h>

#include "agent/rtmr.h"
#include "fileio.h"

static void test_digest(void **state)
{
	const char *uuids[] = {"11111111-2222-3333-4444-555555555555",
			       "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"};
	const char msg[] = "tdx-unlock/v1 unlocked\0"
			   "11111111-2222-3333-4444-555555555555\0"
			   "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
	uint8_t d[RTMR_DIGEST_LEN], want[SHA384_DIGEST_LENGTH], other[RTMR_DIGEST_LEN];

	(void)state;
	assert_int_equal(rtmr_event_digest(uuids, 2, d), 0);
	SHA384((const unsigned char *)msg, sizeof(msg) - 1, want);
	assert_memory_equal(d, want, RTMR_DIGEST_LEN);
	/* Order and set of devices change the event. */
	assert_int_equal(rtmr_event_digest(uuids, 1, other), 0);
	assert_memory_not_equal(d, other, RTMR_DIGEST_LEN);
}

static void test_extend(void **state)
{
	char dir[] = "/tmp/test-rtmr-XXXXXX", path[128];
	uint8_t digest[RTMR_DIGEST_LEN], *buf = NULL;
	size_t len = 0;

	(void)state;
	for (int i = 0; i < RTMR_DIGEST_LEN; i++)
		digest[i] = (uint8_t)i;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/rtmr3:sha384", dir);

	/* No attribute (older kernel) or disabled: skipped, and no file is created. */
	assert_int_equal(rtmr_extend(path, digest), -EOPNOTSUPP);
	assert_int_not_equal(access(path, F_OK), 0);
	assert_int_equal(rtmr_extend("", digest), -EOPNOTSUPP);
	assert_int_equal(rtmr_extend("/nonexistent-dir/x/rtmr3", digest), -EOPNOTSUPP);

	/* The attribute takes exactly one 48-byte digest. */
	assert_int_equal(file_write_private(path, "", 0, 0), 0);
	assert_int_equal(rtmr_extend(path, digest), 0);
	assert_int_equal(file_read_all(path, 1024, &buf, &len), 0);
	assert_int_equal(len, RTMR_DIGEST_LEN);
	assert_memory_equal(buf, digest, RTMR_DIGEST_LEN);
	free(buf);

	/* A directory where the attribute should be: a real error, not "skipped". */
	unlink(path);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_true(rtmr_extend(path, digest) < 0);
	assert_int_not_equal(rtmr_extend(path, digest), -EOPNOTSUPP);
	rmdir(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_digest),
		cmocka_unit_test(test_extend),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
