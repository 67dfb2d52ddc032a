/* Adversarial checks of the DCAP verifier (security review), inputs forged with the quote
 * simulator and OpenSSL: a PEM chain in a quote never makes the verifier ask for a pass phrase;
 * a cached PCK chain is accepted at exactly the times a full verification accepts it, and not
 * under newer collateral that revokes it; the cache holds up under eviction by 4 threads; the
 * raw "tcbInfo" text is the literal top-level member whatever else the document holds; a PCK
 * issuer that is not a CA, and a PCK leaf with a malformed SGX extension, are refused even when
 * correctly signed; the cache is keyed on the certificates' DER (a re-wrapped PEM chain hits it)
 * and the TCB signing chains are verified once per collateral. */
#define _GNU_SOURCE /* nftw, FTW_DEPTH */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <pthread.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit-test.h"
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cleanup.h"
#include "fileio.h"
#include "jwk.h"
#include "dcap/collateral.h"
#include "dcap/dcap.h"
#include "dcap-test.h"
#include "quote.h"
#include "quotesim.h"

#define DAY 86400

struct fixture {
	char dir[64];
	time_t now;
};
_Static_assert(offsetof(struct fixture, dir) == 0, "dcap_test_fixture_new() makes dir");

static int setup(void **state)
{
	struct fixture *f = dcap_test_fixture_new(sizeof(*f), "test-dcap-review");

	if (!f)
		return -1;
	f->now = time(NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	dcap_test_fixture_free(*state);
	return 0;
}

/* A hierarchy in dir/name with the given options; its verifier (test root) and bundle. */
static void hierarchy(const struct fixture *f, const char *name, const struct quotesim_ca_opts *o,
		      char *dir, size_t dir_len, struct quotesim **s, struct dcap_collateral **c)
{
	struct dcap_collateral_files files = {0};
	char p[200];

	snprintf(dir, dir_len, "%s/%s", f->dir, name);
	assert_int_equal(quotesim_ca_create(dir, o), 0);
	assert_int_equal(quotesim_load(dir, s), 0);
	snprintf(p, sizeof(p), "%s/%s", dir, QUOTESIM_COLLATERAL);
	files.bundle = p;
	assert_int_equal(dcap_collateral_load(&files, c, NULL, 0), 0);
}

static struct dcap_verifier *verifier_for(const char *dir)
{
	struct dcap_verifier *v = NULL;
	char p[200];

	snprintf(p, sizeof(p), "%s/%s", dir, QUOTESIM_ROOT_CA);
	assert_int_equal(dcap_verifier_new(p, &v), 0);
	return v;
}

/* The hierarchy's PCK chain with a "Proc-Type: 4,ENCRYPTED" header in its first certificate. */
static char *chain_with_encrypted_header(const char *dir)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----\n";
	static const char hdr[] = "Proc-Type: 4,ENCRYPTED\n"
				  "DEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\n";
	_cleanup_free_ uint8_t *chain = NULL;
	char p[200], *out, *at;
	size_t len, pre;

	snprintf(p, sizeof(p), "%s/%s", dir, QUOTESIM_PCK_CHAIN);
	assert_int_equal(file_read_all(p, 65536, &chain, &len), 0);
	at = memmem(chain, len, begin, sizeof(begin) - 1);
	assert_non_null(at);
	pre = (size_t)(at - (char *)chain) + sizeof(begin) - 1;
	out = malloc(len + sizeof(hdr) + 1);
	assert_non_null(out);
	memcpy(out, chain, pre);
	memcpy(out + pre, hdr, sizeof(hdr) - 1);
	memcpy(out + pre + sizeof(hdr) - 1, chain + pre, len - pre);
	out[len + sizeof(hdr) - 1] = '\0';
	return out;
}

/* OpenSSL's PEM reader asks for a pass phrase (on the controlling terminal, else stdin) when a
 * block says it is encrypted and no callback is given: a quote from the network must not be able
 * to make the server read its terminal or stdin (or block a worker there). Checked in a child
 * without a controlling terminal whose stdin holds a "pass phrase" that must stay unread. */
