/* What the unit tests of the DCAP verifier and of the quote simulator share: quote bytes parsed
 * then verified (keyd's order per attest), a scratch directory for simulator hierarchies, and a
 * hierarchy's collateral as split files; and (with bench/bench-verify) verification on several
 * threads sharing one verifier and collateral, as keyd's workers do.
 * Needs _GNU_SOURCE (nftw) before the first include. */
#pragma once

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "dcap/dcap.h"
#include "quote.h"
#include "quotesim.h"

/* quote_parse() then dcap_verify(): -EBADMSG with res->reason set when the bytes are not a quote.
 * q may be NULL. */
static inline int dcap_test_verify(const struct dcap_verifier *v, const struct dcap_collateral *c,
				   const uint8_t *buf, size_t len, time_t at, struct tdx_quote *q,
				   struct dcap_result *res)
{
	struct tdx_quote local;

	if (!q)
		q = &local;
	*res = (struct dcap_result){0};
	if (quote_parse(buf, len, q, res->reason, sizeof(res->reason)) < 0)
		return -EBADMSG;
	return dcap_verify(v, c, q, NULL, at, res);
}

/* One thread's share: verifies the quote over and over with the shared verifier and collateral,
 * up to iterations times, for at most seconds (0: no time bound), stopping at a failure. */
struct dcap_test_worker {
	const struct dcap_verifier *v;
	const struct dcap_collateral *c;
	const uint8_t *quote;
	size_t len;
	time_t at;
	long iterations;
	double seconds;
	long done;   /* verifications that passed */
	bool failed; /* one did not */
};

static inline double dcap_test_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void *dcap_test_worker_run(void *arg)
{
	struct dcap_test_worker *w = arg;
	double t0 = dcap_test_now();

	for (w->done = 0; w->done < w->iterations; w->done++) {
		struct dcap_result res;

		if (dcap_test_verify(w->v, w->c, w->quote, w->len, w->at, NULL, &res) != 0) {
			w->failed = true;
			break;
		}
		if (w->seconds > 0 && (w->done & 63) == 0 && dcap_test_now() - t0 >= w->seconds)
			break;
	}
	return NULL;
}

/* Runs n copies of tmpl (w[0..n-1], at most 16) on n threads and waits for all: 0, or -1 when a
 * thread could not be started. */
static inline int dcap_test_workers_run(const struct dcap_test_worker *tmpl,
					struct dcap_test_worker *w, int n)
{
	pthread_t th[16];
	int started = 0, r = 0;

	for (; started < n && started < 16; started++) {
		w[started] = *tmpl;
		if (pthread_create(&th[started], NULL, dcap_test_worker_run, &w[started]) != 0) {
			r = -1;
			break;
		}
	}
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	return r;
}

/* A fresh scratch directory /tmp/NAME-XXXXXX in dir (at least 64 bytes); 0 or -1. */
static inline int dcap_test_dir_new(char *dir, size_t size, const char *name)
{
	snprintf(dir, size, "/tmp/%s-XXXXXX", name);
	return mkdtemp(dir) ? 0 : -1;
}

/* A zeroed test fixture of size bytes whose first member is char dir[64], that scratch directory
 * made as /tmp/NAME-XXXXXX; NULL on failure. */
static inline void *dcap_test_fixture_new(size_t size, const char *name)
{
	char *f = calloc(1, size);

	if (f && dcap_test_dir_new(f, 64, name) < 0) {
		free(f);
		return NULL;
	}
	return f;
}

static inline int dcap_test_rm_entry(const char *path, const struct stat *st, int flag,
				     struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes dir and everything below it. */
static inline void dcap_test_dir_remove(const char *dir)
{
	nftw(dir, dcap_test_rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Removes a fixture's scratch directory (its first member) and frees it. */
static inline void dcap_test_fixture_free(void *f)
{
	dcap_test_dir_remove(f);
	free(f);
}

/* The collateral of the hierarchy in dir as its split files (TCB info, QE identity, PCK CRL,
 * root CRL, TCB signing chain, PCK CRL chain), for dcap_collateral_load(). */
struct dcap_test_files {
	char path[6][200];
	struct dcap_collateral_files files;
};

static inline void dcap_test_files_split(struct dcap_test_files *t, const char *dir)
{
	static const char *const names[] = {QUOTESIM_TCB_INFO,		QUOTESIM_QE_IDENTITY,
					    QUOTESIM_PCK_CRL,		QUOTESIM_ROOT_CRL,
					    QUOTESIM_TCB_SIGNING_CHAIN, QUOTESIM_PCK_CRL_CHAIN};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		snprintf(t->path[i], sizeof(t->path[i]), "%s/%s", dir, names[i]);
	t->files = (struct dcap_collateral_files){
		.tcb_info = t->path[0],
		.qe_identity = t->path[1],
		.pck_crl = t->path[2],
		.root_crl = t->path[3],
		.tcb_signing_chain = t->path[4],
		.pck_crl_chain = t->path[5],
	};
}
