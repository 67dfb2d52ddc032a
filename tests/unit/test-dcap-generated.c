/* The DCAP verifier (src/dcap/dcap.h) on quotes and collateral from the test quote simulator;
 * needs no shared data, so it always runs. Generated v4 and v5 (body types 2 and 3) quotes
 * verify with the test root in both collateral forms and are refused with the built-in Intel
 * root. Refused, each with its specific reason: a one-byte tamper of header, body, QE report,
 * either signature, QE auth data or attestation key (and a bit flip in every 7th byte up to the
 * QE auth data); truncation, oversize, wrong certification data types; a quote, chain, CRL,
 * TCB info, QE identity or TCB signing chain from a second, same-named hierarchy; TCB info for
 * another FMSPC; a flipped collateral signature or signed byte; a revoked PCK leaf or PCK CA;
 * each collateral item expired or not yet valid; an expired PCK leaf; an unknown TDX module, a
 * too old QE, a QE identity mismatch. A debug TD verifies and reports debug; stale TCB info,
 * an old TDX module or QE yield OutOfDate (reported, still verified). */
#define _GNU_SOURCE /* nftw, FTW_DEPTH */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit-test.h"

#include "fileio.h"
#include "dcap/dcap.h"
#include "dcap-test.h"
#include "quote.h"
#include "quotesim.h"

#define DAY 86400

struct fixture {
	char dir[64];
	char other[96]; /* a second, independent hierarchy */
	struct quotesim *sim, *other_sim;
	struct dcap_verifier *test_root, *intel_root;
	struct dcap_collateral *bundle, *files;
	uint8_t *quote; /* the first hierarchy's default quote */
	size_t quote_len;
	time_t now;
};
_Static_assert(offsetof(struct fixture, dir) == 0, "dcap_test_fixture_new() makes dir");

static int collateral_from(const char *dir, bool bundle, struct dcap_collateral **out)
{
	struct dcap_test_files t;
	char p[160];
	struct dcap_collateral_files b = {.bundle = p};

	if (bundle) {
		snprintf(p, sizeof(p), "%s/%s", dir, QUOTESIM_COLLATERAL);
		return dcap_collateral_load(&b, out, NULL, 0);
	}
	dcap_test_files_split(&t, dir);
	return dcap_collateral_load(&t.files, out, NULL, 0);
}

static int verifier_for(const char *dir, struct dcap_verifier **out)
{
	char p[160];

	snprintf(p, sizeof(p), "%s/%s", dir, QUOTESIM_ROOT_CA);
	return dcap_verifier_new(p, out);
}

static int teardown(void **state);

/* A quote of s with options o (NULL: the defaults) and a fixed REPORTDATA. */
static int quote_gen(const struct quotesim *s, const struct quotesim_quote_opts *o, uint8_t **buf,
		     size_t *len)
{
	uint8_t rd[TDX_REPORT_DATA_LEN];

	for (size_t i = 0; i < sizeof(rd); i++)
		rd[i] = (uint8_t)(0x80 ^ i);
	return quotesim_quote(s, o, rd, buf, len);
}