static void test_encrypted_pem_chain_no_prompt(void **state)
{
	struct fixture *f = *state;
	_cleanup_(quotesim_freep) struct quotesim *s = NULL;
	_cleanup_(dcap_collateral_freep) struct dcap_collateral *c = NULL;
	_cleanup_(dcap_verifier_freep) struct dcap_verifier *v = NULL;
	struct quotesim_quote_opts o;
	char dir[128], *pem;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	int status;
	pid_t pid;

	hierarchy(f, "enc", NULL, dir, sizeof(dir), &s, &c);
	v = verifier_for(dir);
	pem = chain_with_encrypted_header(dir);
	quotesim_quote_opts_init(s, &o);
	o.chain_pem_override = pem;
	assert_int_equal(quotesim_quote(s, &o, NULL, &buf, &len), 0);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct dcap_result res;
		struct tdx_quote q;
		uint8_t fmspc[6];
		int fds[2], left = -1, r1, r2;

		alarm(60); /* a prompt that blocks is a failure, not a hang of the test run */
		if (setsid() < 0 || pipe(fds) < 0 || write(fds[1], "secret\n", 7) != 7 ||
		    dup2(fds[0], STDIN_FILENO) < 0)
			_exit(3);
		r1 = dcap_test_verify(v, c, buf, len, f->now, &q, &res);
		r2 = quote_parse(buf, len, &q, NULL, 0) == 0
			     ? dcap_quote_fmspc(NULL, &q, fmspc, NULL)
			     : 0;
		if (ioctl(STDIN_FILENO, FIONREAD, &left) < 0)
			_exit(4);
		fprintf(stderr, "child: verify %d (%s), fmspc %d, %d stdin bytes left\n", r1,
			res.reason, r2, left);
		_exit(r1 < 0 && !res.verified && r2 < 0 && left == 7 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("the verifier read stdin for a PEM pass phrase (status 0x%x)", status);

	free(pem);
}

/* The PCK chain cache: whatever was cached at an earlier time, a quote verifies at time t
 * exactly when a verifier with an empty cache verifies it at t. Probed at the PCK leaf's
 * notBefore and notAfter (and one second either side). */
static void test_cache_matches_full_verification(void **state)
{
	struct fixture *f = *state;
	const struct quotesim_window col = {f->now - 30 * DAY, f->now + 30 * DAY};
	const time_t nb = f->now - 2 * DAY, na = f->now + 3 * DAY;
	const time_t probes[] = {nb - 1, nb, nb + 1, na - 1, na, na + 1};
	struct quotesim_ca_opts o;
	_cleanup_(quotesim_freep) struct quotesim *s = NULL;
	_cleanup_(dcap_collateral_freep) struct dcap_collateral *c = NULL;
	struct dcap_verifier *warm;
	struct dcap_result res;
	char dir[128];
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;

	quotesim_ca_opts_init(&o);
	o.ca_validity.not_before = f->now - 20 * DAY;
	o.ca_validity.not_after = f->now + 20 * DAY;
	o.leaf_validity.not_before = nb;
	o.leaf_validity.not_after = na;
	o.collateral.tcb_info = o.collateral.qe_identity = col;
	o.collateral.pck_crl = o.collateral.root_crl = col;
	hierarchy(f, "window", &o, dir, sizeof(dir), &s, &c);
	assert_int_equal(quotesim_quote(s, NULL, NULL, &buf, &len), 0);

	for (size_t i = 0; i < ARRAY_SIZE(probes); i++) {
		struct dcap_verifier *cold = verifier_for(dir);
		int r_cold, r_warm;

		/* Fill the cache inside the window, then ask at the probe. */
		warm = verifier_for(dir);
		assert_int_equal(dcap_test_verify(warm, c, buf, len, f->now, NULL, &res), 0);
		r_warm = dcap_test_verify(warm, c, buf, len, probes[i], NULL, &res);
		r_cold = dcap_test_verify(cold, c, buf, len, probes[i], NULL, &res);
		if (r_warm != r_cold)
			fail_msg("at leaf notBefore%+lld / notAfter%+lld: cached %d, full %d",
				 (long long)(probes[i] - nb), (long long)(probes[i] - na), r_warm,
				 r_cold);
		dcap_verifier_free(cold);
		dcap_verifier_free(warm);
	}
	/* And the full verification's own answers at the edges. */
	warm = verifier_for(dir);
	assert_int_equal(dcap_test_verify(warm, c, buf, len, nb, NULL, &res), 0);
	assert_int_equal(dcap_test_verify(warm, c, buf, len, na - 1, NULL, &res), 0);
	assert_int_equal(dcap_test_verify(warm, c, buf, len, na, NULL, &res), -EKEYEXPIRED);
	assert_int_equal(dcap_test_verify(warm, c, buf, len, nb - 1, NULL, &res), -EKEYEXPIRED);
	dcap_verifier_free(warm);
}

/* json_raw_member() returns the literal top-level member (the bytes that are then both
 * signature-checked and parsed), or refuses: strings holding quotes, braces and the key's name,
 * a nested "tcbInfo", and an escaped spelling of the key are not mistaken for it. */
static void test_raw_member_adversarial(void **state)
{
	static const struct {
		const char *doc, *want; /* want NULL: refused */
	} cases[] = {
		{"{\"a\":\"\\\"tcbInfo\\\":{\\\"x\\\":1}\",\"tcbInfo\":{\"v\":1}}", "{\"v\":1}"},
		{"{\"a\":{\"tcbInfo\":{\"v\":2}},\"tcbInfo\":{\"v\":1}}", "{\"v\":1}"},
		{"{\"a\":[\"}\",\"{\",\"]\"],\"tcbInfo\":{\"s\":\"}\\\\\"}}", "{\"s\":\"}\\\\\"}"},
		{"{\"tcb\\u0049nfo\":{\"v\":2},\"tcbInfo\":{\"v\":1}}", "{\"v\":1}"},
		{" \r\n{ \"tcbInfo\" :\t{\"v\":1} , \"signature\":\"00\"}\n", "{\"v\":1}"},
		{"{\"tcbInfo\":{\"v\":1},\"tcbInfo\":{\"v\":1}}", NULL},
		{"{\"tcbInfo\":{\"v\":1}}{\"tcbInfo\":{\"v\":2}}", NULL},
		{"{\"tcbInfo\":{\"v\":1}} x", NULL},
		{"\xef\xbb\xbf{\"tcbInfo\":{\"v\":1}}", NULL},
		{"{\"tcbInfo\":{\"v\":1}", NULL},
		{"{/*c*/\"tcbInfo\":{\"v\":1}}", NULL},
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *v = NULL;
		size_t n = 0;
		int r = json_raw_member(cases[i].doc, strlen(cases[i].doc), "tcbInfo", &v, &n);

		if (!cases[i].want) {
			if (r >= 0)
				fail_msg("case %zu accepted: '%.*s'", i, (int)n, v);
			continue;
		}
		if (r < 0 || n != strlen(cases[i].want) || memcmp(v, cases[i].want, n) != 0)
			fail_msg("case %zu: r %d, got '%.*s', want '%s'", i, r, (int)n, v ? v : "",
				 cases[i].want);
	}
}

/* Many platforms at once: more distinct PCK chains (the same certificates, each followed by a
 * different number of newlines, so a different cache key) than the cache has slots, verified by
 * four threads on one verifier and one collateral: entries are evicted while other threads use
 * them. Every verification succeeds; run under ThreadSanitizer this also shows the locking. */
#define EVICT_QUOTES  80
#define EVICT_THREADS 4

struct evict_worker {
	struct dcap_verifier *v;
	const struct dcap_collateral *c;
	uint8_t **quotes;
	size_t *lens;
	time_t at;
	unsigned seed;
	int failures;
};

static void *evict_run(void *arg)
{
	struct evict_worker *w = arg;

	for (int i = 0; i < 3 * EVICT_QUOTES; i++) {
		struct dcap_result res;
		size_t k = (size_t)(rand_r(&w->seed) % EVICT_QUOTES);

		if (dcap_test_verify(w->v, w->c, w->quotes[k], w->lens[k], w->at, NULL, &res) !=
			    0 ||
		    !res.verified)
			w->failures++;
	}
	return NULL;
}

static void test_cache_eviction_concurrent(void **state)
{
	struct fixture *f = *state;
	_cleanup_(quotesim_freep) struct quotesim *s = NULL;
	_cleanup_(dcap_collateral_freep) struct dcap_collateral *c = NULL;
	_cleanup_(dcap_verifier_freep) struct dcap_verifier *v = NULL;
	struct quotesim_quote_opts o;
	struct evict_worker w[EVICT_THREADS];
	pthread_t th[EVICT_THREADS];
	uint8_t *quotes[EVICT_QUOTES];
	size_t lens[EVICT_QUOTES];
	_cleanup_free_ uint8_t *chain = NULL;
	char dir[128], p[200], *pem;
	size_t len;

	hierarchy(f, "evict", NULL, dir, sizeof(dir), &s, &c);
	v = verifier_for(dir);
	snprintf(p, sizeof(p), "%s/%s", dir, QUOTESIM_PCK_CHAIN);
	assert_int_equal(file_read_all(p, 65536, &chain, &len), 0);
	pem = malloc(len + EVICT_QUOTES + 1);
	assert_non_null(pem);
	memcpy(pem, chain, len);
	for (size_t k = 0; k < EVICT_QUOTES; k++) {
		memset(pem + len, '\n', k);
		pem[len + k] = '\0';
		quotesim_quote_opts_init(s, &o);
		o.chain_pem_override = pem;
		assert_int_equal(quotesim_quote(s, &o, NULL, &quotes[k], &lens[k]), 0);
	}
	for (int i = 0; i < EVICT_THREADS; i++) {
		w[i] = (struct evict_worker){v, c, quotes, lens, f->now, (unsigned)i + 1, 0};
		assert_int_equal(pthread_create(&th[i], NULL, evict_run, &w[i]), 0);
	}
	for (int i = 0; i < EVICT_THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
	for (size_t k = 0; k < EVICT_QUOTES; k++)
		free(quotes[k]);
	free(pem);
}

/* ---- a PCK issuer forged under the (test) root ----------------------------------------- */

static X509 *read_cert(const char *dir, const char *name)
{
	char p[200];
	FILE *fp;
	X509 *x;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fp = fopen(p, "r");
	assert_non_null(fp);
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(x);
	return x;
}

static EVP_PKEY *read_key(const char *dir, const char *name)
{
	char p[200];
	FILE *fp;
	EVP_PKEY *k;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fp = fopen(p, "r");
	assert_non_null(fp);
	k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(k);
	return k;
}

static void add_ext(X509 *issuer, X509 *subject, X509_CRL *crl, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer, subject, NULL, crl, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	assert_non_null(ext);
	if (crl)
		assert_int_equal(X509_CRL_add_ext(crl, ext, -1), 1);
	else
		assert_int_equal(X509_add_ext(subject, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/* A certificate named like the PCK CA, issued by the root, with basic constraints `bc` (NULL:
 * none, as an end-entity certificate); key usage keyCertSign and cRLSign only for a CA. */
static X509 *forge_issuer(X509 *root, EVP_PKEY *root_key, X509 *real_ca, EVP_PKEY *key,
			  const char *bc, time_t now)
{
	X509 *x = X509_new();

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 0x7e57), 1);
	assert_int_equal(X509_set_subject_name(x, X509_get_subject_name(real_ca)), 1);
	assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(root)), 1);
	assert_non_null(X509_time_adj_ex(X509_getm_notBefore(x), -1, 0, &now));
	assert_non_null(X509_time_adj_ex(X509_getm_notAfter(x), 365, 0, &now));
	assert_int_equal(X509_set_pubkey(x, key), 1);
	if (bc)
		add_ext(root, x, NULL, NID_basic_constraints, bc);
	if (bc && strstr(bc, "CA:TRUE"))
		add_ext(root, x, NULL, NID_key_usage, "critical,keyCertSign,cRLSign");
	add_ext(x, x, NULL, NID_subject_key_identifier, "hash");
	add_ext(root, x, NULL, NID_authority_key_identifier, "keyid:always");
	assert_true(X509_sign(x, root_key, EVP_sha256()) > 0);
	return x;
}

/* The real PCK leaf (same key, same SGX extension) re-signed by `issuer`. */
static X509 *reissue_leaf(X509 *leaf, X509 *issuer, EVP_PKEY *issuer_key)
{
	X509 *x = X509_dup(leaf);
	int i;

	assert_non_null(x);
	i = X509_get_ext_by_NID(x, NID_authority_key_identifier, -1);
	if (i >= 0)
		X509_EXTENSION_free(X509_delete_ext(x, i));
	add_ext(issuer, x, NULL, NID_authority_key_identifier, "keyid:always");
	assert_true(X509_sign(x, issuer_key, EVP_sha256()) > 0);
	return x;
}

/* A CRL of `issuer`, valid around now, revoking `revoked` (may be NULL: empty), as DER in path. */
static void write_crl_revoking(X509 *issuer, EVP_PKEY *key, time_t now, X509 *revoked,
			       const char *path)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *from = ASN1_TIME_adj(NULL, now, -1, 0), *until = ASN1_TIME_adj(NULL, now, 30, 0);
	unsigned char *der = NULL;
	int n;

	assert_non_null(crl);
	assert_int_equal(X509_CRL_set_version(crl, 1), 1);
	assert_int_equal(X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)), 1);
	assert_int_equal(X509_CRL_set1_lastUpdate(crl, from), 1);
	assert_int_equal(X509_CRL_set1_nextUpdate(crl, until), 1);
	if (revoked) {
		X509_REVOKED *rev = X509_REVOKED_new();

		assert_non_null(rev);
		assert_int_equal(X509_REVOKED_set_serialNumber(rev, X509_get_serialNumber(revoked)),
				 1);
		assert_int_equal(X509_REVOKED_set_revocationDate(rev, from), 1);
		assert_int_equal(X509_CRL_add0_revoked(crl, rev), 1);
	}
	add_ext(issuer, NULL, crl, NID_authority_key_identifier, "keyid:always");
	assert_true(X509_CRL_sign(crl, key, EVP_sha256()) > 0);
	n = i2d_X509_CRL(crl, &der);
	assert_true(n > 0);
	assert_int_equal(file_write_private(path, der, (size_t)n, 1), 0);
	OPENSSL_free(der);
	ASN1_TIME_free(from);
	ASN1_TIME_free(until);
	X509_CRL_free(crl);
}

