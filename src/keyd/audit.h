/* Audit log of release decisions: one JSON line per decision, appended to a file with a single
 * write() (so concurrent lines never interleave) and copied to stderr. Never holds a secret.
 * Tamper-evident: every record ends in "mac", HMAC-SHA256(audit key, previous record's MAC ||
 * the record without its mac member), and every file, and every keyd start, begins with a
 * "chain-start" record naming the MAC it continues from (docs/keyd.md, "Audit log"). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
	const char *client; /* admin endpoint: the client certificate (member only when set) */
};

#define AUDIT_KEY_LEN 32

/* path NULL = stderr only. The file is opened O_APPEND|O_CREAT, mode 0640; the chain continues
 * from the MAC of the file's last record (a chain-start record says so). key is the audit key,
 * rootkey_subkey("audit/v1"), copied into secure memory. */
int audit_open(const char *path, const uint8_t key[AUDIT_KEY_LEN], struct audit_log **out);
void audit_close(struct audit_log *a);
/* Reopens the file after rotation (SIGHUP): a new, empty file starts with a chain-start record
 * naming the last MAC written to the old one. Returns 0 or a negative errno (logged); on error
 * the old descriptor stays in use. */
int audit_reopen(struct audit_log *a);
/* Writes one record. Returns 0, or a negative errno (logged) when the record could not be
 * written to the audit file: a release that cannot be audited is refused by the caller. */
int audit_write(struct audit_log *a, const struct audit_record *rec);

/* Checks the chain of the audit files paths[0..n) (in rotation order, oldest first): each
 * record's MAC, each chain-start's link to the MAC before it, across files too. Prints one
 * line per file to stdout; returns 0 when intact, or -EBADMSG with the first bad record named
 * ("FILE: line N: ...") in reason. */
int audit_verify(const uint8_t key[AUDIT_KEY_LEN], const char *const *paths, size_t n, char *reason,
		 size_t reason_len);
