/* Adversarial checks of the DCAP verifier (security review): inputs forged with the quote
 * simulator. A PEM chain in the quote never makes the verifier ask for a pass phrase; a cached
 * PCK chain is accepted at exactly the times a full verification accepts it; the raw "tcbInfo"
 * text located in a PCS response is the literal top-level member, whatever else the document
 * holds. */
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cleanup.h"
#include "fileio.h"
#include "keyd/collateral.h"
#include "keyd/dcap.h"
#include "quote.h"
#include "quotesim.h"

#define DAY 86400

struct fixture {
	char dir[64];
	time_t now;
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->now = time(NULL);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-dcap-review-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
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
	assert_int_equal(dcap_collateral_load(&files, c), 0);
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
	struct quotesim *s = NULL;
	struct dcap_collateral *c = NULL;
	struct dcap_verifier *v;
	struct quotesim_quote_opts o;
	char dir[128], *pem;
	uint8_t *buf = NULL;
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
		r1 = dcap_verify(v, c, buf, len, f->now, &q, &res);
		r2 = quote_parse(buf, len, &q, NULL, 0) == 0 ? dcap_quote_fmspc(&q, fmspc) : 0;
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
	free(buf);
	dcap_verifier_free(v);
	dcap_collateral_free(c);
	quotesim_free(s);
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
	struct quotesim *s = NULL;
	struct dcap_collateral *c = NULL;
	struct dcap_verifier *warm;
	struct dcap_result res;
	char dir[128];
	uint8_t *buf = NULL;
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
		assert_int_equal(dcap_verify(warm, c, buf, len, f->now, NULL, &res), 0);
		r_warm = dcap_verify(warm, c, buf, len, probes[i], NULL, &res);
		r_cold = dcap_verify(cold, c, buf, len, probes[i], NULL, &res);
		if (r_warm != r_cold)
			fail_msg("at leaf notBefore%+lld / notAfter%+lld: cached %d, full %d",
				 (long long)(probes[i] - nb), (long long)(probes[i] - na), r_warm,
				 r_cold);
		dcap_verifier_free(cold);
		dcap_verifier_free(warm);
	}
	/* And the full verification's own answers at the edges. */
	warm = verifier_for(dir);
	assert_int_equal(dcap_verify(warm, c, buf, len, nb, NULL, &res), 0);
	assert_int_equal(dcap_verify(warm, c, buf, len, na - 1, NULL, &res), 0);
	assert_int_equal(dcap_verify(warm, c, buf, len, na, NULL, &res), -EKEYEXPIRED);
	assert_int_equal(dcap_verify(warm, c, buf, len, nb - 1, NULL, &res), -EKEYEXPIRED);
	dcap_verifier_free(warm);

	free(buf);
	dcap_collateral_free(c);
	quotesim_free(s);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encrypted_pem_chain_no_prompt),
		cmocka_unit_test(test_cache_matches_full_verification),
		cmocka_unit_test(test_raw_member_adversarial),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