static void write_crl(X509 *issuer, EVP_PKEY *key, time_t now, const char *path)
{
	write_crl_revoking(issuer, key, now, NULL, path);
}

static char *chain_pem(X509 *leaf, X509 *ca, X509 *root)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out;
	long n;

	assert_non_null(b);
	assert_int_equal(PEM_write_bio_X509(b, leaf), 1);
	assert_int_equal(PEM_write_bio_X509(b, ca), 1);
	assert_int_equal(PEM_write_bio_X509(b, root), 1);
	n = BIO_get_mem_data(b, &data);
	out = strndup(data, (size_t)n);
	assert_non_null(out);
	BIO_free(b);
	return out;
}

/* A quote of s whose PCK leaf is the hierarchy's in dir re-issued by its PCK CA: same key, same
 * SGX extension, new DER (another platform's certificate, as far as a cache can tell). */
static void quote_with_reissued_leaf(const struct quotesim *s, const char *dir, uint8_t **out,
				     size_t *out_len)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *ca_key = read_key(dir, QUOTESIM_PCK_CA_KEY);
	X509 *leaf = read_cert(dir, QUOTESIM_PCK_LEAF), *ca = read_cert(dir, QUOTESIM_PCK_CA);
	X509 *root = read_cert(dir, QUOTESIM_ROOT_CA), *other_leaf = reissue_leaf(leaf, ca, ca_key);
	struct quotesim_quote_opts o;
	char *pem = chain_pem(other_leaf, ca, root);

	quotesim_quote_opts_init(s, &o);
	o.chain_pem_override = pem;
	assert_int_equal(quotesim_quote(s, &o, NULL, out, out_len), 0);
	free(pem);
	X509_free(leaf);
	X509_free(ca);
	X509_free(root);
	X509_free(other_leaf);
}

