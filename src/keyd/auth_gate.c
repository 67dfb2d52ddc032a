#include "auth_gate.h"

#include <errno.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OTHERS "other addresses"

struct entry {
	char addr[48];
	double tokens, last; /* bucket level, and when it was last filled (monotonic seconds) */
	unsigned long issued, refused, limited;
	char last_refusal[160];
	double audit_tokens, audit_last; /* the same for refusals recorded one by one */
	unsigned long unrecorded;
	char last_unrecorded[160];
	struct entry *hnext, *prev, *next;
};

struct auth_gate {
	pthread_mutex_t lock;
	double rate, burst, audit_rate, audit_burst;
	unsigned max, count;
	size_t n_buckets;
	uint64_t seed; /* keyed hash: an attacker cannot aim addresses at one bucket chain */
	struct entry **buckets;
	struct entry *all;
	struct entry others;
};

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t bucket_of(const struct auth_gate *g, const char *addr)
{
	uint64_t h = 1469598103934665603ull ^ g->seed;

	for (const char *c = addr; *c; c++)
		h = (h ^ (uint8_t)*c) * 1099511628211ull;
	return (size_t)(h % g->n_buckets);
}

int auth_gate_new(unsigned rate_per_s, unsigned burst, unsigned audit_rate_per_s,
		  unsigned audit_burst, unsigned max_addresses, struct auth_gate **out)
{
	struct auth_gate *g = calloc(1, sizeof(*g));

	if (!g)
		return -ENOMEM;
	g->rate = rate_per_s;
	g->burst = burst ? burst : 1;
	g->audit_rate = audit_rate_per_s;
	g->audit_burst = audit_burst ? audit_burst : 1;
	g->max = max_addresses;
	g->n_buckets = 4096;
	g->buckets = calloc(g->n_buckets, sizeof(struct entry *));
	if (!g->buckets || RAND_bytes((unsigned char *)&g->seed, sizeof(g->seed)) != 1) {
		free(g->buckets);
		free(g);
		return -ENOMEM;
	}
	snprintf(g->others.addr, sizeof(g->others.addr), OTHERS);
	g->others.tokens = g->burst;
	g->others.last = g->others.audit_last = mono();
	g->others.audit_tokens = g->audit_burst;
	pthread_mutex_init(&g->lock, NULL);
	*out = g;
	return 0;
}