static int setup(void **state)
{
	struct fixture *f = dcap_test_fixture_new(sizeof(*f), "test-dcap-generated");

	if (!f)
		return -1;
	*state = f;
	f->now = time(NULL);
	snprintf(f->other, sizeof(f->other), "%s/other", f->dir);
	if (quotesim_ca_create(f->dir, NULL) < 0 || quotesim_load(f->dir, &f->sim) < 0 ||
	    quotesim_ca_create(f->other, NULL) < 0 || quotesim_load(f->other, &f->other_sim) < 0 ||
	    verifier_for(f->dir, &f->test_root) < 0 ||
	    dcap_verifier_new(NULL, &f->intel_root) < 0 ||
	    collateral_from(f->dir, true, &f->bundle) < 0 ||
	    collateral_from(f->dir, false, &f->files) < 0 ||
	    quote_gen(f->sim, NULL, &f->quote, &f->quote_len) < 0) {
		teardown(state);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	dcap_collateral_free(f->bundle);
	dcap_collateral_free(f->files);
	dcap_verifier_free(f->test_root);
	dcap_verifier_free(f->intel_root);
	quotesim_free(f->sim);
	quotesim_free(f->other_sim);
	free(f->quote);
	dcap_test_fixture_free(f);
	return 0;
}

static void gen(const struct quotesim *s, const struct quotesim_quote_opts *o, uint8_t **buf,
		size_t *len)
{
	assert_int_equal(quote_gen(s, o, buf, len), 0);
}

/* Asserts a refusal with errno `err` whose reason contains `what`. */
static void assert_refused(int r, const struct dcap_result *res, int err, const char *what,
			   const char *label)
{
	if (r != err || res->verified || !strstr(res->reason, what))
		fail_msg("%s: want %d containing '%s', got %d verified=%d reason '%s'", label, err,
			 what, r, res->verified, res->reason);
}

static void assert_verified(int r, const struct dcap_result *res, const char *status,
			    const char *label)
{
	if (r != 0 || !res->verified || strcmp(tcb_status_name(res->tcb_status), status) != 0)
		fail_msg("%s: want verified %s, got %d verified=%d status '%s' reason '%s'", label,
			 status, r, res->verified, tcb_status_name(res->tcb_status), res->reason);
}

static void test_generated_quotes_verify(void **state)
{
	static const struct {
		uint16_t version, body_type;
	} kinds[] = {{4, TDX_BODY_TD10}, {5, TDX_BODY_TD15}, {5, TDX_BODY_TD10}};
	struct fixture *f = *state;
	struct quotesim_quote_opts o;
	struct quotesim_ca_opts def;
	struct dcap_result res;
	struct tdx_quote q;
	uint8_t *buf = NULL;
	size_t len;
	int r;

	quotesim_ca_opts_init(&def);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		quotesim_quote_opts_init(f->sim, &o);
		o.version = kinds[i].version;
		o.body_type = kinds[i].body_type;
		memset(o.body.mrtd, 0x5a, sizeof(o.body.mrtd));
		gen(f->sim, &o, &buf, &len);
		for (int form = 0; form < 2; form++) {
			r = dcap_test_verify(f->test_root, form ? f->files : f->bundle, buf, len,
					     f->now, &q, &res);
			assert_verified(r, &res, "UpToDate", "generated quote");
			assert_int_equal(res.n_advisory_ids, 0);
			assert_int_equal(q.version, kinds[i].version);
			assert_int_equal(q.body_kind, kinds[i].body_type);
			assert_memory_equal(q.body.mrtd, o.body.mrtd, TDX_MR_LEN);
			assert_memory_equal(res.fmspc, def.platform.fmspc, 6);
			assert_int_equal(res.pce_svn, def.platform.pce_svn);
			assert_int_equal(res.qe_svn, o.qe_isvsvn);
			assert_false(quote_td_debug(&q));
		}
		/* The same quote with the compiled-in Intel root: refused, names the root.
		 */
		r = dcap_test_verify(f->intel_root, f->bundle, buf, len, f->now, &q, &res);
		assert_refused(r, &res, -EKEYREJECTED, "root", "Intel root");
		free(buf);
	}
	assert_true(dcap_verifier_is_test_root(f->test_root));
	assert_false(dcap_verifier_is_test_root(f->intel_root));
}

/* Verifying again with the same verifier (PCK chain cache hit) must not relax
 * any check. */
static void test_tamper_each_part(void **state)
{
	static const struct {
		const char *tamper, *reason;
	} cases[] = {
		{"header", "quote signature"},	      {"body", "quote signature"},
		{"quote-sig", "quote signature"},     {"attest-key", "attestation key"},
		{"qe-report", "QE report signature"}, {"qe-report-sig", "QE report signature"},
		{"qe-auth-data", "QE report data"},   {"qe-report-data", "QE report data"},
	};
	struct fixture *f = *state;
	struct quotesim_quote_opts o;
	struct dcap_result res;
	uint8_t *buf = NULL;
	size_t len;
	unsigned flag;

	for (int v = 4; v <= 5; v++) {
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			quotesim_quote_opts_init(f->sim, &o);
			o.version = (uint16_t)v;
			o.body_type = TDX_BODY_TD15;
			gen(f->sim, &o, &buf, &len);
			assert_verified(dcap_test_verify(f->test_root, f->bundle, buf, len, f->now,
							 NULL, &res),
					&res, "UpToDate", "untampered");
			free(buf);
			assert_int_equal(quotesim_tamper_from_name(cases[i].tamper, &flag), 0);
			o.tamper = flag;
			gen(f->sim, &o, &buf, &len);
			assert_refused(dcap_test_verify(f->test_root, f->bundle, buf, len, f->now,
							NULL, &res),
				       &res, -EKEYREJECTED, cases[i].reason, cases[i].tamper);
			free(buf);
		}
	}
}

