/* KBS sessions without server-side state: everything a session needs (its id, nonce, expiry and,
 * once attested, what attest established) travels in its kbs-session-id cookie, sealed with
 * AES-256-GCM under a key derived from the root key, so any replica sharing the root key serves
 * any step of any session. What stays in one replica is its table of spent nonces (a session
 * attests once per replica): bounded, and when full the unattested entries of the busiest peer go
 * first, attested entries of other peers never. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "jwk.h"
#include "quote.h"

#define SESSION_ID_LEN	  32 /* hex characters of 16 random bytes: the audit log's name */
#define SESSION_NONCE_LEN 32
#define SESSION_NONCE_B64 44 /* standard base64 of 32 bytes, without the NUL */
#define SESSION_COOKIE_MAX \
	2048 /* base64url characters of a sealed cookie (an attested one ~1150) */
#define SESSION_KEY_LEN	      32
#define SESSION_RTMR3_LOG_MAX 127

struct session_table;

/* What attest established, kept (in the cookie) for the resource requests of the session. */
struct session_attestation {
	struct tdx_td_body body;
	char tcb_status[48];
	time_t collateral_issued;
	uint32_t tcb_eval_number;
	uint8_t tee_xy[2 * JWK_P256_COORD_LEN]; /* the key the JWE is sealed to (x, y) */
	/* What the replayed runtime log (AAEL) says moved RTMR3 this boot ("" without one): named
	 * by an RTMR3 refusal at /resource. */
	char rtmr3_log[SESSION_RTMR3_LOG_MAX + 1];
};

/* An opened (or new) session. */
struct session {
	char id[SESSION_ID_LEN + 1];
	char nonce[SESSION_NONCE_B64 + 1];
	time_t expires; /* wall-clock seconds: replicas share a clock, not a monotonic one */
	bool attested;
	struct session_attestation att; /* when attested */
};

/* key: SESSION_KEY_LEN bytes (derived from the root key), copied into secure memory.
 * max_entries bounds the table of spent nonces. */
int session_table_new(unsigned max_entries, unsigned lifetime_s, const uint8_t *key,
		      struct session_table **out);
void session_table_free(struct session_table *t);

/* A new session (fresh id and nonce, expiring after the lifetime) and its sealed cookie value. */
int session_create(struct session_table *t, struct session *s, char cookie[SESSION_COOKIE_MAX + 1]);

/* Opens a cookie value (the part after "kbs-session-id="). Returns 0, or -EINVAL malformed,
 * -EKEYREJECTED sealed under another key (another fleet, or a rotated root key), -EBADMSG fails
 * authentication (tampered), -ETIME expired (s->id is then set); *reason names it. */
int session_open(struct session_table *t, const char *cookie, struct session *s,
		 const char **reason);

/* Spends the session's nonce on this replica: the session must not have attested, its id must
 * not be in the table, and nonce_b64 must be its nonce. The id is recorded whatever follows.
 * peer_addr (the client's address, without port) decides what is evicted when the table is full.
 * Returns 0, or -EALREADY spent, -EBADMSG nonce mismatch, -ENOSPC table full of attested
 * entries of other peers; *reason names it. */
int session_attest_begin(struct session_table *t, const struct session *s, const char *peer_addr,
			 const char *nonce_b64, const char **reason);
/* Records that the session attested with a (copied into s) and seals the attested session into a
 * new cookie value. */
int session_attest_finish(struct session_table *t, struct session *s,
			  const struct session_attestation *a, char cookie[SESSION_COOKIE_MAX + 1]);

/* Drops expired entries; returns how many. */
size_t session_table_expire(struct session_table *t);
/* Unexpired entries dropped because the table was full. */
uint64_t session_table_evictions(struct session_table *t);
size_t session_table_count(struct session_table *t);
