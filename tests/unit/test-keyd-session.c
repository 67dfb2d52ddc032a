/* Unit tests of keyd's sealed sessions: a cookie opens on every replica with the same key and
 * nowhere else, any change to it is refused by name, it carries its expiry and what attest
 * established; a nonce is spent once per replica; the table of spent nonces is bounded and, when
 * full, drops the busiest peer's unattested entries, never attested ones. */
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

#include "unit-test.h"

#include "jwk.h"
#include "keyd/session.h"

static const uint8_t key_a[32] = {1, 2, 3};
static const uint8_t key_b[32] = {9, 9, 9};

static void new_session(struct session_table *t, struct session *s,
			char cookie[SESSION_COOKIE_MAX + 1])
{
	assert_int_equal(session_create(t, s, cookie), 0);
	assert_int_equal(strlen(s->id), SESSION_ID_LEN);
	assert_int_equal(strlen(s->nonce), SESSION_NONCE_B64);
}

static void test_attest_once(void **state)
{
	struct session_table *t = NULL, *replica = NULL;
	struct session a, b, o;
	struct session_attestation att = {0};
	char ca[SESSION_COOKIE_MAX + 1], cb[SESSION_COOKIE_MAX + 1], cat[SESSION_COOKIE_MAX + 1];
	const char *why = NULL;

	(void)state;
	assert_int_equal(session_table_new(16, 300, key_a, &t), 0);
	assert_int_equal(session_table_new(16, 300, key_a, &replica), 0);
	new_session(t, &a, ca);
	new_session(t, &b, cb);
	assert_string_not_equal(a.id, b.id);
	assert_string_not_equal(a.nonce, b.nonce);

	/* The cookie opens to the same session on this table and on a replica. */
	assert_int_equal(session_open(replica, ca, &o, &why), 0);
	assert_string_equal(o.id, a.id);
	assert_string_equal(o.nonce, a.nonce);
	assert_false(o.attested);

	/* Another session's nonce spends this one's. */
	assert_int_equal(session_attest_begin(t, &a, "10.0.0.1", b.nonce, &why), -EBADMSG);
	assert_int_equal(session_attest_begin(t, &a, "10.0.0.1", a.nonce, &why), -EALREADY);
	assert_string_equal(why, "nonce already used (a session attests once)");

	assert_int_equal(session_attest_begin(t, &b, "10.0.0.1", b.nonce, &why), 0);
	memset(att.tee_xy, 0x5a, sizeof(att.tee_xy));
	att.body.mrtd[0] = 0x42;
	att.collateral_issued = 1700000000;
	att.tcb_eval_number = 17;
	strcpy(att.tcb_status, "UpToDate");
	strcpy(att.rtmr3_log, "1 event, last 'tdx-unlock released x'");
	assert_int_equal(session_attest_finish(t, &b, &att, cat), 0);
	assert_true(b.attested);
	assert_int_equal(session_attest_begin(t, &b, "10.0.0.1", b.nonce, &why), -EALREADY);

	/* The attested cookie carries what attest established, to any replica. */
	assert_int_equal(session_open(replica, cat, &o, &why), 0);
	assert_true(o.attested);
	assert_string_equal(o.id, b.id);
	assert_int_equal(o.att.body.mrtd[0], 0x42);
	assert_int_equal(o.att.collateral_issued, 1700000000);
	assert_int_equal(o.att.tcb_eval_number, 17);
	assert_string_equal(o.att.tcb_status, "UpToDate");
	assert_string_equal(o.att.rtmr3_log, "1 event, last 'tdx-unlock released x'");
	assert_memory_equal(o.att.tee_xy, att.tee_xy, sizeof(att.tee_xy));
	/* An attested cookie does not attest again, on any replica. */
	assert_int_equal(session_attest_begin(replica, &o, "10.0.0.1", o.nonce, &why), -EALREADY);
	/* The unattested cookie of b, replayed to this replica: its nonce is spent here. On
	 * another replica it is not (see docs/keyd.md on why that gains nothing). */
	assert_int_equal(session_open(t, cb, &o, &why), 0);
	assert_int_equal(session_attest_begin(t, &o, "10.0.0.2", o.nonce, &why), -EALREADY);
	assert_int_equal(session_attest_begin(replica, &o, "10.0.0.2", o.nonce, &why), 0);

	session_table_free(t);
	session_table_free(replica);
}

