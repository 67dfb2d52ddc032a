#define _GNU_SOURCE
#include "collateral_store.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collateral.h"
#include "fileio.h"
#include "hexutil.h"
#include "json_strict.h"
#include "log.h"

#define STORE_RETRY_S	   60 /* how often an expired entry is looked for again on disk */
#define ROLLBACK_STATE	   ".rollback-state.json"
#define ROLLBACK_STATE_MAX (256 * 1024)

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
	/* The highest numbers accepted so far, persisted in <dir>/.rollback-state.json:
	 * {"tcb_eval":{"<fmspc>":N},"qe_eval":{"qe_identity":N},"crl":{"<issuer>":N}}. */
	struct json_object *state;
};

/* Reads the rollback state; a missing file is an empty state, a damaged one an error (keyd
 * would otherwise forget what it accepted). */
static int state_load(struct collateral_store *s)
{
	static const char *const sections[] = {"tcb_eval", "qe_eval", "crl"};
	_cleanup_free_ char *path = NULL;
	struct json_object *o = NULL;
	int r;

	if (asprintf(&path, "%s/%s", s->dir, ROLLBACK_STATE) < 0)
		return -ENOMEM;
	if (access(path, F_OK) < 0) {
		s->state = json_object_new_object();
		return s->state ? 0 : -ENOMEM;
	}
	r = json_strict_load_file(path, ROLLBACK_STATE_MAX, &o);
	if (r < 0)
		return log_error_errno(r,
				       "collateral: %s is damaged: repair or remove it (keyd "
				       "then forgets the numbers it accepted)",
				       path);
	for (size_t i = 0; i < ARRAY_SIZE(sections); i++) {
		struct json_object *sec;

		if (json_object_object_get_ex(o, sections[i], &sec) &&
		    !json_object_is_type(sec, json_type_object)) {
			json_object_put(o);
			return log_error_errno(-EINVAL, "collateral: %s: '%s' is not an object",
					       path, sections[i]);
		}
	}
	s->state = o;
	return 0;
}

/* Writes the state next to its place and renames it over: readers see old or new. */
static void state_save(struct collateral_store *s)
{
	_cleanup_free_ char *path = NULL, *tmp = NULL;
	const char *text = json_object_to_json_string_ext(s->state, JSON_C_TO_STRING_PLAIN);

	if (asprintf(&path, "%s/%s", s->dir, ROLLBACK_STATE) < 0 ||
	    asprintf(&tmp, "%s/.%s.new", s->dir, ROLLBACK_STATE) < 0)
		return;
	unlink(tmp);
	if (file_write_private(tmp, text, strlen(text), 1) < 0 || rename(tmp, path) < 0) {
		log_error("collateral: cannot persist %s: rollback protection holds only until "
			  "keyd restarts",
			  path);
		unlink(tmp);
	}
}

static uint64_t state_get(struct collateral_store *s, const char *section, const char *key)
{
	struct json_object *sec, *v;

	if (!json_object_object_get_ex(s->state, section, &sec) ||
	    !json_object_object_get_ex(sec, key, &v) || !json_object_is_type(v, json_type_int))
		return 0;
	return (uint64_t)json_object_get_int64(v);
}

/* Sets section.key = value; true when that raised it. */
static bool state_raise(struct collateral_store *s, const char *section, const char *key,
			uint64_t value)
{
	struct json_object *sec;

	if (value <= state_get(s, section, key))
		return false;
	if (!json_object_object_get_ex(s->state, section, &sec)) {
		sec = json_object_new_object();
		if (!sec || json_object_object_add(s->state, section, sec) < 0)
			return false;
	}
	return json_object_object_add(sec, key, json_object_new_int64((int64_t)value)) == 0;
}

static uint64_t crl_number(X509_CRL *crl)
{
	ASN1_INTEGER *n = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	uint64_t v = 0;

	if (n && ASN1_INTEGER_get_uint64(&v, n) != 1)
		v = 0;
	ASN1_INTEGER_free(n);
	return v;
}

struct rollback_item {
	const char *section, *what;
	char key[256];
	uint64_t value;
};

/* What a rollback is judged by in c: per FMSPC the TCB info's tcbEvaluationDataNumber, the QE
 * identity's, per issuing CA the CRL number. Returns how many of items are filled. */