/* One flipped bit anywhere in the signed region or the signature data is
 * refused. */
static void test_flip_every_region(void **state)
{
	struct fixture *f = *state;
	struct dcap_result res;
	struct tdx_quote q;
	_cleanup_free_ uint8_t *buf = malloc(f->quote_len); /* a copy of the default quote */
	size_t len = f->quote_len, total, step;
	int r, refused = 0, tried = 0;

	assert_non_null(buf);
	memcpy(buf, f->quote, len);
	assert_int_equal(dcap_test_verify(f->test_root, f->bundle, buf, len, f->now, &q, &res), 0);
	total = q.total_len;
	/* Every byte up to the end of the QE auth data (the PEM chain is covered by
	 * the chain tests), in strides to keep the run short. */
	step = 7;
	for (size_t i = 0; i < 636 + 134 + 384 + 64 + 2 + 32; i += step) {
		buf[i] ^= 0x04;
		r = dcap_test_verify(f->test_root, f->bundle, buf, len, f->now, NULL, &res);
		buf[i] ^= 0x04;
		tried++;
		if (r < 0 && !res.verified && res.reason[0])
			refused++;
		else
			fail_msg("flip at byte %zu (of %zu) not refused", i, total);
	}
	assert_int_equal(refused, tried);
}

static void test_truncated_and_oversized(void **state)
{
	struct fixture *f = *state;
	struct quotesim_quote_opts o;
	struct dcap_result res;
	struct tdx_quote q;
	uint8_t *buf = NULL, *big;
	size_t len;
	const size_t cuts[] = {0, 1, 47, 48, 300, 631, 632, 635, 636, 700, 770, 1200, 1300};

	quotesim_quote_opts_init(f->sim, &o);
	gen(f->sim, &o, &buf, &len);
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
		assert_refused(
			dcap_test_verify(f->test_root, f->bundle, buf, cuts[i], f->now, NULL, &res),
			&res, -EBADMSG, "", "truncated");
	assert_refused(dcap_test_verify(f->test_root, f->bundle, buf, len - 1, f->now, NULL, &res),
		       &res, -EBADMSG, "", "one byte short");

	/* Trailing zeros (as 5006/8000-byte guest buffers) are allowed and never
	 * hashed. */
	free(buf);
	o.pad_to = 8000;
	gen(f->sim, &o, &buf, &len);
	assert_int_equal(len, 8000);
	assert_verified(dcap_test_verify(f->test_root, f->bundle, buf, len, f->now, &q, &res), &res,
			"UpToDate", "padded");
	assert_true(q.total_len < len);

	big = calloc(1, TDX_QUOTE_MAX_LEN + 1);
	assert_non_null(big);
	memcpy(big, buf, len);
	assert_refused(dcap_test_verify(f->test_root, f->bundle, big, TDX_QUOTE_MAX_LEN + 1, f->now,
					NULL, &res),
		       &res, -EBADMSG, "larger", "oversized");
	free(big);
	free(buf);
}

static void test_certification_data_types(void **state)
{
	static const struct {
		uint16_t outer, inner;
	} cases[] = {{5, 5}, {4, 5}, {7, 5}, {1, 5}, {6, 4}, {6, 6}, {6, 1}};
	struct fixture *f = *state;
	struct quotesim_quote_opts o;
	struct dcap_result res;
	uint8_t *buf = NULL;
	size_t len;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		quotesim_quote_opts_init(f->sim, &o);
		o.cert_data_type = cases[i].outer;
		o.inner_cert_data_type = cases[i].inner;
		gen(f->sim, &o, &buf, &len);
		assert_refused(
			dcap_test_verify(f->test_root, f->bundle, buf, len, f->now, NULL, &res),
			&res, -EBADMSG, "certification data type", "cert data type");
		free(buf);
	}
}

