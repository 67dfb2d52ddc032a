/* Unit tests of keyd's policy set: loading and validation messages, resource lookup, evaluation
 * reasons, policy-from-quote round trip, refcounted replacement. */
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

#include "keyd/policy.h"

static char dir[] = "/tmp/test-keyd-policy.XXXXXX";

static void write_file(const char *name, const char *text)
{
	char *p;
	FILE *f;

	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(p);
}

static void remove_file(const char *name)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	unlink(p);
	free(p);
}

static char *hex_of(uint8_t b, size_t n)
{
	char *s = malloc(2 * n + 1);

	for (size_t i = 0; i < n; i++)
		sprintf(s + 2 * i, "%02x", b);
	return s;
}

static void body_init(struct tdx_td_body *b)
{
	memset(b, 0, sizeof(*b));
	memset(b->mrtd, 0x11, sizeof(b->mrtd));
	for (int i = 0; i < 4; i++)
		memset(b->rtmr[i], 0x20 + i, sizeof(b->rtmr[i]));
	b->xfam[0] = 0xe7;
}

static void write_policy_from_body(const char *name, const char *id, const char *resource,
				   const struct tdx_td_body *b)
{
	char *doc = NULL;

	assert_int_equal(policy_from_td_body(b, id, resource, &doc), 0);
	write_file(name, doc);
	free(doc);
}

static void test_roundtrip_and_evaluate(void **state)
{
	struct tdx_td_body b, other;
	struct policy_set *s = NULL;
	const struct policy *p;
	struct policy_td td = {.body = &b, .tcb_status = TCB_UP_TO_DATE, .now = 1000};
	char reason[256];

	(void)state;
	body_init(&b);
	write_policy_from_body("a.json", "image-a", "default/disk/root", &b);
	assert_int_equal(policy_set_load_dir(dir, &s), 0);
	assert_int_equal(policy_set_size(s), 1);
	p = policy_set_find(s, "default/disk/root");
	assert_non_null(p);
	assert_string_equal(p->id, "image-a");
	assert_int_equal(p->key_version, 1);
	assert_null(policy_set_find(s, "default/disk/other"));
	assert_null(policy_set_find(s, "../disk/root"));

	assert_int_equal(policy_evaluate(p, &td, reason, sizeof(reason)), 0);

	other = b;
	other.mrtd[47] ^= 1;
	td.body = &other;
	assert_int_equal(policy_evaluate(p, &td, reason, sizeof(reason)), -EACCES);
	assert_string_equal(reason, "MRTD mismatch (policy image-a)");
	other = b;
	other.rtmr[3][0] ^= 1;
	assert_int_equal(policy_evaluate(p, &td, reason, sizeof(reason)), -EACCES);
	assert_string_equal(reason, "RTMR3 mismatch (policy image-a)");
	other = b;
	other.xfam[1] = 1;
	assert_int_equal(policy_evaluate(p, &td, reason, sizeof(reason)), -EACCES);
	assert_string_equal(reason, "XFAM mismatch (policy image-a)");
	other = b;
	other.td_attributes[0] = 1; /* DEBUG: refused whatever the policy */
	assert_int_equal(policy_evaluate(p, &td, reason, sizeof(reason)), -EACCES);
	assert_string_equal(reason, "debug TD refused");

	td.body = &b;
	td.tcb_status = TCB_OUT_OF_DATE;
	assert_int_equal(policy_evaluate(p, &td, reason, sizeof(reason)), -EACCES);
	assert_string_equal(reason, "TCB status OutOfDate not accepted by policy image-a");
	policy_set_unref(s);
	remove_file("a.json");
}

#define MRTD96                                                                                     \
	"0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" \
	"00000000"
#define WAIVE "{\"waive\":\"test\"}"
/* Every field a set must state, after mrtd: RTMRs pinned to zero, TD attributes to none. */
#define REST96                                                                   \
	",\"rtmr0\":\"" MRTD96 "\",\"rtmr1\":\"" MRTD96 "\",\"rtmr2\":\"" MRTD96 \
	"\",\"rtmr3\":\"" MRTD96 "\",\"td_attributes\":\"0000000000000000\""
