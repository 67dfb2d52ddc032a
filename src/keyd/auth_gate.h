/* /auth per client address: a token bucket (rate, burst) that refuses a flood before it costs
 * anything, and the counts behind the aggregated auth audit (one record per address per
 * interval, not one per request). Bounded: beyond max_addresses, new addresses share one
 * entry ("other addresses"), limited and counted together. Thread-safe. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct auth_gate;

int auth_gate_new(unsigned rate_per_s, unsigned burst, unsigned max_addresses,
		  struct auth_gate **out);
void auth_gate_free(struct auth_gate *g);

/* One /auth from addr: true when admitted (a token taken), false when over the limit (counted
 * as rate-limited). */
bool auth_gate_admit(struct auth_gate *g, const char *addr);
/* The outcome of an admitted /auth: a challenge issued, or refused with reason. */
void auth_gate_record(struct auth_gate *g, const char *addr, bool issued, const char *reason);

struct auth_gate_counts {
	const char *addr;
	unsigned long issued, refused, limited;
	const char *last_refusal; /* "" when none */
};

/* Hands each address with activity since the last flush to emit (at most max_lines; the rest
 * summed into one more call with addr "other addresses"), resets the counts and forgets idle
 * addresses. */
void auth_gate_flush(struct auth_gate *g, unsigned max_lines,
		     void (*emit)(void *ctx, const struct auth_gate_counts *c), void *ctx);
