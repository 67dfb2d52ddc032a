/* The KBS endpoints of tdx-keyd, independent of the HTTP transport: auth, attest and resource
 * decisions over the sessions, the verifier, the policy set and the root key, each audited. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "cleanup.h"
#include "keyd_config.h"

struct release_service;

enum keyd_method { KEYD_GET, KEYD_POST, KEYD_OTHER };

struct keyd_request {
	enum keyd_method method;
	const char *path;   /* decoded path of the URI, without the query */
	const char *cookie; /* the Cookie header as received, or NULL */
	const char *body;   /* not NUL-terminated */
	size_t body_len;
	const char *peer;      /* "ip:port" for the audit log */
	const char *peer_addr; /* the client's address alone: per-peer limits */
};

struct keyd_reply {
	int status;
	char *body;	       /* malloc'ed JSON text */
	char set_cookie[2200]; /* empty = none; a sealed session (session.h) and attributes */
};

/* Loads root key, policies, verifier (test root only if configured, logged loudly), collateral
 * store, audit log and session table. */
int release_service_new(const struct keyd_config *cfg, struct release_service **out);
void release_service_free(struct release_service *s);
DEFINE_CLEANUP_FUNC(struct release_service, release_service_free)

/* Reloads the policy directory and drops cached collateral. A set that fails to load leaves
 * the current one in force (with a log line saying why) and returns its error. */
int release_service_reload(struct release_service *s);

/* Thread-safe: workers call it concurrently. Never blocks on the network. */
void release_service_handle(struct release_service *s, const struct keyd_request *req,
			    struct keyd_reply *rep);
void keyd_reply_done(struct keyd_reply *rep);

/* The admin endpoint (POST /admin/v0/secret, mutual TLS, docs/keyd.md): body
 * {"resource":"repo/type/tag","jwk":{P-256 public JWK}}; the reply is the resource's disk secret
 * as a flattened JWE (ECDH-ES+A256KW, A256GCM) to that key. client names the certificate
 * ("subject=...; spki-sha256=...", NULL = none); refusal, set by the transport when the
 * certificate is missing or not on the allow-list, is answered 403. Every call is audited. */
struct keyd_admin_request {
	enum keyd_method method;
	const char *path;
	const char *body; /* not NUL-terminated */
	size_t body_len;
	const char *peer;
	const char *client;
	const char *refusal;
};
void release_service_admin(struct release_service *s, const struct keyd_admin_request *req,
			   struct keyd_reply *rep);

/* Writes one audit record for a refusal decided by the transport (timeout, TLS failure, PROXY
 * header), within the per-address audit budget of addr (the client address, may be NULL): beyond
 * it, the refusal is only counted in the address's aggregated record, so opening connections
 * that fail costs the log as little as any other refusal. */
void release_service_audit_transport(struct release_service *s, const char *peer, const char *addr,
				     const char *reason);

/* Periodic upkeep, every limits.auth_audit_interval_s: writes the aggregated auth audit records,
 * expires spent nonces. */
void release_service_tick(struct release_service *s);
/* Writes the aggregated auth audit records now (release_service_free() does too). */
void release_service_flush_auth(struct release_service *s);
