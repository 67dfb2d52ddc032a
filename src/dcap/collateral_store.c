#define _GNU_SOURCE
#include "collateral_store.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hexutil.h"
#include "log.h"

#define STORE_RETRY_S 60 /* how often an expired entry is looked for again on disk */

struct store_entry {
	uint8_t fmspc[6];
	struct dcap_collateral *c;
	time_t checked;
	struct store_entry *next;
};

struct collateral_store {
	char *dir;
	pthread_mutex_t lock;
	struct store_entry *entries; /* newest first; replaced ones stay until the store goes */
};

int collateral_store_new(const char *dir, struct collateral_store **out)
{
	struct collateral_store *s = calloc(1, sizeof(*s));

	if (!s || !(s->dir = strdup(dir))) {
		free(s);
		return -ENOMEM;
	}
	pthread_mutex_init(&s->lock, NULL);
	*out = s;
	return 0;
}

void collateral_store_free(struct collateral_store *s)
{
	if (!s)
		return;
	for (struct store_entry *e = s->entries, *n; e; e = n) {
		n = e->next;
		dcap_collateral_free(e->c);
		free(e);
	}
	pthread_mutex_destroy(&s->lock);
	free(s->dir);
	free(s);
}

/* Picks the first of the candidate names that exists in d. */
static char *pick(const char *d, const char *a, const char *b)
{
	char *p = NULL;

	for (int i = 0; i < 2; i++) {
		const char *name = i ? b : a;

		if (!name || asprintf(&p, "%s/%s", d, name) < 0)
			return NULL;
		if (access(p, R_OK) == 0)
			return p;
		free(p);
		p = NULL;
	}
	return NULL;
}

static int load_dir(const char *d, struct dcap_collateral **out)
{
	struct dcap_collateral_files f = {0};
	char *bundle = pick(d, "collateral.json", NULL);
	char *tcb = NULL, *qe = NULL, *pck_crl = NULL, *root_crl = NULL, *chain = NULL,
	     *crl_chain = NULL;
	int r;

	if (bundle) {
		f.bundle = bundle;
	} else {
		tcb = pick(d, "tcb_info.json", NULL);
		qe = pick(d, "qe_identity.json", NULL);
		pck_crl = pick(d, "pck_crl.der", "pck_crl.pem");
		root_crl = pick(d, "root_crl.der", "root_crl.pem");
		chain = pick(d, "tcb_signing_chain.pem", NULL);
		crl_chain = pick(d, "pck_crl_chain.pem", NULL);
		if (!tcb || !qe || !pck_crl || !root_crl || !chain) {
			r = log_error_errno(-ENOENT,
					    "collateral: %s lacks collateral.json or one of "
					    "tcb_info.json, qe_identity.json, pck_crl.der, "
					    "root_crl.der, tcb_signing_chain.pem",
					    d);
			goto out;
		}
		f.tcb_info = tcb;
		f.qe_identity = qe;
		f.pck_crl = pck_crl;
		f.root_crl = root_crl;
		f.tcb_signing_chain = chain;
		f.pck_crl_chain = crl_chain;
	}
	r = dcap_collateral_load(&f, out, NULL, 0);
	if (r < 0)
		log_error_errno(r, "collateral: cannot load %s", d);
out:
	free(bundle);
	free(tcb);
	free(qe);
	free(pck_crl);
	free(root_crl);
	free(chain);
	free(crl_chain);
	return r;
}

int collateral_store_get(struct collateral_store *s, const uint8_t fmspc[6], time_t now,
			 const struct dcap_collateral **out)
{
	struct dcap_collateral *c = NULL;
	struct store_entry *e;
	char hex[13], *d = NULL;
	time_t nb, na;
	int r = 0;

	hex_encode(fmspc, 6, hex);
	pthread_mutex_lock(&s->lock);
	for (e = s->entries; e; e = e->next)
		if (!memcmp(e->fmspc, fmspc, 6))
			break;
	if (e) {
		dcap_collateral_window(e->c, &nb, &na);
		if (na >= now || now - e->checked < STORE_RETRY_S) {
			*out = e->c;
			goto out;
		}
	}
	if (asprintf(&d, "%s/%s", s->dir, hex) < 0) {
		r = -ENOMEM;
		goto out;
	}
	r = load_dir(d, &c);
	if (r < 0) {
		if (e) {
			/* Keep serving the old copy: the verifier names its expiry. */
			e->checked = now;
			*out = e->c;
			r = 0;
		}
		goto out;
	}
	if (e) {
		time_t nb2, na2;

		dcap_collateral_window(c, &nb2, &na2);
		if (na2 <= na) {
			/* Nothing newer on disk (this one is expired too): keep the cached copy
			 * instead of adding one per check while the directory stays stale. */
			dcap_collateral_free(c);
			e->checked = now;
			*out = e->c;
			goto out;
		}
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		dcap_collateral_free(c);
		r = -ENOMEM;
		goto out;
	}
	memcpy(e->fmspc, fmspc, 6);
	e->c = c;
	e->checked = now;
	e->next = s->entries;
	s->entries = e;
	*out = c;
	log_info("collateral: loaded %s", d);
out:
	pthread_mutex_unlock(&s->lock);
	free(d);
	return r;
}
