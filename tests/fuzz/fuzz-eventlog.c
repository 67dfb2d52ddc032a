/* libFuzzer harness: the event logs an agent sends (CCEL bytes, AAEL text), parsed and replayed
 * as keyd does at /attest. The first input byte picks the log (even: CCEL, odd: AAEL). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "aael.h"
#include "ccel.h"
#include "fuzz-common.h"

FUZZ_INIT_QUIET("fuzz-eventlog")

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t rtmr[CCEL_NUM_RTMR][CCEL_DIGEST_LEN], reg[AAEL_DIGEST_LEN];
	char reason[256];

	if (size < 1)
		return 0;
	if (data[0] % 2 == 0) {
		struct ccel_log log;

		if (ccel_parse(data + 1, size - 1, &log, reason, sizeof(reason)) != 0)
			return 0;
		for (size_t i = 0; i < log.n_events; i++) {
			const struct ccel_event *e = &log.events[i];

			/* Every event points inside the input and names an RTMR. */
			if (e->rtmr >= CCEL_NUM_RTMR || e->data < data + 1 ||
			    e->data + e->data_len > data + size)
				__builtin_trap();
			(void)ccel_event_kind(&log, i);
			(void)ccel_event_type_name(e->type);
		}
		if (ccel_replay(&log, rtmr) != 0)
			__builtin_trap();
		ccel_log_done(&log);
	} else {
		struct aael_log *log = NULL;

		if (aael_parse(data + 1, size - 1, &log, reason, sizeof(reason)) != 0)
			return 0;
		for (size_t i = 0; i < log->n_events; i++)
			if (!aael_field_valid(log->events[i].domain) ||
			    !aael_field_valid(log->events[i].operation) ||
			    !aael_field_valid(log->events[i].content))
				__builtin_trap();
		if (aael_replay(log, reg) != 0)
			__builtin_trap();
		aael_log_free(log);
	}
	return 0;
}