/* The same, waived. */
#define REST_WAIVED                                                                     \
	",\"rtmr0\":" WAIVE ",\"rtmr1\":" WAIVE ",\"rtmr2\":" WAIVE ",\"rtmr3\":" WAIVE \
	",\"td_attributes\":" WAIVE

static void test_several_sets_and_prefix(void **state)
{
	struct tdx_td_body b, b2;
	struct policy_set *s = NULL;
	const struct policy *p;
	struct policy_td td = {.tcb_status = TCB_SW_HARDENING_NEEDED, .now = 100 * 86400};
	char *m1 = hex_of(0x11, 48), *m2 = hex_of(0x99, 48), *r0 = hex_of(0x20, 48),
	     *r1 = hex_of(0x21, 48), *r2 = hex_of(0x22, 48), *r3 = hex_of(0x23, 48), *doc;
	char reason[256];

	(void)state;
	body_init(&b);
	b2 = b;
	memset(b2.mrtd, 0x99, 48);
	memset(b2.rtmr[1], 0x55, 48);
	assert_true(
		asprintf(
			&doc,
			"{\"id\":\"web\",\"resources\":[\"web/disk/*\",\"web/disk/root\"],"
			"\"measurements\":[{\"mrtd\":\"%s\",\"rtmr0\":\"%s\",\"rtmr1\":\"%s\","
			"\"rtmr2\":\"%s\",\"rtmr3\":\"%s\",\"td_attributes\":\"0000000000000000\"},"
			"{\"comment\":\"new image\",\"mrtd\":\"%s\"" REST_WAIVED "}],"
			"\"tcb_statuses\":[\"UpToDate\",\"SWHardeningNeeded\"],"
			"\"max_collateral_age_days\":30,\"key_version\":7,"
			"\"min_tcb_eval_number\":17}",
			m1, r0, r1, r2, r3, m2) > 0);
	write_file("web.json", doc);
	free(doc);
	write_file("zz-more.json",
		   "{\"id\":\"web-data\",\"resources\":[\"web/disk/data*\"],"
		   "\"measurements\":[{\"mrtd\":\"" /* split */
		   "000000000000000000000000000000000000000000000000"
		   "000000000000000000000000000000000000000000000000\"" REST96 "}]}");
	write_file("README", "not a policy: ignored");
	assert_int_equal(policy_set_load_dir(dir, &s), 0);
	assert_int_equal(policy_set_size(s), 2);

	/* Longest prefix wins; an exact entry wins over prefixes. */
	p = policy_set_find(s, "web/disk/data1");
	assert_non_null(p);
	assert_string_equal(p->id, "web-data");
	p = policy_set_find(s, "web/disk/root");
	assert_string_equal(p->id, "web");
	p = policy_set_find(s, "web/disk/swap");
	assert_string_equal(p->id, "web");
	assert_int_equal(p->key_version, 7);

	td.body = &b;
	td.collateral_issued = td.now - 10 * 86400;
	td.tcb_eval_number = 16;
	assert_int_equal(policy_evaluate(p, &td, reason, sizeof(reason)), -EACCES);
	assert_string_equal(reason,
			    "TCB evaluation data number 16 below the minimum 17 of policy web");
	td.tcb_eval_number = 17;
	assert_int_equal(policy_evaluate(p, &td, reason, sizeof(reason)), 0);
	td.body = &b2; /* the second set: only MRTD is pinned, the rest waived */
	assert_int_equal(policy_evaluate(p, &td, reason, sizeof(reason)), 0);
	td.collateral_issued = td.now - 31 * 86400;
	assert_int_equal(policy_evaluate(p, &td, reason, sizeof(reason)), -EACCES);
	assert_string_equal(reason, "collateral older than 30 days (policy web)");
	policy_set_unref(s);
	remove_file("web.json");
	remove_file("zz-more.json");
	remove_file("README");
	free(m1);
	free(m2);
	free(r0);
	free(r1);
	free(r2);
	free(r3);
}

