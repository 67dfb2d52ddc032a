/* Messages of the KBS attestation protocol 0.4.0 (Trustee's RCAR handshake), built and strictly
 * parsed for both sides, and the REPORTDATA that binds a quote to the nonce and the TEE key.
 * Shapes and error types are documented in docs/protocol.md. */
#pragma once

#include <json-c/json.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "jwk.h"

#define KBS_PROTOCOL_VERSION  "0.4.0"
#define KBS_TEE_TDX	      "tdx"
#define KBS_URL_PREFIX	      "/kbs/v0"
#define KBS_COOKIE_NAME	      "kbs-session-id"
#define KBS_ERROR_TYPE_PREFIX "https://github.com/confidential-containers/kbs/errors/"

#define KBS_MSG_MAX_LEN		(1024 * 1024) /* any request or response body */
#define KBS_NONCE_MAX_LEN	256
#define KBS_QUOTE_MAX_LEN	(64 * 1024)  /* decoded quote bytes (= TDX_QUOTE_MAX_LEN) */
#define KBS_EVENTLOG_MAX_LEN	(512 * 1024) /* decoded cc_eventlog bytes */
#define KBS_AA_EVENTLOG_MAX_LEN (64 * 1024)  /* aa_eventlog text (= AAEL_MAX_LEN) */
#define KBS_TOKEN_MAX_LEN	(64 * 1024)
#define KBS_DETAIL_MAX_LEN	1024
#define KBS_REPORT_DATA_LEN	64

/* Every function below returns 0 or a negative errno. Builders return a malloc'ed NUL-terminated
 * JSON text in *out. Parsers take the body exactly as received (len bytes, no NUL needed), refuse
 * bodies over KBS_MSG_MAX_LEN (-EMSGSIZE), malformed or duplicate-key JSON, missing or mistyped
 * fields (-EINVAL), and fill reason (if non-NULL) with what was wrong. */

/* POST /kbs/v0/auth  {"version":"0.4.0","tee":"tdx","extra-params":{}} */
int kbs_auth_request_build(char **out);
/* Server side. Refuses a version other than exactly "0.4.0" (-EPROTONOSUPPORT) and a tee other
 * than "tdx" (-EOPNOTSUPP); extra-params may be absent or any JSON value and is ignored. */
int kbs_auth_request_parse(const char *body, size_t len, char *reason, size_t reason_len);

/* Auth response  {"nonce":"...","extra-params":""} */
struct kbs_challenge {
	char nonce[KBS_NONCE_MAX_LEN + 1];
};
int kbs_challenge_build(const char *nonce, char **out);
/* Client side. extra-params may be a string or an object; an object naming a
 * "selected-hash-algorithm" other than sha384 is refused (-EOPNOTSUPP): REPORTDATA uses SHA-384. */
int kbs_challenge_parse(const char *body, size_t len, struct kbs_challenge *out, char *reason,
			size_t reason_len);

/* POST /kbs/v0/attest
 * {"runtime-data":{"nonce":...,"tee-pubkey":JWK},
 *  "tee-evidence":{"primary_evidence":{"quote":<std base64>,"cc_eventlog":<std base64>|null,
 *                                      "aa_eventlog":<AAEL text>|null},
 *                  "additional_evidence":""}}
 * cc_eventlog is the firmware's CCEL, aa_eventlog the runtime RTMR3 log (aael.h); either may be
 * NULL. */
int kbs_attest_request_build(const char *nonce, EVP_PKEY *tee_key, const uint8_t *quote,
			     size_t quote_len, const uint8_t *cc_eventlog, size_t cc_eventlog_len,
			     const char *aa_eventlog, char **out);

struct kbs_attest_request {
	char nonce[KBS_NONCE_MAX_LEN + 1];
	struct json_object *tee_pubkey_jwk;	/* validated JWK as received (for REPORTDATA) */
	uint8_t tee_xy[2 * JWK_P256_COORD_LEN]; /* the same key's coordinates (x, y), on P-256 */
	uint8_t *quote;				/* decoded, 1..KBS_QUOTE_MAX_LEN bytes */
	size_t quote_len;
	uint8_t *cc_eventlog; /* decoded, or NULL when null/absent */
	size_t cc_eventlog_len;
	char *aa_eventlog; /* the AAEL text (not yet parsed), or NULL when null/absent */
	size_t aa_eventlog_len;
};
/* Server side. Also refuses a non-empty additional_evidence and a non-null init-data
 * (-EOPNOTSUPP), and a tee-pubkey that jwk_to_p256_coordinates() refuses. On success the caller
 * owns *out and releases it with kbs_attest_request_done(); on failure *out is left empty. */
int kbs_attest_request_parse(const char *body, size_t len, struct kbs_attest_request *out,
			     char *reason, size_t reason_len);
void kbs_attest_request_done(struct kbs_attest_request *req);

/* Attest response  {"token":"..."} */
int kbs_attest_response_build(const char *token, char **out);
/* Client side; *token is malloc'ed. */
int kbs_attest_response_parse(const char *body, size_t len, char **token, char *reason,
			      size_t reason_len);

/* Error bodies {"type":"https://github.com/confidential-containers/kbs/errors/<Type>","detail":...}
 * with the HTTP status Trustee uses for each type (404 for the two path errors, 401 otherwise). */
enum kbs_error_type {
	KBS_ERR_ATTESTATION,	 /* "AttestationError": auth or attest refused, 401 */
	KBS_ERR_TOKEN_NOT_FOUND, /* "TokenNotFound": resource without an attested session, 401 */
	KBS_ERR_TOKEN_VERIFIER,	 /* "TokenVerifierError": session/token not valid, 401 */
	KBS_ERR_POLICY_DENY,	 /* "PolicyDeny": no policy releases this resource, 401 */
	KBS_ERR_INVALID_REQUEST_PATH, /* "InvalidRequestPath": malformed path, 404 */
	KBS_ERR_PLUGIN_NOT_FOUND,     /* "PluginNotFound": unknown endpoint, 404 */
	KBS_ERR_JWE,		      /* "JweError": the resource could not be encrypted, 401 */
	KBS_ERR_SERDE,		      /* "SerdeError": request body is not the expected JSON, 401 */
	_KBS_ERR_MAX,
};
const char *kbs_error_type_name(enum kbs_error_type type);
int kbs_error_http_status(enum kbs_error_type type);
/* detail must not hold a secret; it is truncated to KBS_DETAIL_MAX_LEN. */
int kbs_error_build(enum kbs_error_type type, const char *detail, char **out);

struct kbs_error {
	char type[64]; /* the part after KBS_ERROR_TYPE_PREFIX, or "" for a foreign type URI */
	char detail[KBS_DETAIL_MAX_LEN + 1];
};
int kbs_error_parse(const char *body, size_t len, struct kbs_error *out, char *reason,
		    size_t reason_len);

/* REPORTDATA = SHA-384(JCS({"additional-evidence":"","nonce":nonce,"tee-pubkey":jwk})) followed
 * by 16 zero bytes, as Trustee and guest-components compute it for a TDX quote. */
int kbs_report_data(const char *nonce, struct json_object *tee_pubkey_jwk,
		    uint8_t out[KBS_REPORT_DATA_LEN]);
