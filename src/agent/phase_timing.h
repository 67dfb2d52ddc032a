/* Where the agent's time goes: monotonic totals per phase of `tdx-unlock unlock`, each phase
 * logged at debug as it ends and all of them in one summary line at info when the agent exits. */
#pragma once

#include <stdint.h>

enum agent_phase {
	PHASE_NETWORK_WAIT, /* waiting for a route to a configured server */
	PHASE_HEADERS,	    /* LUKS2 header copy, sealing and validation */
	PHASE_QUOTE,	    /* the quote from configfs-tsm (the host's share) */
	PHASE_KBS_AUTH,	    /* TLS connect + /auth */
	PHASE_KBS_ATTEST,   /* /attest: the server verifies the quote */
	PHASE_KBS_RESOURCE, /* /resource: the HTTP exchange */
	PHASE_JWE,	    /* decrypting the released secret */
	PHASE_ACTIVATION,   /* keyslot open (PBKDF) + dm-crypt mapping */
	PHASE_WIPE_EXIT,    /* freeing and wiping after the last device */
	PHASE_COUNT,
};

struct phase_timing {
	uint64_t start_us;
	uint64_t work_done_us; /* end of the last activation: wipe+exit starts here */
	uint64_t total_us[PHASE_COUNT];
};

uint64_t phase_now_us(void);
void phase_timing_init(struct phase_timing *t);
/* Adds now - since to phase p (t may be NULL: nothing is recorded), logs it at debug, returns
 * now so calls can chain. */
uint64_t phase_end(struct phase_timing *t, enum agent_phase p, uint64_t since);
/* One info line: every phase in ms and the wall time since phase_timing_init(). */
void phase_timing_log_summary(const struct phase_timing *t, const char *outcome);