static void test_other_root(void **state)
{
	struct fixture *f = *state;
	struct quotesim_quote_opts o;
	struct dcap_result res;
	_cleanup_(dcap_collateral_freep) struct dcap_collateral *other_col = NULL;
	_cleanup_(dcap_verifier_freep) struct dcap_verifier *other_v = NULL;
	uint8_t *buf = NULL, *chain = NULL;
	size_t len;
	char p[160];

	/* A quote of the second hierarchy, checked against the first root and
	 * collateral. */
	quotesim_quote_opts_init(f->other_sim, &o);
	gen(f->other_sim, &o, &buf, &len);
	assert_refused(dcap_test_verify(f->test_root, f->bundle, buf, len, f->now, NULL, &res),
		       &res, -EKEYREJECTED, "root", "other hierarchy's quote");
	/* ... and with its own collateral, still under the wrong root. */
	assert_int_equal(collateral_from(f->other, true, &other_col), 0);
	assert_int_equal(dcap_test_verify(f->test_root, other_col, buf, len, f->now, NULL, &res),
			 -EKEYREJECTED);
	assert_false(res.verified);
	/* With its own root everything fits. */
	assert_int_equal(verifier_for(f->other, &other_v), 0);
	assert_verified(dcap_test_verify(other_v, other_col, buf, len, f->now, NULL, &res), &res,
			"UpToDate", "other hierarchy, own root");
	/* The first hierarchy's collateral is signed by another TCB signing key. */
	assert_int_equal(dcap_test_verify(other_v, f->bundle, buf, len, f->now, NULL, &res),
			 -EKEYREJECTED);
	free(buf);

	/* A quote of the first hierarchy that embeds the second's PCK chain. */
	snprintf(p, sizeof(p), "%s/%s", f->other, QUOTESIM_PCK_CHAIN);
	{
		FILE *fp = fopen(p, "r");
		long n;

		assert_non_null(fp);
		fseek(fp, 0, SEEK_END);
		n = ftell(fp);
		rewind(fp);
		chain = calloc(1, (size_t)n + 1);
		assert_non_null(chain);
		assert_int_equal(fread(chain, 1, (size_t)n, fp), (size_t)n);
		fclose(fp);
	}
	quotesim_quote_opts_init(f->sim, &o);
	o.chain_pem_override = (const char *)chain;
	gen(f->sim, &o, &buf, &len);
	assert_refused(dcap_test_verify(f->test_root, f->bundle, buf, len, f->now, NULL, &res),
		       &res, -EKEYREJECTED, "root", "foreign chain in quote");
	/* Under the second root the chain is fine but the QE report was signed by
	 * another key. */
	assert_refused(dcap_test_verify(other_v, other_col, buf, len, f->now, NULL, &res), &res,
		       -EKEYREJECTED, "QE report signature", "foreign chain, its own root");
	free(buf);
	free(chain);
}

/* Collateral variant of the first hierarchy, written beside it and loaded. */
static struct dcap_collateral *variant(const struct fixture *f, const char *name,
				       const struct quotesim_collateral_opts *co, bool bundle)
{
	struct dcap_collateral *c = NULL;
	char dir[128];

	snprintf(dir, sizeof(dir), "%s/%s", f->dir, name);
	assert_int_equal(quotesim_collateral_write(f->sim, dir, co), 0);
	assert_int_equal(collateral_from(dir, bundle, &c), 0);
	return c;
}

/* The first hierarchy's split collateral (without a CRL chain) with the files named in from_other
 * (NULL-terminated) taken from the second, same-named hierarchy. */
static void files_mixed(const struct fixture *f, const char *const *from_other,
			struct dcap_test_files *t)
{
	struct dcap_test_files other;

	dcap_test_files_split(t, f->dir);
	dcap_test_files_split(&other, f->other);
	t->files.pck_crl_chain = NULL;
	for (size_t k = 0; k < ARRAY_SIZE(t->path); k++)
		for (const char *const *name = from_other; *name; name++)
			if (!strcmp(t->path[k] + strlen(f->dir) + 1, *name))
				memcpy(t->path[k], other.path[k], sizeof(t->path[k]));
}

/* Collateral assembled from two hierarchies with identical names: every foreign item is caught
 * by its signature, never accepted by name. */
