/* The event logs an agent sends with its quote: the firmware's CCEL (RTMR0-3) and the runtime
 * AAEL (RTMR3). Both are replayed against the quote; a log that does not reproduce the quote's
 * registers is refused. Release decisions still rest on the quote's registers alone (event-level
 * policies are expanded into register values at load): the logs explain them. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aael.h"
#include "ccel.h"
#include "quote.h"

struct eventlog {
	bool has_ccel;
	struct ccel_log ccel; /* points into the caller's CCEL buffer */
	struct aael_log *aael;
};

/* Parses whichever logs are given (NULL/0 = absent). Returns 0, or -EBADMSG with the reason
 * ("CCEL: event 3: truncated in its data", "AAEL: line 2: ...") in reason. */
int eventlog_parse(struct eventlog *el, const uint8_t *ccel, size_t ccel_len, const uint8_t *aael,
		   size_t aael_len, char *reason, size_t reason_len);
void eventlog_done(struct eventlog *el);

/* 0 when every register the logs cover replays to the quote's value; -EACCES otherwise, with
 * *mismatch the bit mask of the registers that differ (bit i = RTMRi) and reason naming the
 * first ("event log replay mismatch: RTMR1 (CCEL)"). */
int eventlog_replay(const struct eventlog *el, const struct tdx_td_body *b, unsigned *mismatch,
		    char *reason, size_t reason_len);

/* What the runtime log (AAEL) says happened to RTMR3 since its INIT line, for a refusal on RTMR3:
 * "1 event, last 'tdx-unlock released vda'" (the line cut to fit); "" without an AAEL. */
void eventlog_rtmr3_summary(const struct eventlog *el, char *out, size_t out_len);

/* {"replay": "ok"|"mismatch", "mismatch": ["rtmr1", ...], "events": [{"mr": "rtmr1", "type":
 * "EV_...", "digest": hex, "kind": "kernel"}, ..., {"mr": "rtmr3", "type": "aael", "digest": hex,
 * "line": "INIT ..."|"domain op content"}]}. */
int eventlog_report(const struct eventlog *el, const struct tdx_td_body *b,
		    struct json_object **out);