static size_t rollback_items(const uint8_t fmspc[6], const struct dcap_collateral *c,
			     struct rollback_item items[5])
{
	const struct rollback_item init[5] = {
		{.section = "tcb_eval",
		 .what = "TCB info tcbEvaluationDataNumber",
		 .value = c->tcb.eval_number},
		{.section = "qe_eval",
		 .what = "QE identity tcbEvaluationDataNumber",
		 .key = "qe_identity",
		 .value = c->qe.eval_number},
		{.section = "crl", .what = "PCK CA CRL number", .value = crl_number(c->pck_crl)},
		{.section = "crl", .what = "root CA CRL number", .value = crl_number(c->root_crl)},
		{.section = "crl", .what = "PCK CA CRL number"},
	};

	memcpy(items, init, sizeof(init));
	hex_encode(fmspc, 6, items[0].key);
	X509_NAME_oneline(X509_CRL_get_issuer(c->pck_crl), items[2].key, sizeof(items[2].key));
	X509_NAME_oneline(X509_CRL_get_issuer(c->root_crl), items[3].key, sizeof(items[3].key));
	if (c->pck_crl_other) {
		items[4].value = crl_number(c->pck_crl_other);
		X509_NAME_oneline(X509_CRL_get_issuer(c->pck_crl_other), items[4].key,
				  sizeof(items[4].key));
	}
	return c->pck_crl_other ? 5 : 4;
}

/* Refuses collateral older than what was accepted before (rollback_items()). Raises (and
 * persists) the numbers of collateral that passes. Called with s->lock held. */
static int rollback_check(struct collateral_store *s, const uint8_t fmspc[6],
			  const struct dcap_collateral *c, char *reason, size_t reason_len)
{
	struct rollback_item items[5];
	size_t n = rollback_items(fmspc, c, items);
	bool raised = false;

	for (size_t i = 0; i < n; i++) {
		uint64_t have = state_get(s, items[i].section, items[i].key);

		if (items[i].value < have) {
			snprintf(reason, reason_len,
				 "%s %llu (%s) is older than %llu, accepted before: collateral "
				 "rollback refused",
				 items[i].what, (unsigned long long)items[i].value, items[i].key,
				 (unsigned long long)have);
			return log_error_errno(-ESTALE, "collateral: %s", reason);
		}
	}
	for (size_t i = 0; i < n; i++)
		raised |= state_raise(s, items[i].section, items[i].key, items[i].value);
	if (raised)
		state_save(s);
	return 0;
}

int collateral_store_new(const char *dir, struct collateral_store **out)
{
	struct collateral_store *s = calloc(1, sizeof(*s));
	int r;

	if (!s || !(s->dir = strdup(dir))) {
		free(s);
		return -ENOMEM;
	}
	pthread_mutex_init(&s->lock, NULL);
	r = state_load(s);
	if (r < 0) {
		collateral_store_free(s);
		return r;
	}
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
	json_object_put(s->state);
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

int collateral_not_older(const uint8_t fmspc[6], const struct dcap_collateral *have,
			 const struct dcap_collateral *fresh, char *reason, size_t reason_len)
{
	struct rollback_item h[5], f[5];
	size_t nh = rollback_items(fmspc, have, h), nf = rollback_items(fmspc, fresh, f);

	for (size_t i = 0; i < nf; i++)
		for (size_t j = 0; j < nh; j++)
			if (!strcmp(f[i].section, h[j].section) && !strcmp(f[i].key, h[j].key) &&
			    f[i].value < h[j].value) {
				snprintf(reason, reason_len,
					 "%s %llu (%s) is older than the cached %llu", f[i].what,
					 (unsigned long long)f[i].value, f[i].key,
					 (unsigned long long)h[j].value);
				return -ESTALE;
			}
	return 0;
}

int collateral_dir_load(const char *d, struct dcap_collateral **out)
{
	struct dcap_collateral_files f = {0};
	char *bundle = pick(d, "collateral.json", NULL);
	char *tcb = NULL, *qe = NULL, *pck_crl = NULL, *root_crl = NULL, *chain = NULL,
	     *crl_chain = NULL, *processor_crl = NULL;
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
		processor_crl = pick(d, "pck_processor_crl.der", "pck_processor_crl.pem");
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
		f.pck_crl_other = processor_crl;
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
	free(processor_crl);
	return r;
}

int collateral_store_get(struct collateral_store *s, const uint8_t fmspc[6], time_t now,
			 const struct dcap_collateral **out, char *reason, size_t reason_len)
{
	struct dcap_collateral *c = NULL;
	struct store_entry *e;
	char hex[13], *d = NULL;
	time_t nb, na;
	int r = 0;

	if (reason_len)
		reason[0] = '\0';
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
	r = collateral_dir_load(d, &c);
	if (r == 0) {
		r = c ? rollback_check(s, fmspc, c, reason, reason_len) : -EIO;
		if (r < 0) {
			dcap_collateral_free(c);
			c = NULL;
		}
	}
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