static void test_mixed_hierarchies(void **state)
{
	static const struct {
		const char *item, *from; /* which file comes from the other hierarchy */
		int load_err, verify_err;
	} cases[] = {
		{"pck_crl", QUOTESIM_PCK_CRL, 0, -EKEYREJECTED},
		{"root_crl", QUOTESIM_ROOT_CRL, 0, -EKEYREJECTED},
		{"tcb_info", QUOTESIM_TCB_INFO, -EKEYREJECTED, 0},
		{"qe_identity", QUOTESIM_QE_IDENTITY, -EKEYREJECTED, 0},
		{"tcb_signing_chain", QUOTESIM_TCB_SIGNING_CHAIN, -EKEYREJECTED, 0},
	};
	struct fixture *f = *state;
	struct dcap_result res;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *const from[] = {cases[i].from, NULL};
		struct dcap_test_files t;
		struct dcap_collateral *c = NULL;
		int r;

		files_mixed(f, from, &t);
		r = dcap_collateral_load(&t.files, &c, NULL, 0);
		if (r < 0) {
			if (r != cases[i].load_err)
				fail_msg("%s from the other hierarchy: load %d, want %d",
					 cases[i].item, r, cases[i].load_err);
			continue;
		}
		assert_int_equal(cases[i].load_err, 0);
		r = dcap_test_verify(f->test_root, c, f->quote, f->quote_len, f->now, NULL, &res);
		if (r != cases[i].verify_err || res.verified)
			fail_msg("%s from the other hierarchy: verify %d (%s), want %d",
				 cases[i].item, r, res.reason, cases[i].verify_err);
		dcap_collateral_free(c);
	}
	/* The other hierarchy's whole TCB signing side, consistent in itself, under root one. */
	{
		static const char *const tcb_side[] = {QUOTESIM_TCB_INFO, QUOTESIM_QE_IDENTITY,
						       QUOTESIM_TCB_SIGNING_CHAIN, NULL};
		struct dcap_test_files t;
		struct dcap_collateral *c = NULL;

		files_mixed(f, tcb_side, &t);
		assert_int_equal(dcap_collateral_load(&t.files, &c, NULL, 0), 0);
		assert_refused(dcap_test_verify(f->test_root, c, f->quote, f->quote_len, f->now,
						NULL, &res),
			       &res, -EKEYREJECTED, "TCB info signing chain", "foreign TCB signer");
		dcap_collateral_free(c);
	}
}

/* TCB info for another platform (FMSPC) is refused, not evaluated. */
static void test_wrong_fmspc(void **state)
{
	static const uint8_t fmspc[6] = {0x00, 0x60, 0x6a, 0x00, 0x00, 0x00};
	struct fixture *f = *state;
	struct quotesim_collateral_opts co = {.tcb_fmspc = fmspc};
	_cleanup_(dcap_collateral_freep) struct dcap_collateral *c = NULL;
	struct dcap_result res;

	c = variant(f, "wrong-fmspc", &co, true);
	assert_refused(
		dcap_test_verify(f->test_root, c, f->quote, f->quote_len, f->now, NULL, &res), &res,
		-EACCES, "FMSPC", "TCB info for another FMSPC");
}

/* Rewrites dir/name with one byte changed: at `pos` (negative: from the end), or at the first
 * occurrence of `find`, replacing it by `repl` (same length). */
static void patch_file(const char *dir, const char *name, long pos, const char *find,
		       const char *repl)
{
	char path[160];
	uint8_t *data = NULL;
	size_t len;
	char *hit;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(file_read_all(path, 1 << 20, &data, &len), 0);
	if (find) {
		hit = strstr((char *)data, find);
		assert_non_null(hit);
		assert_int_equal(strlen(find), strlen(repl));
		memcpy(hit, repl, strlen(repl));
	} else {
		size_t at = pos < 0 ? len - (size_t)-pos : (size_t)pos;

		assert_true(at < len);
		data[at] ^= 0x01;
	}
	assert_int_equal(file_write_private(path, data, len, 1), 0);
	free(data);
}

/* Flips the first hex digit of the bundle's "tcb_info_signature" value. */
static void flip_bundle_signature(const char *dir)
{
	char path[160];
	_cleanup_free_ uint8_t *data = NULL;
	size_t n;
	char *hit;

	snprintf(path, sizeof(path), "%s/%s", dir, QUOTESIM_COLLATERAL);
	assert_int_equal(file_read_all(path, 1 << 20, &data, &n), 0);
	hit = strstr((char *)data, "\"tcb_info_signature\"");
	assert_non_null(hit);
	hit = strchr(hit + strlen("\"tcb_info_signature\""), '"');
	assert_non_null(hit);
	hit[1] = hit[1] == '0' ? '1' : '0';
	assert_int_equal(file_write_private(path, data, n, 1), 0);
}

