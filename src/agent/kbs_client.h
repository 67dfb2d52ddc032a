/* Client of the KBS attestation protocol 0.4.0 over libcurl (HTTPS only, TLS >= 1.2, server key
 * pinned by SPKI SHA-256 and/or a CA file, bounded time and response size), used by the agent's
 * unlock and by keyd's tests and benchmark. One client = one KBS session on one connection. */
#pragma once

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "kbs_msg.h"

#define KBS_CLIENT_PIN_LEN	32 /* SHA-256 of the server's SubjectPublicKeyInfo (DER) */
#define KBS_CLIENT_MAX_PINS	8
#define KBS_CLIENT_MAX_RESPONSE (64 * 1024)

struct kbs_client_opts {
	const char *url; /* https://host[:port], no trailing slash */
	/* Pins: the server's key must hash to one of them. With pins and no CA file the
	 * certificate chain and its validity dates are not checked (the early-boot clock is
	 * host-controlled); the pin is what authenticates the server. */
	const uint8_t (*pins)[KBS_CLIENT_PIN_LEN];
	size_t n_pins;
	const char *ca_file;	     /* PEM; verifies chain and host name */
	unsigned connect_timeout_ms; /* per connection attempt (0 = 2000) */
	unsigned request_timeout_ms; /* per HTTP exchange (0 = 10000) */
	unsigned total_timeout_ms;   /* the whole session (0 = 30000) */
	size_t max_response;	     /* bytes (0 = KBS_CLIENT_MAX_RESPONSE) */
};

struct kbs_client;

/* The pin of the server whose PEM certificate is at cert_path: SHA-256 of its SubjectPublicKeyInfo
 * (DER), what "pins" hold. Returns 0, or -EINVAL (unreadable or not a certificate), logged. */
int kbs_client_pin_from_cert(const char *cert_path, uint8_t pin[KBS_CLIENT_PIN_LEN]);

/* Optional, before the first kbs_client_new(): does the process-wide TLS set-up every first
 * connection pays (libcurl, OpenSSL's DRBG, its TLS method and cipher fetches) ahead of time, so
 * a caller with nothing else to do (waiting for a route) can take it off the connection's path.
 * Creates no connection and holds no secret; failures are left to the connection to report. */
void kbs_client_prepare(void);
/* Needs a pin or a CA file, and an https URL. */
int kbs_client_new(const struct kbs_client_opts *o, struct kbs_client **out);
void kbs_client_free(struct kbs_client *c);
/* Microseconds the last kbs_client_resource() spent decrypting the JWE (phase timing). */
uint64_t kbs_client_jwe_us(const struct kbs_client *c);

/* Errors of the calls below, with reason filled in:
 *   -EHOSTUNREACH  connect failed      -ETIMEDOUT  a time bound passed
 *   -EKEYREJECTED  server key does not match the pin / certificate not trusted
 *   -EACCES        the server refused: reason is "<ErrorType>: <detail>" from its KBS error
 *   -EPROTO        malformed or oversized response        -ENOMEM, -EIO  local failures */

/* POST /kbs/v0/auth; keeps the kbs-session-id cookie for the following requests. */
int kbs_client_auth(struct kbs_client *c, struct kbs_challenge *out, char *reason,
		    size_t reason_len);
/* POST /kbs/v0/attest with the quote (whose REPORTDATA must be kbs_report_data() of nonce and
 * tee_key's JWK) and the public half of tee_key. */
/* Event logs the next kbs_client_attest() sends as primary_evidence.cc_eventlog (the CCEL bytes)
 * and .aa_eventlog (the AAEL text); borrowed until then; NULL = none. */
void kbs_client_set_eventlogs(struct kbs_client *c, const uint8_t *ccel, size_t ccel_len,
			      const char *aael);
int kbs_client_attest(struct kbs_client *c, const char *nonce, EVP_PKEY *tee_key,
		      const uint8_t *quote, size_t quote_len, char *reason, size_t reason_len);
/* GET /kbs/v0/resource/<path> and decrypts the JWE with tee_key: *secret is secure memory
 * (secmem_free it). */
int kbs_client_resource(struct kbs_client *c, const char *path, EVP_PKEY *tee_key, uint8_t **secret,
			size_t *secret_len, char *reason, size_t reason_len);

/* Raw exchange on the session (tests): method "GET", "POST" (or another, sent as is), path from
 * the URL root, body may be NULL. *status is the HTTP status, *resp the malloc'ed NUL-terminated
 * body. */
int kbs_client_request(struct kbs_client *c, const char *method, const char *path, const char *body,
		       size_t body_len, long *status, char **resp, size_t *resp_len, char *reason,
		       size_t reason_len);
/* Replaces the session cookie (tests: foreign or missing cookie). NULL = none. */
void kbs_client_set_session(struct kbs_client *c, const char *session_id);
const char *kbs_client_session(const struct kbs_client *c);