/* The PCK leaf's issuer must be a CA: a certificate the root issued with the PCK CA's name but
 * CA:FALSE, or without basic constraints (an end-entity certificate), cannot issue a PCK leaf,
 * even with its own correctly signed PCK CRL. The same forgery with CA:TRUE (what the root's key
 * holder may legitimately issue) verifies, which shows the refusals are for the CA flag. */
static void test_pck_issuer_must_be_ca(void **state)
{
	static const struct {
		const char *bc;
		int want;
	} cases[] = {
		{"critical,CA:TRUE,pathlen:0", 0},
		{"critical,CA:FALSE", -EKEYREJECTED},
		{NULL, -EKEYREJECTED},
	};
	static const char refusal[] = "PCK chain: invalid CA certificate (depth 1)";
	struct fixture *f = *state;
	_cleanup_(quotesim_freep) struct quotesim *s = NULL;
	_cleanup_(dcap_collateral_freep) struct dcap_collateral *c0 = NULL;
	_cleanup_(dcap_verifier_freep) struct dcap_verifier *v = NULL;
	X509 *root, *real_ca, *real_leaf;
	EVP_PKEY *root_key, *ca_key;
	char dir[128];

	hierarchy(f, "forged-ca", NULL, dir, sizeof(dir), &s, &c0);
	v = verifier_for(dir);
	root = read_cert(dir, QUOTESIM_ROOT_CA);
	real_ca = read_cert(dir, QUOTESIM_PCK_CA);
	real_leaf = read_cert(dir, QUOTESIM_PCK_LEAF);
	root_key = read_key(dir, QUOTESIM_ROOT_CA_KEY);
	ca_key = EVP_EC_gen("P-256");
	assert_non_null(ca_key);

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct dcap_test_files t;
		struct dcap_collateral *c = NULL;
		struct quotesim_quote_opts o;
		struct dcap_result res;
		char *pem;
		X509 *ca, *leaf;
		uint8_t *buf = NULL;
		size_t len;
		int r;

		ca = forge_issuer(root, root_key, real_ca, ca_key, cases[i].bc, f->now);
		leaf = reissue_leaf(real_leaf, ca, ca_key);
		/* The hierarchy's collateral with the forged issuer's CRL, without a CRL chain. */
		dcap_test_files_split(&t, dir);
		snprintf(t.path[2], sizeof(t.path[2]), "%s/forged_crl_%zu.der", dir, i);
		write_crl(ca, ca_key, f->now, t.path[2]);
		t.files.pck_crl_chain = NULL;
		assert_int_equal(dcap_collateral_load(&t.files, &c, NULL, 0), 0);

		pem = chain_pem(leaf, ca, root);
		quotesim_quote_opts_init(s, &o);
		o.chain_pem_override = pem;
		assert_int_equal(quotesim_quote(s, &o, NULL, &buf, &len), 0);
		r = dcap_test_verify(v, c, buf, len, f->now, NULL, &res);
		if (r != cases[i].want || (r < 0 && strcmp(res.reason, refusal) != 0))
			fail_msg("issuer with basic constraints '%s': got %d '%s', want %d",
				 cases[i].bc ? cases[i].bc : "(none)", r, res.reason,
				 cases[i].want);
		free(buf);
		free(pem);
		dcap_collateral_free(c);
		X509_free(leaf);
		X509_free(ca);
	}
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(root_key);
	X509_free(real_leaf);
	X509_free(real_ca);
	X509_free(root);
}

/* ---- PCK leaves with malformed SGX extensions, signed by the (test) PCK CA ----------------- */

enum ext_mutation {
	EXT_UNCHANGED,
	EXT_FMSPC_TWICE,
	EXT_NO_FMSPC,
	EXT_FMSPC_5_BYTES,
	EXT_SGX_TYPE_INTEGER,
	EXT_TCB_NO_PCESVN,
	EXT_TCB_COMP1_TWICE,
	EXT_TCB_COMP1_NEGATIVE,
	EXT_TCB_COMP1_256,
	EXT_TCB_PCESVN_65536,
	EXT_TCB_COMP1_OCTETS,
};

static STACK_OF(ASN1_TYPE) * seq_decode(const ASN1_STRING *der)
{
	const unsigned char *p = ASN1_STRING_get0_data(der);
	STACK_OF(ASN1_TYPE) *sk = d2i_ASN1_SEQUENCE_ANY(NULL, &p, ASN1_STRING_length(der));

	assert_non_null(sk);
	return sk;
}

static ASN1_TYPE *seq_encode(STACK_OF(ASN1_TYPE) * sk)
{
	unsigned char *der = NULL;
	int n = i2d_ASN1_SEQUENCE_ANY(sk, &der);
	ASN1_STRING *str = ASN1_STRING_new();
	ASN1_TYPE *t = ASN1_TYPE_new();

	assert_true(n > 0);
	assert_non_null(str);
	assert_non_null(t);
	assert_int_equal(ASN1_STRING_set(str, der, n), 1);
	ASN1_TYPE_set(t, V_ASN1_SEQUENCE, str);
	OPENSSL_free(der);
	return t;
}