/* Every collateral signature and every signed byte counts: a flip in the signature or in the
 * signed text of TCB info / QE identity (both forms) or in a CRL is refused. */
static void test_collateral_signatures(void **state)
{
	static const struct {
		const char *label, *file;
		long pos;
		const char *find, *repl;
		bool bundle;
	} cases[] = {
		{"TCB info signature", QUOTESIM_TCB_INFO, -5, NULL, NULL, false},
		{"TCB info text", QUOTESIM_TCB_INFO, 0, "\"tcbEvaluationDataNumber\":17",
		 "\"tcbEvaluationDataNumber\":18", false},
		{"TCB info status", QUOTESIM_TCB_INFO, 0, "OutOfDate", "OutOfDatf", false},
		{"QE identity signature", QUOTESIM_QE_IDENTITY, -5, NULL, NULL, false},
		{"QE identity text", QUOTESIM_QE_IDENTITY, 0, "\"isvprodid\":2", "\"isvprodid\":3",
		 false},
		{"bundle TCB info signature", QUOTESIM_COLLATERAL, 0, NULL, NULL, true},
		{"bundle TCB info text", QUOTESIM_COLLATERAL, 0,
		 "\\\"tcbEvaluationDataNumber\\\":17", "\\\"tcbEvaluationDataNumber\\\":18", true},
		{"PCK CRL signature", QUOTESIM_PCK_CRL, -3, NULL, NULL, false},
		{"root CRL signature", QUOTESIM_ROOT_CRL, -3, NULL, NULL, false},
		{"PCK CRL body", QUOTESIM_PCK_CRL, 40, NULL, NULL, false},
	};
	struct fixture *f = *state;
	struct dcap_result res;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dcap_collateral *c = NULL;
		char dir[128];
		int r;

		snprintf(dir, sizeof(dir), "%s/sig-%zu", f->dir, i);
		assert_int_equal(quotesim_collateral_write(f->sim, dir, NULL), 0);
		if (cases[i].bundle && !cases[i].find)
			flip_bundle_signature(dir);
		else
			patch_file(dir, cases[i].file, cases[i].pos, cases[i].find, cases[i].repl);
		r = collateral_from(dir, cases[i].bundle, &c);
		if (r == 0) {
			r = dcap_test_verify(f->test_root, c, f->quote, f->quote_len, f->now, NULL,
					     &res);
			dcap_collateral_free(c);
			if (r == 0 || res.verified)
				fail_msg("%s: tampered collateral accepted", cases[i].label);
		}
		if (r != -EKEYREJECTED && r != -EBADMSG)
			fail_msg("%s: refused with %d, want -EKEYREJECTED or -EBADMSG",
				 cases[i].label, r);
	}
}

static void test_revoked(void **state)
{
	struct fixture *f = *state;
	struct quotesim_collateral_opts co = {0};
	struct dcap_collateral *c;
	struct dcap_result res;

	co.revoke_pck = true;
	for (int form = 0; form < 2; form++) {
		c = variant(f, "revoked-pck", &co, form);
		assert_refused(dcap_test_verify(f->test_root, c, f->quote, f->quote_len, f->now,
						NULL, &res),
			       &res, -EKEYREJECTED, "revoked", "revoked PCK leaf");
		dcap_collateral_free(c);
	}
	co.revoke_pck = false;
	co.revoke_pck_ca = true;
	c = variant(f, "revoked-pck-ca", &co, true);
	assert_refused(
		dcap_test_verify(f->test_root, c, f->quote, f->quote_len, f->now, NULL, &res), &res,
		-EKEYREJECTED, "revoked", "revoked PCK CA");
	dcap_collateral_free(c);
	/* Back on the unrevoked collateral, the same verifier (and its chain cache)
	 * accepts. */
	assert_verified(dcap_test_verify(f->test_root, f->bundle, f->quote, f->quote_len, f->now,
					 NULL, &res),
			&res, "UpToDate", "unrevoked again");
}

