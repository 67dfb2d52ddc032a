/* Unit tests of keyd's /auth gate: a token bucket per client address (burst, then the rate),
 * independent addresses, a bounded table whose overflow shares one bucket, and the aggregated
 * counts handed out once per flush (at most max_lines addresses, the rest summed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit-test.h"

#include "keyd/auth_gate.h"

struct seen {
	unsigned n;
	char addr[8][48];
	unsigned long issued[8], refused[8], limited[8], unrecorded[8];
	char last[8][160], last_unrecorded[8][160];
};

static void collect(void *ctx, const struct auth_gate_counts *c)
{
	struct seen *s = ctx;

	if (s->n >= 8)
		return;
	snprintf(s->addr[s->n], sizeof(s->addr[0]), "%s", c->addr);
	s->issued[s->n] = c->issued;
	s->refused[s->n] = c->refused;
	s->limited[s->n] = c->limited;
	snprintf(s->last[s->n], sizeof(s->last[0]), "%s", c->last_refusal);
	s->unrecorded[s->n] = c->unrecorded;
	snprintf(s->last_unrecorded[s->n], sizeof(s->last_unrecorded[0]), "%s",
		 c->last_unrecorded ? c->last_unrecorded : "");
	s->n++;
}

static void test_bucket(void **state)
{
	struct auth_gate *g = NULL;
	struct seen s = {0};
	unsigned ok = 0;

	(void)state;
	assert_int_equal(auth_gate_new(10, 5, 1, 2, 100, &g), 0);
	for (int i = 0; i < 100; i++)
		ok += auth_gate_admit(g, "10.0.0.9");
	assert_int_equal(ok, 5); /* the burst */
	/* Another address has its own bucket. */
	assert_true(auth_gate_admit(g, "10.0.0.1"));
	auth_gate_record(g, "10.0.0.1", true, NULL);
	auth_gate_record(g, "10.0.0.9", false, "auth request: malformed JSON");
	/* The rate refills: 10/s, so a few tokens after 0.3 s. */
	usleep(300 * 1000);
	assert_true(auth_gate_admit(g, "10.0.0.9"));
	auth_gate_flush(g, 100, collect, &s);
	assert_int_equal(s.n, 2);
	for (unsigned i = 0; i < s.n; i++) {
		if (!strcmp(s.addr[i], "10.0.0.9")) {
			assert_int_equal(s.limited[i], 95);
			assert_int_equal(s.refused[i], 1);
			assert_string_equal(s.last[i], "auth request: malformed JSON");
		} else {
			assert_string_equal(s.addr[i], "10.0.0.1");
			assert_int_equal(s.issued[i], 1);
			assert_int_equal(s.limited[i], 0);
		}
	}
	/* Refusals recorded one by one: the audit burst (2), then counted with the last reason. */
	assert_true(auth_gate_audit_one(g, "10.0.0.9", "a"));
	assert_true(auth_gate_audit_one(g, "10.0.0.9", "b"));
	assert_false(auth_gate_audit_one(g, "10.0.0.9", "c"));
	assert_false(auth_gate_audit_one(g, "10.0.0.9", "d"));
	memset(&s, 0, sizeof(s));
	auth_gate_flush(g, 100, collect, &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.unrecorded[0], 2);
	assert_string_equal(s.last_unrecorded[0], "d");
	/* Counted once: nothing new, nothing handed out. */
	memset(&s, 0, sizeof(s));
	auth_gate_flush(g, 100, collect, &s);
	assert_int_equal(s.n, 0);
	auth_gate_free(g);
}

static void test_bounds(void **state)
{
	struct auth_gate *g = NULL;
	struct seen s = {0};
	char addr[32];

	(void)state;
	/* Two addresses fit; the others share one bucket of burst 2. */
	assert_int_equal(auth_gate_new(1, 2, 1, 2, 2, &g), 0);
	assert_true(auth_gate_admit(g, "10.0.0.1"));
	assert_true(auth_gate_admit(g, "10.0.0.2"));
	auth_gate_record(g, "10.0.0.1", true, NULL);
	auth_gate_record(g, "10.0.0.2", true, NULL);
	for (int i = 3; i < 10; i++) {
		snprintf(addr, sizeof(addr), "10.0.0.%d", i);
		auth_gate_admit(g, addr);
	}
	assert_false(auth_gate_admit(g, "10.0.0.99"));
	/* At most one line per address up to max_lines, the rest summed as "other addresses". */
	auth_gate_flush(g, 1, collect, &s);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.addr[1], "other addresses");
	/* One of the two addresses on its own line, the other in the sum with the overflow. */
	assert_int_equal(s.issued[0], 1);
	assert_int_equal(s.issued[1], 1);
	assert_int_equal(s.limited[0], 0);
	assert_int_equal(s.limited[1], 6);
	auth_gate_free(g);
}

UNIT_TEST_MAIN(NULL, NULL, cmocka_unit_test(test_bucket), cmocka_unit_test(test_bounds))