/* The last arc of the OID of a SEQUENCE { OID, value } entry. */
static long entry_arc(const ASN1_TYPE *entry)
{
	STACK_OF(ASN1_TYPE) *pair = seq_decode(entry->value.sequence);
	char txt[80];
	const char *dot;
	long arc;

	assert_int_equal(
		OBJ_obj2txt(txt, sizeof(txt), sk_ASN1_TYPE_value(pair, 0)->value.object, 1) > 0, 1);
	dot = strrchr(txt, '.');
	arc = strtol(dot + 1, NULL, 10);
	sk_ASN1_TYPE_pop_free(pair, ASN1_TYPE_free);
	return arc;
}

static int entry_find(STACK_OF(ASN1_TYPE) * list, long arc)
{
	for (int i = 0; i < sk_ASN1_TYPE_num(list); i++)
		if (entry_arc(sk_ASN1_TYPE_value(list, i)) == arc)
			return i;
	fail_msg("no entry with arc %ld", arc);
	return -1;
}

static void list_replace(STACK_OF(ASN1_TYPE) * list, int i, ASN1_TYPE *t)
{
	ASN1_TYPE_free(sk_ASN1_TYPE_value(list, i));
	sk_ASN1_TYPE_set(list, i, t);
}

static ASN1_TYPE *type_dup(const ASN1_TYPE *t)
{
	ASN1_TYPE *d = ASN1_TYPE_new();

	assert_non_null(d);
	assert_int_equal(ASN1_TYPE_set1(d, t->type, t->value.ptr), 1);
	return d;
}

/* Sets the value of entry i of list with `set`, re-encoding the entry. */
static void entry_set_value(STACK_OF(ASN1_TYPE) * list, int i, int type, long v)
{
	STACK_OF(ASN1_TYPE) *pair = seq_decode(sk_ASN1_TYPE_value(list, i)->value.sequence);
	ASN1_TYPE *val = sk_ASN1_TYPE_value(pair, 1);

	if (type == V_ASN1_INTEGER) {
		ASN1_INTEGER *ai = ASN1_INTEGER_new();

		assert_int_equal(ASN1_INTEGER_set(ai, v), 1);
		ASN1_TYPE_set(val, V_ASN1_INTEGER, ai);
	} else {
		ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
		static const unsigned char bytes[16];

		assert_int_equal(ASN1_OCTET_STRING_set(os, bytes, (int)v), 1);
		ASN1_TYPE_set(val, V_ASN1_OCTET_STRING, os);
	}
	list_replace(list, i, seq_encode(pair));
	sk_ASN1_TYPE_pop_free(pair, ASN1_TYPE_free);
}

static void mutate_tcb(STACK_OF(ASN1_TYPE) * top, enum ext_mutation m)
{
	int ti = entry_find(top, 2);
	STACK_OF(ASN1_TYPE) *pair = seq_decode(sk_ASN1_TYPE_value(top, ti)->value.sequence);
	STACK_OF(ASN1_TYPE) *tcb = seq_decode(sk_ASN1_TYPE_value(pair, 1)->value.sequence);
	int i;

	switch (m) {
	case EXT_TCB_NO_PCESVN:
		i = entry_find(tcb, 17);
		ASN1_TYPE_free(sk_ASN1_TYPE_delete(tcb, i));
		break;
	case EXT_TCB_COMP1_TWICE:
		sk_ASN1_TYPE_push(tcb, type_dup(sk_ASN1_TYPE_value(tcb, entry_find(tcb, 1))));
		break;
	case EXT_TCB_COMP1_NEGATIVE:
		entry_set_value(tcb, entry_find(tcb, 1), V_ASN1_INTEGER, -1);
		break;
	case EXT_TCB_COMP1_256:
		entry_set_value(tcb, entry_find(tcb, 1), V_ASN1_INTEGER, 256);
		break;
	case EXT_TCB_PCESVN_65536:
		entry_set_value(tcb, entry_find(tcb, 17), V_ASN1_INTEGER, 65536);
		break;
	case EXT_TCB_COMP1_OCTETS:
		entry_set_value(tcb, entry_find(tcb, 1), V_ASN1_OCTET_STRING, 1);
		break;
	default:
		break;
	}
	ASN1_TYPE_free(sk_ASN1_TYPE_value(pair, 1));
	sk_ASN1_TYPE_set(pair, 1, seq_encode(tcb));
	list_replace(top, ti, seq_encode(pair));
	sk_ASN1_TYPE_pop_free(tcb, ASN1_TYPE_free);
	sk_ASN1_TYPE_pop_free(pair, ASN1_TYPE_free);
}

/* The hierarchy's PCK leaf with its SGX extension mutated, re-signed by the PCK CA. */
static X509 *leaf_with_ext(X509 *leaf, EVP_PKEY *ca_key, enum ext_mutation m)
{
	X509 *x = X509_dup(leaf);
	ASN1_OBJECT *oid = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
	X509_EXTENSION *ext;
	STACK_OF(ASN1_TYPE) * top;
	ASN1_OCTET_STRING *os;
	unsigned char *der = NULL;
	int n;

	assert_non_null(x);
	assert_non_null(oid);
	ext = X509_get_ext(x, X509_get_ext_by_OBJ(x, oid, -1));
	assert_non_null(ext);
	top = seq_decode(X509_EXTENSION_get_data(ext));
	switch (m) {
	case EXT_FMSPC_TWICE:
		sk_ASN1_TYPE_push(top, type_dup(sk_ASN1_TYPE_value(top, entry_find(top, 4))));
		break;
	case EXT_NO_FMSPC:
		ASN1_TYPE_free(sk_ASN1_TYPE_delete(top, entry_find(top, 4)));
		break;
	case EXT_FMSPC_5_BYTES:
		entry_set_value(top, entry_find(top, 4), V_ASN1_OCTET_STRING, 5);
		break;
	case EXT_SGX_TYPE_INTEGER:
		entry_set_value(top, entry_find(top, 5), V_ASN1_INTEGER, 1);
		break;
	case EXT_UNCHANGED:
		break;
	default:
		mutate_tcb(top, m);
	}
	n = i2d_ASN1_SEQUENCE_ANY(top, &der);
	assert_true(n > 0);
	os = ASN1_OCTET_STRING_new();
	assert_int_equal(ASN1_OCTET_STRING_set(os, der, n), 1);
	assert_int_equal(X509_EXTENSION_set_data(ext, os), 1);
	assert_true(X509_sign(x, ca_key, EVP_sha256()) > 0);
	ASN1_OCTET_STRING_free(os);
	OPENSSL_free(der);
	sk_ASN1_TYPE_pop_free(top, ASN1_TYPE_free);
	ASN1_OBJECT_free(oid);
	return x;
}