/* Runs policy_set_load_dir() with stderr captured; returns what it logged (malloc'ed). */
static char *load_capturing(int *r, struct policy_set **s)
{
	char path[] = "/tmp/test-keyd-policy-log.XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	char *buf = calloc(1, 8192);

	assert_true(fd >= 0 && saved >= 0 && buf);
	fflush(stderr);
	dup2(fd, 2);
	*r = policy_set_load_dir(dir, s);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	assert_true(pread(fd, buf, 8191, 0) >= 0);
	close(fd);
	unlink(path);
	return buf;
}

/* Each broken file fails the whole set (the caller keeps its old one), and the log names the
 * file, the field and the problem. */
static void test_validation(void **state)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
		{"{\"id\":\"x\",\"resources\":[\"a/b/c\"],\"measurements\":[{\"mrtd\":\"zz\"}]}",
		 "bad.json: field 'measurements'[0].mrtd must be 96 hex digits"},
		{"{\"id\":\"x\",\"resources\":[\"a/b/c\"],\"measurements\":[]}",
		 "bad.json: 'measurements' must hold 1 to 256 entries"},
		{"{\"id\":\"x\",\"resources\":[],\"measurements\":[{\"mrtd\":\"" MRTD96 "\"}]}",
		 "bad.json: 'resources' must hold 1 to 1024 entries"},
		{"{\"id\":\"x y\",\"resources\":[\"a/b/c\"],\"measurements\":[{\"mrtd\":\"" MRTD96
		 "\"}]}",
		 "bad.json: field 'id' must be"},
		{"{\"id\":\"x\",\"resources\":[\"a/../c\"],\"measurements\":[{\"mrtd\":\"" MRTD96
		 "\"}]}",
		 "entry 'a/../c' is not repo/type/tag"},
		{"{\"id\":\"x\",\"resource\":[\"a/b/c\"],\"measurements\":[{\"mrtd\":\"" MRTD96
		 "\"}]}",
		 "bad.json: unknown member 'resource'"},
		{"{\"id\":\"x\",\"resources\":[\"a/b/c\"],\"measurements\":[{\"rtmr0\":\"" MRTD96
		 "\"}]}",
		 "bad.json: field 'measurements'[0].mrtd is missing: pin it, or waive it "
		 "explicitly"},
		/* Secure defaults: an MRTD-only set, a null, an unknown field, a missing RTMR. */
		{"{\"id\":\"x\",\"resources\":[\"a/b/c\"],\"measurements\":[{\"mrtd\":\"" MRTD96
		 "\"}]}",
		 "bad.json: field 'measurements'[0].rtmr0 is missing"},
		{"{\"id\":\"x\",\"resources\":[\"a/b/c\"],\"measurements\":[{\"mrtd\":\"" MRTD96
		 "\"" REST96 ",\"mrowner\":null}]}",
		 "bad.json: field 'measurements'[0].mrowner is null"},
		{"{\"id\":\"x\",\"resources\":[\"a/b/c\"],\"measurements\":[{\"mrtd\":\"" MRTD96
		 "\"" REST96 ",\"rtmr4\":\"00\"}]}",
		 "bad.json: unknown field 'rtmr4' in 'measurements'[0]"},
		{"{\"id\":\"x\",\"resources\":[\"a/b/c\"],\"measurements\":[{\"mrtd\":\"" MRTD96
		 "\",\"rtmr0\":\"" MRTD96 "\",\"rtmr1\":\"" MRTD96 "\",\"rtmr2\":\"" MRTD96
		 "\",\"td_attributes\":\"0000000000000000\"}]}",
		 "bad.json: field 'measurements'[0].rtmr3 is missing"},
		{"{\"id\":\"x\",\"resources\":[\"a/b/c\"],\"measurements\":[{\"mrtd\":\"" MRTD96
		 "\"" REST96 "}],\"tcb_statuses\":null}",
		 "bad.json: field 'tcb_statuses' is null"},
		{"{\"id\":\"x\",\"resources\":[\"a/b/c\"],\"measurements\":[{\"mrtd\":\"" MRTD96
		 "\",\"rtmr0\":{\"waive\":\"\"},\"rtmr1\":\"" MRTD96 "\"}]}",
		 "bad.json: field 'measurements'[0].rtmr0.waive must say why"},
		{"{\"id\":\"x\",\"resources\":[\"a/b/c\"],\"measurements\":[{\"mrtd\":\"" MRTD96
		 "\"" REST96 ",\"mrservicetd\":" WAIVE "}]}",
		 "bad.json: field 'measurements'[0].mrservicetd must be 96 hex digits"},
		{"{\"id\":\"x\",\"resources\":[\"a/b/c\"],\"tcb_statuses\":[\"Revoked\"],"
		 "\"measurements\":[{\"mrtd\":\"" MRTD96 "\"" REST96 "}]}",
		 "bad.json: field 'tcb_statuses'[0]: a Revoked TCB is never accepted"},
		{"{\"id\":\"x\",\"id\":\"y\",\"resources\":[\"a/b/c\"]}", "duplicate member name"},
		{"{\"id\":\"x\",\"resources\":[\"a/b/c\"],\"tcb_statuses\":[\"Fine\"],"
		 "\"measurements\":[{\"mrtd\":\"" MRTD96 "\"" REST96 "}]}",
		 "bad.json: field 'tcb_statuses'[0] is not a TCB status name"},
		{"{\"id\":\"x\",\"resources\":[\"a/b/c\"],\"key_version\":0,"
		 "\"measurements\":[{\"mrtd\":\"" MRTD96 "\"" REST96 "}]}",
		 "bad.json: 'key_version' must be in [1, 4294967295]"},
		{"{\"id\": 5}", "bad.json: 'id' is not a string"},
		{"[1,2]", "bad.json: top level is not a JSON object"},
		{"{\"id\":\"x\"", "bad.json: malformed JSON"},
	};
	struct policy_set *s = NULL;
	struct tdx_td_body b;
	char *log;
	int r;

	(void)state;
	body_init(&b);
	/* An empty directory is refused too: it would release nothing, silently. */
	assert_int_equal(policy_set_load_dir(dir, &s), -ENOENT);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_policy_from_body("good.json", "good", "default/disk/root", &b);
		write_file("bad.json", bad[i].text);
		s = NULL;
		log = load_capturing(&r, &s);
		if (!strstr(log, bad[i].why))
			fail_msg("case %zu: expected \"%s\" in the log, got \"%s\"", i, bad[i].why,
				 log);
		free(log);
		assert_true(r < 0);
		assert_null(s);
	}
	/* Two policies with the same id, or the same resource entry, are ambiguous. */
	write_policy_from_body("bad.json", "good", "default/disk/other", &b);
	log = load_capturing(&r, &s);
	assert_int_equal(r, -EINVAL);
	assert_non_null(strstr(log, "field 'id': 'good' is also used by"));
	free(log);
	write_policy_from_body("bad.json", "other", "default/disk/root", &b);
	log = load_capturing(&r, &s);
	assert_int_equal(r, -EINVAL);
	assert_non_null(strstr(log, "'default/disk/root' is also covered by"));
	free(log);
	remove_file("bad.json");
	assert_int_equal(policy_set_load_dir(dir, &s), 0);
	/* A reference keeps the set alive after the owner drops it (SIGHUP swap). */
	assert_ptr_equal(policy_set_ref(s), s);
	policy_set_unref(s);
	assert_non_null(policy_set_find(s, "default/disk/root"));
	policy_set_unref(s);
	remove_file("good.json");
}