static void test_cookie_refusals(void **state)
{
	struct session_table *t = NULL, *foreign = NULL, *short_lived = NULL;
	struct session a, o;
	char c[SESSION_COOKIE_MAX + 1], bad[SESSION_COOKIE_MAX + 2];
	const char *why = NULL;
	size_t len;

	(void)state;
	assert_int_equal(session_table_new(16, 300, key_a, &t), 0);
	assert_int_equal(session_table_new(16, 300, key_b, &foreign), 0);
	assert_int_equal(session_table_new(16, 1, key_a, &short_lived), 0);
	new_session(t, &a, c);
	len = strlen(c);

	assert_int_equal(session_open(foreign, c, &o, &why), -EKEYREJECTED);
	assert_non_null(strstr(why, "sealed under another key"));
	/* Every flipped character is refused (header, ciphertext or tag). */
	for (size_t i = 0; i < len; i++) {
		memcpy(bad, c, len + 1);
		bad[i] = bad[i] == 'A' ? 'B' : 'A';
		assert_int_not_equal(session_open(t, bad, &o, &why), 0);
		assert_string_equal(o.id, "");
	}
	memcpy(bad, c, len + 1);
	bad[len / 2] = bad[len / 2] == 'A' ? 'B' : 'A';
	assert_int_equal(session_open(t, bad, &o, &why), -EBADMSG);
	assert_string_equal(why, "kbs-session-id fails authentication (tampered or forged)");
	/* Cut short, empty, not base64url, too long. */
	snprintf(bad, sizeof(bad), "%.*s", (int)len - 1, c);
	assert_int_not_equal(session_open(t, bad, &o, &why), 0);
	assert_int_equal(session_open(t, "", &o, &why), -EINVAL);
	assert_int_equal(session_open(t, NULL, &o, &why), -EINVAL);
	assert_int_equal(session_open(t, "0123456789abcdef0123456789abcdef", &o, &why), -EINVAL);
	assert_non_null(strstr(why, "not a sealed session"));
	memset(bad, 'A', SESSION_COOKIE_MAX + 1);
	bad[SESSION_COOKIE_MAX + 1] = '\0';
	assert_int_equal(session_open(t, bad, &o, &why), -EINVAL);

	/* The expiry is sealed with the session. */
	new_session(short_lived, &a, c);
	sleep(2);
	assert_int_equal(session_open(short_lived, c, &o, &why), -ETIME);
	assert_string_equal(why, "session expired");
	assert_string_equal(o.id, a.id);
	session_table_free(t);
	session_table_free(foreign);
	session_table_free(short_lived);
}

/* Spends the nonce of a new session for peer; attests it when attested. */
static void spend(struct session_table *t, const char *peer, bool attested, struct session *s)
{
	char c[SESSION_COOKIE_MAX + 1];
	const char *why;

	new_session(t, s, c);
	assert_int_equal(session_attest_begin(t, s, peer, s->nonce, &why), 0);
	if (attested) {
		struct session_attestation att = {0};

		assert_int_equal(session_attest_finish(t, s, &att, c), 0);
	}
}

/* s's nonce stays spent: asked again from peer with its cookie as before attesting (which only
 * the table can refuse), it is refused. */
static void assert_nonce_spent(struct session_table *t, struct session *s, const char *peer)
{
	const char *why = NULL;

	s->attested = false;
	assert_int_equal(session_attest_begin(t, s, peer, s->nonce, &why), -EALREADY);
}

static void test_eviction(void **state)
{
	struct session_table *t = NULL;
	struct session victim, flood[3], s, late;
	char c[SESSION_COOKIE_MAX + 1];
	const char *why = NULL;

	(void)state;
	assert_int_equal(session_table_new(4, 300, key_a, &t), 0);
	spend(t, "10.0.0.1", true, &victim);	/* an attested session of a TD */
	spend(t, "10.0.0.9", false, &flood[0]); /* a flooding peer's failed attests */
	spend(t, "10.0.0.9", false, &flood[1]);
	spend(t, "10.0.0.2", false, &s); /* another peer, mid-attest */
	assert_int_equal(session_table_count(t), 4);

	/* Full: the busiest peer's oldest unattested entry goes, and is counted. */
	spend(t, "10.0.0.9", false, &flood[2]);
	assert_int_equal(session_table_count(t), 4);
	assert_int_equal(session_table_evictions(t), 1);
	assert_int_equal(session_attest_begin(t, &flood[0], "10.0.0.9", flood[0].nonce, &why), 0);
	assert_int_equal(session_table_evictions(t), 2);
	/* The attested entry of 10.0.0.1 was never a candidate. */
	assert_nonce_spent(t, &victim, "10.0.0.1");

	/* A table of attested entries only: refused by name, nothing dropped. */
	session_table_free(t);
	assert_int_equal(session_table_new(1, 300, key_a, &t), 0);
	spend(t, "10.0.0.1", true, &victim);
	new_session(t, &late, c);
	assert_int_equal(session_attest_begin(t, &late, "10.0.0.9", late.nonce, &why), -ENOSPC);
	assert_non_null(strstr(why, "session table full"));
	assert_nonce_spent(t, &victim, "10.0.0.1");
	session_table_free(t);

	/* Expired entries make room first and are dropped by the periodic expiry. */
	assert_int_equal(session_table_new(2, 1, key_a, &t), 0);
	spend(t, "10.0.0.1", true, &victim);
	spend(t, "10.0.0.1", true, &s);
	sleep(2);
	spend(t, "10.0.0.1", true, &late);
	assert_int_equal(session_table_evictions(t), 0);
	sleep(2);
	assert_int_equal(session_table_expire(t), 1);
	assert_int_equal(session_table_count(t), 0);
	session_table_free(t);
}

UNIT_TEST_MAIN(NULL, NULL, cmocka_unit_test(test_attest_once),
	       cmocka_unit_test(test_cookie_refusals), cmocka_unit_test(test_eviction))
