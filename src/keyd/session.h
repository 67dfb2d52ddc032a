/* KBS sessions (cookie kbs-session-id) and their nonces: a bounded table, oldest evicted, with
 * nonces that carry their own HMAC and time so that any replica sharing the root key can check
 * them. A session attests once; its nonce is accepted once. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <time.h>

#include "quote.h"

#define SESSION_ID_LEN	  32 /* hex characters of 16 random bytes */
#define SESSION_NONCE_LEN 32
#define SESSION_NONCE_B64 44 /* standard base64 of 32 bytes, without the NUL */

struct session_table;

/* What attest established, kept for the resource requests of the session. */
struct session_attestation {
	struct tdx_td_body body;
	char tcb_status[48];
	time_t collateral_issued;
	uint32_t tcb_eval_number;
	EVP_PKEY *tee_key; /* the key the JWE is sealed to (a reference) */
};

struct session_new {
	char id[SESSION_ID_LEN + 1];
	char nonce[SESSION_NONCE_B64 + 1];
};

/* nonce_key: 32 bytes, copied into secure memory. */
int session_table_new(unsigned max_sessions, unsigned lifetime_s, const uint8_t *nonce_key,
		      struct session_table **out);
void session_table_free(struct session_table *t);

int session_create(struct session_table *t, struct session_new *out);

/* Consumes the session's nonce: the claimed nonce must be the session's, carry a valid HMAC and
 * be within the lifetime. Returns 0, or -ENOENT unknown session, -ETIME expired, -EALREADY
 * nonce already used, -EBADMSG nonce mismatch; *reason names it. */
int session_attest_begin(struct session_table *t, const char *id, const char *nonce_b64,
			 const char **reason);
/* Stores the attestation of a session whose nonce was consumed (takes a reference on
 * a->tee_key). */
int session_attest_finish(struct session_table *t, const char *id,
			  const struct session_attestation *a);
/* Copies out an attested session's data; out->tee_key is a new reference the caller frees.
 * Errors as session_attest_begin(), -EACCES not attested. */
int session_get_attested(struct session_table *t, const char *id, struct session_attestation *out,
			 const char **reason);

/* Checks a nonce's HMAC and age without the table (what another replica would do). */
int session_nonce_check(const struct session_table *t, const char *nonce_b64, time_t now);

/* Drops expired sessions; returns how many. */
size_t session_table_expire(struct session_table *t);
uint64_t session_table_evictions(struct session_table *t);
size_t session_table_count(struct session_table *t);