/* A PCK leaf properly signed by the PCK CA whose SGX extension repeats or lacks an entry, or
 * holds a wrong type or an out-of-range SVN, is refused as malformed, both by the verifier and
 * by the unverified FMSPC lookup; re-signed unchanged it verifies (the harness is sound). */
static void test_pck_extension_malformed(void **state)
{
	static const struct {
		enum ext_mutation m;
		const char *name;
	} cases[] = {
		{EXT_FMSPC_TWICE, "FMSPC twice"},
		{EXT_NO_FMSPC, "no FMSPC"},
		{EXT_FMSPC_5_BYTES, "5-byte FMSPC"},
		{EXT_SGX_TYPE_INTEGER, "SGX type INTEGER"},
		{EXT_TCB_NO_PCESVN, "no PCESVN"},
		{EXT_TCB_COMP1_TWICE, "component 1 twice"},
		{EXT_TCB_COMP1_NEGATIVE, "component 1 = -1"},
		{EXT_TCB_COMP1_256, "component 1 = 256"},
		{EXT_TCB_PCESVN_65536, "PCESVN 65536"},
		{EXT_TCB_COMP1_OCTETS, "component 1 OCTET STRING"},
	};
	struct fixture *f = *state;
	_cleanup_(quotesim_freep) struct quotesim *s = NULL;
	_cleanup_(dcap_collateral_freep) struct dcap_collateral *c = NULL;
	_cleanup_(dcap_verifier_freep) struct dcap_verifier *v = NULL;
	X509 *root, *ca, *leaf;
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *ca_key = NULL;
	char dir[128];

	hierarchy(f, "pck-ext", NULL, dir, sizeof(dir), &s, &c);
	v = verifier_for(dir);
	root = read_cert(dir, QUOTESIM_ROOT_CA);
	ca = read_cert(dir, QUOTESIM_PCK_CA);
	leaf = read_cert(dir, QUOTESIM_PCK_LEAF);
	ca_key = read_key(dir, QUOTESIM_PCK_CA_KEY);

	for (size_t i = 0; i <= ARRAY_SIZE(cases); i++) {
		enum ext_mutation m = i < ARRAY_SIZE(cases) ? cases[i].m : EXT_UNCHANGED;
		const char *name = i < ARRAY_SIZE(cases) ? cases[i].name : "unchanged";
		struct quotesim_quote_opts o;
		struct dcap_result res;
		struct tdx_quote q;
		uint8_t *buf = NULL, fmspc[6];
		X509 *forged = leaf_with_ext(leaf, ca_key, m);
		char *pem = chain_pem(forged, ca, root);
		size_t len;
		int r, r_info;

		quotesim_quote_opts_init(s, &o);
		o.chain_pem_override = pem;
		assert_int_equal(quotesim_quote(s, &o, NULL, &buf, &len), 0);
		r = dcap_test_verify(v, c, buf, len, f->now, NULL, &res);
		assert_int_equal(quote_parse(buf, len, &q, NULL, 0), 0);
		r_info = dcap_quote_fmspc(NULL, &q, fmspc, NULL);
		if (m == EXT_UNCHANGED) {
			if (r != 0 || r_info != 0)
				fail_msg("%s: got %d '%s', fmspc %d", name, r, res.reason, r_info);
		} else if (r != -EBADMSG ||
			   strcmp(res.reason, "PCK leaf SGX extension malformed") != 0 ||
			   r_info != -EBADMSG) {
			fail_msg("%s: got %d '%s', fmspc %d", name, r, res.reason, r_info);
		}
		free(buf);
		free(pem);
		X509_free(forged);
	}
	X509_free(leaf);
	X509_free(ca);
	X509_free(root);
}

/* A chain cached under one collateral is not reused under newer collateral whose PCK CRL (or
 * root CA CRL) revokes it: the cache key covers every collateral byte. */
static void test_cache_then_revocation(void **state)
{
	struct fixture *f = *state;
	struct quotesim_collateral_opts co = {0};
	struct dcap_collateral_files files = {0};
	_cleanup_(quotesim_freep) struct quotesim *s = NULL;
	struct dcap_collateral *c = NULL, *revoked = NULL;
	_cleanup_(dcap_verifier_freep) struct dcap_verifier *v = NULL;
	struct dcap_result res;
	char dir[128], out[160], p[200];
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;

	hierarchy(f, "revoke", NULL, dir, sizeof(dir), &s, &c);
	v = verifier_for(dir);
	assert_int_equal(quotesim_quote(s, NULL, NULL, &buf, &len), 0);
	assert_int_equal(dcap_test_verify(v, c, buf, len, f->now, NULL, &res), 0);

	for (int which = 0; which < 2; which++) {
		co.revoke_pck = which == 0;
		co.revoke_pck_ca = which == 1;
		snprintf(out, sizeof(out), "%s/revoked-%d", dir, which);
		assert_int_equal(quotesim_collateral_write(s, out, &co), 0);
		snprintf(p, sizeof(p), "%s/%s", out, QUOTESIM_COLLATERAL);
		files.bundle = p;
		assert_int_equal(dcap_collateral_load(&files, &revoked, NULL, 0), 0);
		assert_int_equal(dcap_test_verify(v, revoked, buf, len, f->now + 60, NULL, &res),
				 -EKEYREJECTED);
		assert_non_null(strstr(res.reason, "revoked"));
		dcap_collateral_free(revoked);
	}
	dcap_collateral_free(c);
}

/* The hierarchy's PCK chain with its base64 re-wrapped: CRLF lines of `width` characters,
 * text before the first block and between blocks (as OpenSSL's PEM reader skips it). */