static void test_collateral_windows(void **state)
{
	static const char *const items[] = {"TCB info", "QE identity", "PCK CRL", "root CA CRL"};
	struct fixture *f = *state;
	struct dcap_result res;

	for (size_t i = 0; i < 4; i++) {
		for (int future = 0; future < 2; future++) {
			struct quotesim_collateral_opts co = {0};
			struct quotesim_window w = {f->now - 40 * DAY, f->now - 10 * DAY};
			struct dcap_collateral *c;
			char name[32];

			if (future)
				w = (struct quotesim_window){f->now + DAY, f->now + 30 * DAY};
			struct quotesim_window *item[] = {&co.tcb_info, &co.qe_identity,
							  &co.pck_crl, &co.root_crl};

			*item[i] = w;
			snprintf(name, sizeof(name), "window-%zu-%d", i, future);
			c = variant(f, name, &co, i % 2);
			assert_refused(dcap_test_verify(f->test_root, c, f->quote, f->quote_len,
							f->now, NULL, &res),
				       &res, -EKEYEXPIRED, items[i], name);
			assert_non_null(strstr(res.reason, future ? "not yet valid" : "expired"));
			dcap_collateral_free(c);
		}
	}
	/* The default collateral is valid for 30 days from now - 1 h, and no longer.
	 */
	assert_refused(dcap_test_verify(f->test_root, f->bundle, f->quote, f->quote_len,
					f->now + 31 * DAY, NULL, &res),
		       &res, -EKEYEXPIRED, "expired", "31 days later");
	assert_refused(dcap_test_verify(f->test_root, f->bundle, f->quote, f->quote_len,
					f->now - 2 * 3600, NULL, &res),
		       &res, -EKEYEXPIRED, "not yet valid", "2 hours earlier");
}

/* An expired PCK leaf (a hierarchy created with a past leaf window) is refused;
 * inside the leaf's window, with collateral valid there too, the same quote
 * verifies. */
static void test_expired_pck_leaf(void **state)
{
	struct fixture *f = *state;
	struct quotesim_ca_opts o;
	_cleanup_(quotesim_freep) struct quotesim *s = NULL;
	_cleanup_(dcap_verifier_freep) struct dcap_verifier *v = NULL;
	_cleanup_(dcap_collateral_freep) struct dcap_collateral *c = NULL;
	struct dcap_result res;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	char dir[128];
	const struct quotesim_window col = {f->now - 5 * DAY, f->now + 30 * DAY};

	quotesim_ca_opts_init(&o);
	o.ca_validity.not_before = f->now - 500 * DAY;
	o.ca_validity.not_after = f->now + 500 * DAY;
	o.leaf_validity.not_before = f->now - 400 * DAY;
	o.leaf_validity.not_after = f->now - DAY;
	o.collateral.tcb_info = o.collateral.qe_identity = col;
	o.collateral.pck_crl = o.collateral.root_crl = col;
	snprintf(dir, sizeof(dir), "%s/expired-leaf", f->dir);
	assert_int_equal(quotesim_ca_create(dir, &o), 0);
	assert_int_equal(quotesim_load(dir, &s), 0);
	assert_int_equal(verifier_for(dir, &v), 0);
	assert_int_equal(collateral_from(dir, true, &c), 0);
	gen(s, NULL, &buf, &len);
	assert_refused(dcap_test_verify(v, c, buf, len, f->now, NULL, &res), &res, -EKEYEXPIRED,
		       "PCK chain", "expired PCK leaf");
	assert_verified(dcap_test_verify(v, c, buf, len, f->now - 2 * DAY, NULL, &res), &res,
			"UpToDate", "inside the leaf's window");
}

static void test_debug_td(void **state)
{
	struct fixture *f = *state;
	struct quotesim_quote_opts o;
	struct dcap_result res;
	struct tdx_quote q;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;

	quotesim_quote_opts_init(f->sim, &o);
	o.body.td_attributes[0] |= 0x01;
	gen(f->sim, &o, &buf, &len);
	/* DCAP verifies a debug TD; refusing it is the key-release policy's job. */
	assert_verified(dcap_test_verify(f->test_root, f->bundle, buf, len, f->now, &q, &res), &res,
			"UpToDate", "debug TD");
	assert_true(quote_td_debug(&q));
	assert_true(quote_td_attributes(&q) & TDX_ATTR_DEBUG);
}