/* A waiver loads, and says so at every load; TD attributes without a pin follow the allow-list;
 * MRSERVICETD must be zero unless pinned; MROWNERCONFIG and TEE_TCB_SVN2 can be pinned. */
static void test_waivers_and_defaults(void **state)
{
	struct policy_set *s = NULL;
	struct tdx_td_body b;
	struct policy_td td = {.body = &b, .tcb_status = TCB_TD_RELAUNCH_ADVISED, .now = 1000};
	const struct policy *p;
	char *log, reason[256];
	int r;

	(void)state;
	memset(&b, 0, sizeof(b));
	write_file("w.json", "{\"id\":\"w\",\"resources\":[\"a/b/c\"],"
			     "\"tcb_statuses\":[\"UpToDate\",\"TDRelaunchAdvised\"],"
			     "\"measurements\":[{\"mrtd\":\"" MRTD96 "\"" REST_WAIVED
			     ",\"mrownerconfig\":\"" MRTD96 "\",\"tee_tcb_svn2\":"
			     "\"00000000000000000000000000000000\"}]}");
	for (int i = 0; i < 2; i++) {
		log = load_capturing(&r, &s);
		assert_int_equal(r, 0);
		assert_non_null(strstr(log, "w.json: field 'measurements'[0].rtmr3 WAIVED (test): "
					    "any value is accepted"));
		assert_non_null(strstr(log, "'measurements'[0].td_attributes not pinned (test)"));
		free(log);
		if (i == 0)
			policy_set_unref(s);
	}
	p = policy_set_find(s, "a/b/c");
	assert_int_equal(policy_evaluate(p, &td, reason, sizeof(reason)), 0);
	b.td_attributes[3] = 0x10 | 0x40; /* SEPT_VE_DISABLE | PKS: on the allow-list */
	assert_int_equal(policy_evaluate(p, &td, reason, sizeof(reason)), 0);
	b.td_attributes[7] = 0x80; /* PERFMON */
	assert_int_equal(policy_evaluate(p, &td, reason, sizeof(reason)), -EACCES);
	assert_string_equal(reason, "TD attributes mismatch (PERFMON set, not on the allow-list) "
				    "(policy w)");
	b.td_attributes[7] = 0;
	b.td_attributes[2] = 0x01; /* bit 16: reserved */
	assert_int_equal(policy_evaluate(p, &td, reason, sizeof(reason)), -EACCES);
	assert_non_null(strstr(reason, "a reserved bit set"));
	b.td_attributes[2] = 0;
	b.mrservicetd[47] = 1;
	assert_int_equal(policy_evaluate(p, &td, reason, sizeof(reason)), -EACCES);
	assert_non_null(strstr(reason, "MRSERVICETD mismatch"));
	b.mrservicetd[47] = 0;
	b.mrownerconfig[0] = 1;
	assert_int_equal(policy_evaluate(p, &td, reason, sizeof(reason)), -EACCES);
	assert_string_equal(reason, "MROWNERCONFIG mismatch (policy w)");
	b.mrownerconfig[0] = 0;
	b.tee_tcb_svn2[0] = 1;
	assert_int_equal(policy_evaluate(p, &td, reason, sizeof(reason)), -EACCES);
	assert_string_equal(reason, "TEE_TCB_SVN2 mismatch (policy w)");
	policy_set_unref(s);
	remove_file("w.json");
}

static void test_resource_paths(void **state)
{
	(void)state;
	assert_true(policy_resource_path_valid("default/disk/root"));
	assert_true(policy_resource_path_valid("a.b/c_d/e-f"));
	assert_false(policy_resource_path_valid("default/disk"));
	assert_false(policy_resource_path_valid("default/disk/root/x"));
	assert_false(policy_resource_path_valid("default//root"));
	assert_false(policy_resource_path_valid("../disk/root"));
	assert_false(policy_resource_path_valid("default/../root"));
	assert_false(policy_resource_path_valid("default/disk/.."));
	assert_false(policy_resource_path_valid("default/disk/."));
	assert_false(policy_resource_path_valid("default/disk/ro ot"));
	assert_false(policy_resource_path_valid("default/disk/root?x=1"));
	assert_false(policy_resource_path_valid(""));
}

UNIT_TEST_MAIN_IN_DIR(dir, cmocka_unit_test(test_roundtrip_and_evaluate),
		      cmocka_unit_test(test_several_sets_and_prefix),
		      cmocka_unit_test(test_validation),
		      cmocka_unit_test(test_waivers_and_defaults),
		      cmocka_unit_test(test_resource_paths))