static char *rewrap_chain(const char *dir, size_t width)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----",
			  end[] = "-----END CERTIFICATE-----";
	_cleanup_free_ uint8_t *chain = NULL;
	const char *p, *e;
	char path[200], *out, *o;
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", dir, QUOTESIM_PCK_CHAIN);
	assert_int_equal(file_read_all(path, 65536, &chain, &len), 0);
	out = o = calloc(1, 2 * len + 256);
	assert_non_null(out);
	o += sprintf(o, "re-wrapped by a test\r\n");
	for (p = (const char *)chain; (p = strstr(p, begin)); p = e + sizeof(end) - 1) {
		size_t col = 0;

		e = strstr(p, end);
		assert_non_null(e);
		o += sprintf(o, "%s\r\n", begin);
		for (const char *c = p + sizeof(begin) - 1; c < e; c++) {
			if (*c == '\n' || *c == '\r')
				continue;
			*o++ = *c;
			if (++col % width == 0)
				o += sprintf(o, "\r\n");
		}
		o += sprintf(o, "%s%s\r\nsome text between certificates\r\n",
			     col % width ? "\r\n" : "", end);
	}
	*o = '\0';
	return out;
}

/* The PCK chain cache is keyed on the certificates' DER: the same chain with its PEM re-wrapped
 * is a cache hit (no full verification, no new entry that would evict another platform's), a
 * different certificate is not. The TCB info / QE identity signing chains are verified once per
 * collateral: not again for another quote, another platform or a reload of the same collateral,
 * but for new collateral. Shown by the verifier's counters. */
