/* Audit log of release decisions: one JSON line per decision, appended to a file with a single
 * write() (so concurrent lines never interleave) and copied to stderr. Never holds a secret. */
#pragma once

#include <stdbool.h>

#include "quote.h"

struct audit_log;

struct audit_record {
	const char *event;   /* "auth", "attest", "resource", "request" */
	const char *peer;    /* "ip:port" */
	const char *session; /* kbs-session-id, or NULL */
	const char *resource;
	const char *policy_id;
	const struct tdx_td_body *body; /* MRTD and RTMRs are logged when known */
	const char *tcb_status;
	bool allowed;
	const char *reason; /* why refused (or "released"); never a secret */
};

/* path NULL = stderr only. The file is opened O_APPEND|O_CREAT, mode 0640. */
int audit_open(const char *path, struct audit_log **out);
void audit_close(struct audit_log *a);
/* Writes one record. Returns 0, or a negative errno (logged) when the record could not be
 * written to the audit file: a release that cannot be audited is refused by the caller. */
int audit_write(struct audit_log *a, const struct audit_record *rec);
