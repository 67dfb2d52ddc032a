/* /auth per client address: a token bucket (rate, burst) that refuses a flood before it costs
 * anything, and the counts behind the aggregated auth audit (one record per address per
 * interval, not one per request). Bounded: beyond max_addresses, new addresses share one
 * entry ("other addresses"), limited and counted together. Thread-safe. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct auth_gate;

/* rate_per_s, burst: /auth per address. audit_rate_per_s, audit_burst: refusals per address
 * recorded one by one (auth_gate_audit_one()). */
int auth_gate_new(unsigned rate_per_s, unsigned burst, unsigned audit_rate_per_s,
		  unsigned audit_burst, unsigned max_addresses, struct auth_gate **out);
void auth_gate_free(struct auth_gate *g);

/* One /auth from addr: true when admitted (a token taken), false when over the limit (counted
 * as rate-limited). */
bool auth_gate_admit(struct auth_gate *g, const char *addr);
/* The outcome of an admitted /auth: a challenge issued, or refused with reason. */
void auth_gate_record(struct auth_gate *g, const char *addr, bool issued, const char *reason);

/* A refusal (attest, resource, unknown endpoint) from addr: true when it may be recorded on its
 * own, false when the address is over its audit budget (then it is only counted, with reason,
 * for the aggregated record): a refusal costs its sender nothing to repeat. */
bool auth_gate_audit_one(struct auth_gate *g, const char *addr, const char *reason);

struct auth_gate_counts {
	const char *addr;
	unsigned long issued, refused, limited;
	const char *last_refusal; /* "" when none */
	unsigned long unrecorded; /* refusals over the audit budget */
	const char *last_unrecorded;
};

/* Hands each address with activity since the last flush to emit (at most max_lines; the rest
 * summed into one more call with addr "other addresses"), resets the counts and forgets idle
 * addresses. */
void auth_gate_flush(struct auth_gate *g, unsigned max_lines,
		     void (*emit)(void *ctx, const struct auth_gate_counts *c), void *ctx);