static void test_cache_keys_der_and_signers_once(void **state)
{
	struct fixture *f = *state;
	struct dcap_collateral_files files = {0};
	struct quotesim_collateral_opts co = {.crl_number = 2};
	struct dcap_collateral *c = NULL, *again = NULL, *newer = NULL;
	struct dcap_verifier_stats st;
	struct quotesim_quote_opts o;
	_cleanup_(quotesim_freep) struct quotesim *s = NULL;
	struct dcap_verifier *v, *cold;
	struct dcap_result res;
	char dir[128], p[200], out[160], *pem;
	uint8_t *buf = NULL;
	size_t len;

	hierarchy(f, "derkey", NULL, dir, sizeof(dir), &s, &c);
	v = verifier_for(dir);
	assert_int_equal(quotesim_quote(s, NULL, NULL, &buf, &len), 0);
	assert_int_equal(dcap_test_verify(v, c, buf, len, f->now, NULL, &res), 0);
	assert_int_equal(dcap_test_verify(v, c, buf, len, f->now, NULL, &res), 0);
	dcap_verifier_stats(v, &st);
	assert_int_equal(st.pck_full_verifications, 1);
	assert_int_equal(st.pck_cache_hits, 1);
	assert_int_equal(st.signer_chain_verifications, 1);

	/* Re-wrapped PEM, two widths: the same certificates, so cache hits. */
	for (size_t width = 76; width >= 40; width -= 36) {
		free(buf);
		pem = rewrap_chain(dir, width);
		quotesim_quote_opts_init(s, &o);
		o.chain_pem_override = pem;
		assert_int_equal(quotesim_quote(s, &o, NULL, &buf, &len), 0);
		free(pem);
		assert_int_equal(dcap_test_verify(v, c, buf, len, f->now, NULL, &res), 0);
		/* and OpenSSL reads it: a cold verifier parses and verifies it in full */
		cold = verifier_for(dir);
		assert_int_equal(dcap_test_verify(cold, c, buf, len, f->now, NULL, &res), 0);
		dcap_verifier_free(cold);
	}
	dcap_verifier_stats(v, &st);
	if (st.pck_full_verifications != 1)
		fail_msg("a re-wrapped PEM chain was verified in full (%llu full verifications)",
			 (unsigned long long)st.pck_full_verifications);
	assert_int_equal(st.pck_cache_hits, 3);

	/* Another platform's certificate (the leaf re-issued: new DER, same key): verified in
	 * full, but the collateral's signing chains are not verified again. */
	free(buf);
	quote_with_reissued_leaf(s, dir, &buf, &len);
	assert_int_equal(dcap_test_verify(v, c, buf, len, f->now, NULL, &res), 0);
	dcap_verifier_stats(v, &st);
	assert_int_equal(st.pck_full_verifications, 2);
	if (st.signer_chain_verifications != 1)
		fail_msg("TCB signing chains verified again for another platform (%llu times)",
			 (unsigned long long)st.signer_chain_verifications);

	/* The same collateral loaded again: no new signing-chain verification; newer collateral
	 * (another CRL number): one. */
	snprintf(p, sizeof(p), "%s/%s", dir, QUOTESIM_COLLATERAL);
	files.bundle = p;
	assert_int_equal(dcap_collateral_load(&files, &again, NULL, 0), 0);
	assert_int_equal(dcap_test_verify(v, again, buf, len, f->now, NULL, &res), 0);
	snprintf(out, sizeof(out), "%s/newer", dir);
	assert_int_equal(quotesim_collateral_write(s, out, &co), 0);
	snprintf(p, sizeof(p), "%s/%s", out, QUOTESIM_COLLATERAL);
	assert_int_equal(dcap_collateral_load(&files, &newer, NULL, 0), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(dcap_test_verify(v, newer, buf, len, f->now, NULL, &res), 0);
	dcap_verifier_stats(v, &st);
	assert_int_equal(st.signer_chain_verifications, 2);

	free(buf);
	dcap_verifier_free(v);
	dcap_collateral_free(c);
	dcap_collateral_free(again);
	dcap_collateral_free(newer);
}

/* dcap_quote_fmspc()'s chain key spares dcap_verify() re-reading the same quote's chain, and is
 * used for that quote only: handed another quote (here a re-issued leaf with the same key, whose
 * QE report the first chain's cached leaf key would accept), it is ignored and that quote's
 * chain is verified in full. */
static void test_chain_key_only_for_its_quote(void **state)
{
	struct fixture *f = *state;
	_cleanup_(quotesim_freep) struct quotesim *s = NULL;
	struct dcap_collateral *c = NULL;
	struct dcap_verifier_stats st;
	struct dcap_chain_key ka;
	struct dcap_verifier *v;
	struct dcap_result res;
	struct tdx_quote qa, qb;
	uint8_t *a = NULL, *b = NULL, fmspc[6];
	size_t alen, blen;
	char dir[128];

	hierarchy(f, "chainkey", NULL, dir, sizeof(dir), &s, &c);
	v = verifier_for(dir);
	assert_int_equal(quotesim_quote(s, NULL, NULL, &a, &alen), 0);
	quote_with_reissued_leaf(s, dir, &b, &blen);
	assert_int_equal(quote_parse(a, alen, &qa, NULL, 0), 0);
	assert_int_equal(quote_parse(b, blen, &qb, NULL, 0), 0);

	assert_int_equal(dcap_quote_fmspc(v, &qa, fmspc, &ka), 0);
	assert_true(ka.ok);
	assert_int_equal(dcap_verify(v, c, &qa, &ka, f->now, &res), 0);
	assert_int_equal(dcap_verify(v, c, &qa, &ka, f->now, &res), 0);
	dcap_verifier_stats(v, &st);
	assert_int_equal(st.pck_full_verifications, 1);
	assert_int_equal(st.pck_cache_hits, 1);
	/* qa's key handed with qb: qb's own chain is read and verified in full. */
	assert_int_equal(dcap_verify(v, c, &qb, &ka, f->now, &res), 0);
	dcap_verifier_stats(v, &st);
	if (st.pck_full_verifications != 2)
		fail_msg("another quote's chain key was used: %llu full verifications",
			 (unsigned long long)st.pck_full_verifications);

	free(a);
	free(b);
	dcap_verifier_free(v);
	dcap_collateral_free(c);
}

/* A PCK leaf from the Processor CA (not the Platform CA) under the same root: verified against
 * the processor CA's CRL when the collateral has it (pck_crl_other, what the PCCS refresh now
 * fetches), refused without it (no CRL of the leaf's issuer), and refused when that CRL revokes
 * the leaf. The platform CA's quotes still verify under the same collateral. */
static void test_processor_ca_crl(void **state)
{
	struct fixture *f = *state;
	_cleanup_(quotesim_freep) struct quotesim *s = NULL;
	_cleanup_(dcap_collateral_freep) struct dcap_collateral *c0 = NULL;
	_cleanup_(dcap_verifier_freep) struct dcap_verifier *v = NULL;
	struct quotesim_quote_opts o;
	X509 *root, *real_leaf, *named, *proc_ca, *renamed, *leaf;
	EVP_PKEY *root_key, *proc_key;
	X509_NAME *name;
	char dir[128], *pem;
	uint8_t *buf = NULL, *plain = NULL;
	size_t len, plain_len;

	hierarchy(f, "processor", NULL, dir, sizeof(dir), &s, &c0);
	v = verifier_for(dir);
	root = read_cert(dir, QUOTESIM_ROOT_CA);
	real_leaf = read_cert(dir, QUOTESIM_PCK_LEAF);
	root_key = read_key(dir, QUOTESIM_ROOT_CA_KEY);
	proc_key = EVP_EC_gen("P-256");
	assert_non_null(proc_key);
	/* the Processor CA: forge_issuer() takes its subject from a certificate */
	named = X509_new();
	name = X509_NAME_new();
	assert_non_null(named);
	assert_non_null(name);
	assert_int_equal(X509_NAME_add_entry_by_txt(
				 name, "CN", MBSTRING_ASC,
				 (const unsigned char *)"Test SGX PCK Processor CA", -1, -1, 0),
			 1);
	assert_int_equal(X509_set_subject_name(named, name), 1);
	proc_ca =
		forge_issuer(root, root_key, named, proc_key, "critical,CA:TRUE,pathlen:0", f->now);
	/* the real leaf (same key and SGX extension) named and signed as the Processor CA's: the
	 * new issuer name is encoded by the signing (X509_dup() would copy the old encoding) */
	renamed = X509_dup(real_leaf);
	assert_non_null(renamed);
	assert_int_equal(X509_set_issuer_name(renamed, name), 1);
	leaf = reissue_leaf(renamed, proc_ca, proc_key);
	assert_int_equal(X509_set_issuer_name(leaf, name), 1);
	assert_true(X509_sign(leaf, proc_key, EVP_sha256()) > 0);
	pem = chain_pem(leaf, proc_ca, root);
	quotesim_quote_opts_init(s, &o);
	o.chain_pem_override = pem;
	assert_int_equal(quotesim_quote(s, &o, NULL, &buf, &len), 0);
	assert_int_equal(quotesim_quote(s, NULL, NULL, &plain, &plain_len), 0);

	for (int which = 0; which < 3; which++) {
		struct dcap_test_files t;
		struct dcap_collateral *c = NULL;
		struct dcap_result res;
		char other[200];
		int r;

		/* The hierarchy's collateral without a CRL chain, plus the processor CA's CRL. */
		dcap_test_files_split(&t, dir);
		t.files.pck_crl_chain = NULL;
		snprintf(other, sizeof(other), "%s/processor_crl_%d.der", dir, which);
		if (which > 0) {
			write_crl_revoking(proc_ca, proc_key, f->now, which == 2 ? leaf : NULL,
					   other);
			t.files.pck_crl_other = other;
		}
		assert_int_equal(dcap_collateral_load(&t.files, &c, NULL, 0), 0);
		r = dcap_test_verify(v, c, buf, len, f->now, NULL, &res);
		switch (which) {
		case 0:
			if (r != -EKEYREJECTED || !strstr(res.reason, "not issued by the PCK leaf"))
				fail_msg("processor leaf without its CA's CRL: %d '%s'", r,
					 res.reason);
			break;
		case 1:
			if (r != 0)
				fail_msg("processor leaf with its CA's CRL refused: %s",
					 res.reason);
			break;
		default:
			if (r != -EKEYREJECTED || !strstr(res.reason, "revoked"))
				fail_msg("processor leaf revoked by its CA's CRL: %d '%s'", r,
					 res.reason);
		}
		assert_int_equal(dcap_test_verify(v, c, plain, plain_len, f->now, NULL, &res), 0);
		dcap_collateral_free(c);
	}
	free(buf);
	free(plain);
	free(pem);
	X509_NAME_free(name);
	X509_free(named);
	X509_free(renamed);
	X509_free(leaf);
	X509_free(proc_ca);
	X509_free(real_leaf);
	X509_free(root);
	EVP_PKEY_free(proc_key);
	EVP_PKEY_free(root_key);
}

UNIT_TEST_MAIN(setup, teardown, cmocka_unit_test(test_encrypted_pem_chain_no_prompt),
	       cmocka_unit_test(test_cache_matches_full_verification),
	       cmocka_unit_test(test_raw_member_adversarial),
	       cmocka_unit_test(test_cache_eviction_concurrent),
	       cmocka_unit_test(test_cache_then_revocation),
	       cmocka_unit_test(test_pck_issuer_must_be_ca),
	       cmocka_unit_test(test_pck_extension_malformed),
	       cmocka_unit_test(test_cache_keys_der_and_signers_once),
	       cmocka_unit_test(test_chain_key_only_for_its_quote),
	       cmocka_unit_test(test_processor_ca_crl))