void auth_gate_free(struct auth_gate *g)
{
	if (!g)
		return;
	for (struct entry *e = g->all, *n; e; e = n) {
		n = e->next;
		free(e);
	}
	free(g->buckets);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

/* Under the lock. Never fails: without room (or memory) the shared entry stands in. */
static struct entry *lookup(struct auth_gate *g, const char *addr, double now)
{
	size_t b = bucket_of(g, addr);
	struct entry *e;

	for (e = g->buckets[b]; e; e = e->hnext)
		if (!strcmp(e->addr, addr))
			return e;
	if (g->count >= g->max || !(e = calloc(1, sizeof(*e))))
		return &g->others;
	snprintf(e->addr, sizeof(e->addr), "%s", addr);
	e->tokens = g->burst;
	e->audit_tokens = g->audit_burst;
	e->last = e->audit_last = now;
	e->hnext = g->buckets[b];
	g->buckets[b] = e;
	e->next = g->all;
	if (g->all)
		g->all->prev = e;
	g->all = e;
	g->count++;
	return e;
}

static void refill(const struct auth_gate *g, struct entry *e, double now)
{
	e->tokens += (now - e->last) * g->rate;
	if (e->tokens > g->burst)
		e->tokens = g->burst;
	e->last = now;
	e->audit_tokens += (now - e->audit_last) * g->audit_rate;
	if (e->audit_tokens > g->audit_burst)
		e->audit_tokens = g->audit_burst;
	e->audit_last = now;
}

/* Locks the gate and returns addr's entry with its buckets refilled up to now. */
static struct entry *entry_lock(struct auth_gate *g, const char *addr)
{
	double now = mono();
	struct entry *e;

	pthread_mutex_lock(&g->lock);
	e = lookup(g, addr && *addr ? addr : "?", now);
	refill(g, e, now);
	return e;
}

bool auth_gate_admit(struct auth_gate *g, const char *addr)
{
	struct entry *e = entry_lock(g, addr);
	bool ok = e->tokens >= 1;

	if (ok)
		e->tokens -= 1;
	else
		e->limited++;
	pthread_mutex_unlock(&g->lock);
	return ok;
}

bool auth_gate_audit_one(struct auth_gate *g, const char *addr, const char *reason)
{
	struct entry *e = entry_lock(g, addr);
	bool ok = e->audit_tokens >= 1;

	if (ok) {
		e->audit_tokens -= 1;
	} else {
		e->unrecorded++;
		snprintf(e->last_unrecorded, sizeof(e->last_unrecorded), "%s",
			 reason ? reason : "");
	}
	pthread_mutex_unlock(&g->lock);
	return ok;
}

void auth_gate_record(struct auth_gate *g, const char *addr, bool issued, const char *reason)
{
	struct entry *e;

	pthread_mutex_lock(&g->lock);
	e = lookup(g, addr && *addr ? addr : "?", mono());
	if (issued) {
		e->issued++;
	} else {
		e->refused++;
		snprintf(e->last_refusal, sizeof(e->last_refusal), "%s", reason ? reason : "");
	}
	pthread_mutex_unlock(&g->lock);
}

static void forget(struct auth_gate *g, struct entry *e)
{
	struct entry **pp = &g->buckets[bucket_of(g, e->addr)];

	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	if (e->prev)
		e->prev->next = e->next;
	else
		g->all = e->next;
	if (e->next)
		e->next->prev = e->prev;
	g->count--;
	free(e);
}

static bool active(const struct entry *e)
{
	return e->issued || e->refused || e->limited || e->unrecorded;
}

static void reset(struct entry *e)
{
	e->issued = e->refused = e->limited = e->unrecorded = 0;
	e->last_refusal[0] = '\0';
	e->last_unrecorded[0] = '\0';
}

void auth_gate_flush(struct auth_gate *g, unsigned max_lines,
		     void (*emit)(void *ctx, const struct auth_gate_counts *c), void *ctx)
{
	struct auth_gate_counts rest = {.addr = OTHERS};
	double now = mono();
	unsigned lines = 0;
	char rest_reason[160] = "", rest_unrecorded[160] = "";

	pthread_mutex_lock(&g->lock);
	for (struct entry *e = g->all, *n; e; e = n) {
		n = e->next;
		if (active(e) && lines < max_lines) {
			struct auth_gate_counts c = {
				e->addr,	 e->issued,	e->refused,	   e->limited,
				e->last_refusal, e->unrecorded, e->last_unrecorded};

			emit(ctx, &c);
			lines++;
		} else if (active(e)) {
			rest.issued += e->issued;
			rest.refused += e->refused;
			rest.limited += e->limited;
			rest.unrecorded += e->unrecorded;
			if (e->last_refusal[0])
				snprintf(rest_reason, sizeof(rest_reason), "%s", e->last_refusal);
			if (e->last_unrecorded[0])
				snprintf(rest_unrecorded, sizeof(rest_unrecorded), "%s",
					 e->last_unrecorded);
		}
		reset(e);
		/* A full bucket and nothing counted: the entry carries nothing worth keeping. */
		refill(g, e, now);
		if (e->tokens >= g->burst && e->audit_tokens >= g->audit_burst)
			forget(g, e);
	}
	rest.issued += g->others.issued;
	rest.refused += g->others.refused;
	rest.limited += g->others.limited;
	rest.unrecorded += g->others.unrecorded;
	if (g->others.last_refusal[0])
		snprintf(rest_reason, sizeof(rest_reason), "%s", g->others.last_refusal);
	if (g->others.last_unrecorded[0])
		snprintf(rest_unrecorded, sizeof(rest_unrecorded), "%s", g->others.last_unrecorded);
	reset(&g->others);
	rest.last_refusal = rest_reason;
	rest.last_unrecorded = rest_unrecorded;
	if (rest.issued || rest.refused || rest.limited || rest.unrecorded)
		emit(ctx, &rest);
	pthread_mutex_unlock(&g->lock);
}