static void test_stale_tcb(void **state)
{
	struct fixture *f = *state;
	struct quotesim_collateral_opts co = {0};
	struct quotesim_quote_opts o;
	struct dcap_collateral *c;
	struct dcap_result res;
	uint8_t *buf = NULL;
	size_t len;

	co.stale_tcb = true;
	for (int form = 0; form < 2; form++) {
		c = variant(f, "stale", &co, form);
		for (int v = 4; v <= 5; v++) {
			quotesim_quote_opts_init(f->sim, &o);
			o.version = (uint16_t)v;
			o.body_type = TDX_BODY_TD15;
			gen(f->sim, &o, &buf, &len);
			assert_verified(
				dcap_test_verify(f->test_root, c, buf, len, f->now, NULL, &res),
				&res, "OutOfDate", "stale TCB");
			assert_int_equal(res.n_advisory_ids, 1);
			assert_string_equal(res.advisory_ids[0], "INTEL-SA-00000");
			free(buf);
		}
		dcap_collateral_free(c);
	}

	/* The platform's own TCB behind the collateral: module SVN 1 < 3, or an older
	 * QE. */
	quotesim_quote_opts_init(f->sim, &o);
	o.body.tee_tcb_svn[0] = 1;
	gen(f->sim, &o, &buf, &len);
	assert_verified(dcap_test_verify(f->test_root, f->bundle, buf, len, f->now, NULL, &res),
			&res, "OutOfDate", "old TDX module");
	free(buf);
	quotesim_quote_opts_init(f->sim, &o);
	o.qe_isvsvn = 5;
	gen(f->sim, &o, &buf, &len);
	assert_verified(dcap_test_verify(f->test_root, f->bundle, buf, len, f->now, NULL, &res),
			&res, "OutOfDate", "old QE");
	free(buf);
	/* Other statuses are reported by name. */
	co = (struct quotesim_collateral_opts){.tcb_status = "SWHardeningNeeded"};
	c = variant(f, "swhardening", &co, true);
	gen(f->sim, NULL, &buf, &len);
	assert_verified(dcap_test_verify(f->test_root, c, buf, len, f->now, NULL, &res), &res,
			"SWHardeningNeeded", "SWHardeningNeeded");
	free(buf);
	dcap_collateral_free(c);
}

static void test_tcb_not_supported_and_qe_mismatch(void **state)
{
	struct fixture *f = *state;
	struct quotesim_collateral_opts co = {0};
	struct quotesim_quote_opts o;
	_cleanup_(dcap_collateral_freep) struct dcap_collateral *c = NULL;
	struct dcap_result res;
	uint8_t *buf = NULL;
	size_t len;

	/* Module major version 2: no TDX_02 identity in the TCB info. */
	quotesim_quote_opts_init(f->sim, &o);
	o.body.tee_tcb_svn[1] = 2;
	gen(f->sim, &o, &buf, &len);
	assert_refused(dcap_test_verify(f->test_root, f->bundle, buf, len, f->now, NULL, &res),
		       &res, -EACCES, "", "unknown TDX module");
	free(buf);
	/* QE older than every QE identity level. */
	quotesim_quote_opts_init(f->sim, &o);
	o.qe_isvsvn = 1;
	gen(f->sim, &o, &buf, &len);
	assert_int_not_equal(
		dcap_test_verify(f->test_root, f->bundle, buf, len, f->now, NULL, &res), 0);
	assert_false(res.verified);
	free(buf);

	co.qe_mismatch = true;
	c = variant(f, "qe-mismatch", &co, true);
	gen(f->sim, NULL, &buf, &len);
	assert_refused(dcap_test_verify(f->test_root, c, buf, len, f->now, NULL, &res), &res,
		       -EACCES, "MRSIGNER", "QE identity mismatch");
	free(buf);
}

UNIT_TEST_MAIN(setup, teardown, cmocka_unit_test(test_generated_quotes_verify),
	       cmocka_unit_test(test_tamper_each_part), cmocka_unit_test(test_flip_every_region),
	       cmocka_unit_test(test_truncated_and_oversized),
	       cmocka_unit_test(test_certification_data_types), cmocka_unit_test(test_other_root),
	       cmocka_unit_test(test_mixed_hierarchies), cmocka_unit_test(test_wrong_fmspc),
	       cmocka_unit_test(test_collateral_signatures), cmocka_unit_test(test_revoked),
	       cmocka_unit_test(test_collateral_windows), cmocka_unit_test(test_expired_pck_leaf),
	       cmocka_unit_test(test_debug_td), cmocka_unit_test(test_stale_tcb),
	       cmocka_unit_test(test_tcb_not_supported_and_qe_mismatch))
