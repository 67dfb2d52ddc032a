/* Quote verification throughput with collateral parsed once and reused: prints verifications
 * per second for the real quote of TDX_TESTDATA/sets/dcapqvl-v4-uptodate, and the in-process
 * ECDSA P-256 verify rate for reference. Bounded: at most `seconds` of work per figure. */
#define _GNU_SOURCE /* tests/unit/dcap-test.h */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "dcap/dcap.h"
#include "dcap/dcap_util.h"
#include "log.h"
#include "quote.h"
/* What keyd does per attest (parse the quote once, verify the parsed quote), and the threaded
 * workers, shared with the verifier's unit tests. */
#include "../tests/unit/dcap-test.h"

#define MAX_ITERATIONS 10000000L

static double clock_seconds(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now(void)
{
	return clock_seconds(CLOCK_MONOTONIC);
}

/* CPU time of this thread: the divisor `openssl speed` uses too (user time by default), so
 * the two figures stay comparable on a loaded machine. */
static double cpu_now(void)
{
	return clock_seconds(CLOCK_THREAD_CPUTIME_ID);
}

/* Shared verifier and collateral on `threads` threads, as keyd's workers use them. */
static int bench_threads(int threads, const struct dcap_test_worker *tmpl)
{
	struct dcap_test_worker w[8];
	double t0 = now(), total = 0;

	if (threads > 8)
		threads = 8;
	if (dcap_test_workers_run(tmpl, w, threads) < 0)
		return -1;
	for (int i = 0; i < threads; i++) {
		if (w[i].failed)
			return -1;
		total += (double)w[i].done;
	}
	printf("quote verifications/s with %d threads (shared collateral and cache, wall clock): "
	       "%.1f\n",
	       threads, total / (now() - t0));
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = getenv("TDX_TESTDATA");
	double seconds = argc > 1 ? atof(argv[1]) : 2.0, t0, c0, elapsed;
	char qpath[4096], cpath[4096];
	struct dcap_collateral_files files = {0};
	struct dcap_collateral *coll = NULL;
	struct dcap_verifier *v = NULL;
	struct dcap_result res;
	struct tdx_quote q;
	uint8_t *quote = NULL;
	size_t len;
	time_t at;
	long n;
	int r;

	log_setup("bench-verify", LOG_TARGET_STDERR, LOG_LVL_WARN);
	if (!dir || !*dir) {
		printf("bench-verify: skipped (TDX_TESTDATA not set)\n");
		return 0;
	}
	if (seconds <= 0 || seconds > 30)
		seconds = 2.0;
	snprintf(qpath, sizeof(qpath), "%s/sets/dcapqvl-v4-uptodate/quote.bin", dir);
	snprintf(cpath, sizeof(cpath), "%s/sets/dcapqvl-v4-uptodate/collateral.json", dir);
	if (access(qpath, R_OK) != 0) {
		printf("bench-verify: skipped (%s absent)\n", qpath);
		return 0;
	}
	files.bundle = cpath;
	if (file_read_all(qpath, 1 << 20, &quote, &len) < 0 ||
	    dcap_time_parse_rfc3339("2025-07-01T00:00:00Z", &at) < 0 ||
	    dcap_verifier_new(NULL, &v) < 0 || dcap_collateral_load(&files, &coll, NULL, 0) < 0)
		return 1;

	/* Collateral load cost, for the record (done once per refresh in keyd). */
	t0 = now();
	for (n = 0; n < 20; n++) {
		struct dcap_collateral *c2 = NULL;

		if (dcap_collateral_load(&files, &c2, NULL, 0) < 0)
			return 1;
		dcap_collateral_free(c2);
	}
	printf("collateral load (parse + 2 signature checks): %.2f ms\n",
	       (now() - t0) * 1000.0 / (double)n);

	/* First verification: full PCK chain and CRL checks (cache miss). */
	t0 = now();
	r = dcap_test_verify(v, coll, quote, len, at, &q, &res);
	printf("first verification (chain + CRLs, cache miss): %.2f ms, %s\n",
	       (now() - t0) * 1000.0, r == 0 ? tcb_status_name(res.tcb_status) : res.reason);
	if (r != 0)
		return 1;

	t0 = now();
	c0 = cpu_now();
	for (n = 0; n < MAX_ITERATIONS; n++) {
		struct tdx_quote q2;

		if (dcap_test_verify(v, coll, quote, len, at, &q2, &res) != 0)
			return 1;
		if ((n & 63) == 0 && now() - t0 >= seconds)
			break;
	}
	elapsed = cpu_now() - c0;
	printf("quote verifications/s (collateral reused, per CPU second): %.1f\n",
	       (double)n / elapsed);
	printf("quote verifications/s (collateral reused, wall clock): %.1f\n",
	       (double)n / (now() - t0));

	{
		struct dcap_test_worker tmpl = {.v = v,
						.c = coll,
						.quote = quote,
						.len = len,
						.at = at,
						.iterations = MAX_ITERATIONS,
						.seconds = seconds};
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		if (cpus > 1 && bench_threads((int)cpus, &tmpl) < 0)
			return 1;
	}

	/* In-process reference: one ECDSA P-256 verification as dcap_verify() performs it. */
	{
		EVP_PKEY *key = NULL;

		if (dcap_p256_key_from_xy(q.attest_key, &key) < 0)
			return 1;
		t0 = now();
		c0 = cpu_now();
		for (n = 0; n < MAX_ITERATIONS; n++) {
			if (dcap_ecdsa_verify(key, q.signature, q.signed_data, q.signed_len) != 0)
				return 1;
			if ((n & 63) == 0 && now() - t0 >= seconds)
				break;
		}
		elapsed = cpu_now() - c0;
		printf("in-process ECDSA P-256 verify/s (EVP, incl. SHA-256 of 632 bytes, per CPU "
		       "second): %.1f\n",
		       (double)n / elapsed);
		EVP_PKEY_free(key);
	}
	free(quote);
	dcap_collateral_free(coll);
	dcap_verifier_free(v);
	return 0;
}
