/* Unit tests of keyd's sessions and nonces: one attest per session, nonce bound to its session
 * and to the HMAC key (another replica with the same root key accepts it, a different key does
 * not), expiry, bounded table with counted eviction. */
#include <errno.h>
#include <openssl/evp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "keyd/session.h"

static const uint8_t key_a[32] = {1, 2, 3};
static const uint8_t key_b[32] = {9, 9, 9};

static void test_attest_once(void **state)
{
	struct session_table *t = NULL;
	struct session_new a, b;
	struct session_attestation att = {0}, out;
	const char *why = NULL;

	(void)state;
	assert_int_equal(session_table_new(16, 300, key_a, &t), 0);
	assert_int_equal(session_create(t, &a), 0);
	assert_int_equal(session_create(t, &b), 0);
	assert_int_equal(strlen(a.id), SESSION_ID_LEN);
	assert_int_equal(strlen(a.nonce), SESSION_NONCE_B64);
	assert_string_not_equal(a.id, b.id);
	assert_string_not_equal(a.nonce, b.nonce);

	/* Not attested yet: no resource. */
	assert_int_equal(session_get_attested(t, a.id, &out, &why), -EACCES);
	assert_string_equal(why, "session has not attested");
	/* Another session's nonce is refused, and spends this session's nonce. */
	assert_int_equal(session_attest_begin(t, a.id, b.nonce, &why), -EBADMSG);
	assert_int_equal(session_attest_begin(t, a.id, a.nonce, &why), -EALREADY);
	assert_string_equal(why, "nonce already used (a session attests once)");

	assert_int_equal(session_attest_begin(t, b.id, b.nonce, &why), 0);
	assert_int_equal(session_attest_finish(t, b.id, &att), 0);
	assert_int_equal(session_get_attested(t, b.id, &out, &why), 0);
	assert_int_equal(session_attest_begin(t, b.id, b.nonce, &why), -EALREADY);

	assert_int_equal(session_attest_begin(t, "0123456789abcdef0123456789abcdef", b.nonce, &why),
			 -ENOENT);
	assert_string_equal(why, "unknown or evicted kbs-session-id");
	assert_int_equal(session_attest_begin(t, "short", b.nonce, &why), -ENOENT);
	assert_int_equal(session_attest_begin(t, NULL, b.nonce, &why), -ENOENT);
	session_table_free(t);
}

static void test_nonce_replicas(void **state)
{
	struct session_table *t = NULL, *replica = NULL, *foreign = NULL;
	struct session_new a;
	char bad[SESSION_NONCE_B64 + 1];

	(void)state;
	assert_int_equal(session_table_new(16, 300, key_a, &t), 0);
	assert_int_equal(session_table_new(16, 300, key_a, &replica), 0);
	assert_int_equal(session_table_new(16, 300, key_b, &foreign), 0);
	assert_int_equal(session_create(t, &a), 0);
	assert_int_equal(session_nonce_check(replica, a.nonce, time(NULL)), 0);
	assert_int_equal(session_nonce_check(foreign, a.nonce, time(NULL)), -EBADMSG);
	/* Too old, or from the future beyond the slack. */
	assert_int_equal(session_nonce_check(replica, a.nonce, time(NULL) + 301), -ETIME);
	assert_int_equal(session_nonce_check(replica, a.nonce, time(NULL) - 60), -ETIME);
	/* Any flipped character breaks the MAC (or the encoding). */
	for (size_t i = 0; i < SESSION_NONCE_B64 - 1; i++) {
		memcpy(bad, a.nonce, sizeof(bad));
		bad[i] = bad[i] == 'A' ? 'B' : 'A';
		assert_int_not_equal(session_nonce_check(replica, bad, time(NULL)), 0);
	}
	assert_int_equal(session_nonce_check(replica, "", time(NULL)), -EBADMSG);
	session_table_free(t);
	session_table_free(replica);
	session_table_free(foreign);
}

static void test_expiry_and_eviction(void **state)
{
	struct session_table *t = NULL;
	struct session_new s[5];
	const char *why = NULL;

	(void)state;
	assert_int_equal(session_table_new(3, 1, key_a, &t), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(session_create(t, &s[i]), 0);
	/* Bounded: the two oldest were evicted, and counted. */
	assert_int_equal(session_table_count(t), 3);
	assert_int_equal(session_table_evictions(t), 2);
	assert_int_equal(session_attest_begin(t, s[0].id, s[0].nonce, &why), -ENOENT);
	assert_int_equal(session_attest_begin(t, s[4].id, s[4].nonce, &why), 0);

	sleep(2);
	assert_int_equal(session_attest_begin(t, s[3].id, s[3].nonce, &why), -ETIME);
	assert_string_equal(why, "session expired");
	/* Expired sessions are dropped after one more lifetime. */
	sleep(1);
	assert_int_equal(session_table_expire(t), 3);
	assert_int_equal(session_table_count(t), 0);
	session_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attest_once),
		cmocka_unit_test(test_nonce_replicas),
		cmocka_unit_test(test_expiry_and_eviction),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
