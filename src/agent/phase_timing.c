#include "agent/phase_timing.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "log.h"

static const char *const phase_names[PHASE_COUNT] = {
	[PHASE_NETWORK_WAIT] = "network",
	[PHASE_HEADERS] = "headers",
	[PHASE_QUOTE] = "quote",
	[PHASE_KBS_AUTH] = "auth",
	[PHASE_KBS_ATTEST] = "attest",
	[PHASE_KBS_RESOURCE] = "resource",
	[PHASE_JWE] = "jwe",
	[PHASE_ACTIVATION] = "activation",
	[PHASE_WIPE_EXIT] = "wipe+exit",
};

uint64_t phase_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void phase_timing_init(struct phase_timing *t)
{
	memset(t, 0, sizeof(*t));
	t->start_us = phase_now_us();
}

uint64_t phase_end(struct phase_timing *t, enum agent_phase p, uint64_t since)
{
	uint64_t now = phase_now_us(), d = now > since ? now - since : 0;

	if (!t)
		return now;
	t->total_us[p] += d;
	log_debug("timing: %s %llu.%03llu ms", phase_names[p], (unsigned long long)(d / 1000),
		  (unsigned long long)(d % 1000));
	return now;
}

void phase_timing_log_summary(const struct phase_timing *t, const char *outcome)
{
	char line[512];
	size_t off = 0;

	for (size_t i = 0; i < ARRAY_SIZE(phase_names) && off < sizeof(line); i++) {
		int n = snprintf(line + off, sizeof(line) - off, "%s%s %llu", off ? ", " : "",
				 phase_names[i], (unsigned long long)(t->total_us[i] / 1000));

		if (n < 0)
			break;
		off += (size_t)n;
	}
	log_info("timing: %s after %llu ms (ms per phase: %s)", outcome,
		 (unsigned long long)((phase_now_us() - t->start_us) / 1000), line);
}
