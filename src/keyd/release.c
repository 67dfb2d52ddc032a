#define _GNU_SOURCE
#include "release.h"

#include <errno.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "auth_gate.h"
#include "b64.h"
#include "cleanup.h"
#include "dcap/collateral_store.h"
#include "dcap/dcap.h"
#include "escape.h"
#include "eventlog.h"
#include "hexutil.h"
#include "jwe.h"
#include "jwk.h"
#include "json_strict.h"
#include "kbs_msg.h"
#include "kdf.h"
#include "log.h"
#include "policy.h"
#include "quote.h"
#include "rootkey.h"
#include "secmem.h"
#include "session.h"
#include "token.h"

/* What SIGHUP replaces as one unit: readers hold a reference while they use it. */
struct keyd_generation {
	atomic_uint refcount;
	struct policy_set *policies;
	struct collateral_store *collateral;
};

/* Client addresses with their own /auth bucket; beyond, they share one. */
#define AUTH_GATE_ADDRESSES 65536
/* Aggregated auth audit records per interval; the remaining addresses are summed in one. */
#define AUTH_AUDIT_MAX_LINES 100
/* Refusals recorded one by one per address (burst, then per second); beyond, counted. */
#define AUDIT_DENY_BURST 100
#define AUDIT_DENY_RATE	 20u

struct release_service {
	const struct keyd_config *cfg;
	struct rootkey *rootkey;
	uint8_t *token_key; /* secmem: signs the attestation token */
	struct session_table *sessions;
	struct auth_gate *auth_gate;
	struct dcap_verifier *verifier;
	struct audit_log *audit;
	pthread_mutex_t gen_lock;
	struct keyd_generation *gen;
	uint64_t evictions_logged; /* main thread only */
};

static void generation_unref(struct keyd_generation *g)
{
	if (g && atomic_fetch_sub(&g->refcount, 1) == 1) {
		policy_set_unref(g->policies);
		collateral_store_free(g->collateral);
		free(g);
	}
}

static struct keyd_generation *generation_get(struct release_service *s)
{
	struct keyd_generation *g;

	pthread_mutex_lock(&s->gen_lock);
	g = s->gen;
	atomic_fetch_add(&g->refcount, 1);
	pthread_mutex_unlock(&s->gen_lock);
	return g;
}

static int generation_load(const struct keyd_config *cfg, struct keyd_generation **out)
{
	struct keyd_generation *g = calloc(1, sizeof(*g));
	int r;

	if (!g)
		return -ENOMEM;
	atomic_init(&g->refcount, 1);
	r = policy_set_load_dir(cfg->policy_dir, &g->policies);
	if (r == 0)
		r = collateral_store_new(cfg->collateral_dir, &g->collateral);
	if (r < 0) {
		generation_unref(g);
		return r;
	}
	*out = g;
	return 0;
}

int release_service_new(const struct keyd_config *cfg, struct release_service **out)
{
	struct release_service *s = calloc(1, sizeof(*s));
	uint8_t session_key[SESSION_KEY_LEN];
	int r;

	if (!s)
		return -ENOMEM;
	s->cfg = cfg;
	pthread_mutex_init(&s->gen_lock, NULL);
	r = rootkey_load_config(cfg, &s->rootkey);
	if (r < 0)
		goto fail;
	s->token_key = secmem_alloc(32);
	if (!s->token_key) {
		r = -ENOMEM;
		goto fail;
	}
	r = rootkey_subkey(s->rootkey, "token/v1", s->token_key);
	if (r < 0)
		goto fail;
	/* Replicas sharing the root key derive the same session key, so any of them opens a
	 * cookie another sealed. */
	r = rootkey_subkey(s->rootkey, "session/v1", session_key);
	if (r == 0)
		r = session_table_new(cfg->limits.max_sessions, cfg->limits.session_lifetime_s,
				      session_key, &s->sessions);
	secmem_wipe(session_key, sizeof(session_key));
	if (r < 0)
		goto fail;
	r = auth_gate_new(cfg->limits.auth_rate_per_s, cfg->limits.auth_burst, AUDIT_DENY_RATE,
			  AUDIT_DENY_BURST, AUTH_GATE_ADDRESSES, &s->auth_gate);
	if (r < 0)
		goto fail;
	r = dcap_verifier_new(cfg->test_root_ca, &s->verifier);
	if (r < 0)
		goto fail;
	if (cfg->test_root_ca)
		log_warn("!!! TEST ROOT CA IN USE (%s): quotes from a simulator will be trusted. "
			 "Never run this configuration in production. !!!",
			 cfg->test_root_ca);
	{
		uint8_t *audit_key = secmem_alloc(AUDIT_KEY_LEN);

		r = audit_key ? rootkey_subkey(s->rootkey, "audit/v1", audit_key) : -ENOMEM;
		if (r == 0)
			r = audit_open(cfg->audit_file, audit_key, &s->audit);
		secmem_free(audit_key);
	}
	if (r < 0)
		goto fail;
	r = generation_load(cfg, &s->gen);
	if (r < 0)
		goto fail;
	log_info("keyd: %zu policies loaded from %s", policy_set_size(s->gen->policies),
		 cfg->policy_dir);
	*out = s;
	return 0;
fail:
	release_service_free(s);
	return r;
}

void release_service_free(struct release_service *s)
{
	if (!s)
		return;
	if (s->auth_gate && s->audit)
		release_service_flush_auth(s);
	auth_gate_free(s->auth_gate);
	generation_unref(s->gen);
	audit_close(s->audit);
	dcap_verifier_free(s->verifier);
	session_table_free(s->sessions);
	secmem_free(s->token_key);
	rootkey_free(s->rootkey);
	pthread_mutex_destroy(&s->gen_lock);
	free(s);
}

int release_service_reload(struct release_service *s)
{
	struct keyd_generation *g, *old;
	int r;

	/* SIGHUP also follows a rotated audit file (logrotate's postrotate). */
	(void)audit_reopen(s->audit);
	r = generation_load(s->cfg, &g);
	if (r < 0) {
		log_error("keyd: reload failed (%s); the previous %zu policies stay in force",
			  strerror(-r), policy_set_size(s->gen->policies));
		return r;
	}
	pthread_mutex_lock(&s->gen_lock);
	old = s->gen;
	s->gen = g;
	pthread_mutex_unlock(&s->gen_lock);
	/* Requests in flight keep the old set until they drop their reference. */
	generation_unref(old);
	log_info("keyd: reloaded, %zu policies in force", policy_set_size(g->policies));
	return 0;
}

static void emit_auth_counts(void *ctx, const struct auth_gate_counts *c)
{
	struct release_service *s = ctx;
	struct audit_record a = {.event = "auth", .peer = c->addr};
	char reason[384];

	if (c->unrecorded) {
		struct audit_record u = {.event = "request", .peer = c->addr, .reason = reason};

		snprintf(reason, sizeof(reason),
			 "%lu further refusals in the last %u s, over the %u/s audit budget of an "
			 "address, recorded only as this count (last: %s)",
			 c->unrecorded, s->cfg->limits.auth_audit_interval_s, AUDIT_DENY_RATE,
			 c->last_unrecorded);
		audit_write(s->audit, &u);
		if (!c->issued && !c->refused && !c->limited)
			return;
	}
	snprintf(reason, sizeof(reason),
		 "%lu challenges issued, %lu refused, %lu rate-limited in the last %u s%s%s%s",
		 c->issued, c->refused, c->limited, s->cfg->limits.auth_audit_interval_s,
		 c->last_refusal[0] ? " (last refusal: " : "", c->last_refusal,
		 c->last_refusal[0] ? ")" : "");
	a.allowed = !c->refused && !c->limited;
	a.reason = reason;
	audit_write(s->audit, &a);
}

/* Releases are always recorded; a refusal costs its sender nothing to repeat, so each address
 * gets AUDIT_DENY_BURST records at once and AUDIT_DENY_RATE a second, and the rest are counted
 * in its aggregated record. */
static int audit_decision(struct release_service *s, const struct keyd_request *req,
			  const struct audit_record *a)
{
	if (!a->allowed && !auth_gate_audit_one(s->auth_gate, req->peer_addr, a->reason))
		return 0;
	return audit_write(s->audit, a);
}

void release_service_flush_auth(struct release_service *s)
{
	auth_gate_flush(s->auth_gate, AUTH_AUDIT_MAX_LINES, emit_auth_counts, s);
}

void release_service_tick(struct release_service *s)
{
	uint64_t ev;

	release_service_flush_auth(s);
	session_table_expire(s->sessions);
	/* Evictions mean live sessions were dropped: the table is too small for the load. */
	ev = session_table_evictions(s->sessions);
	if (ev > s->evictions_logged) {
		log_warn("keyd: %llu live sessions evicted so far (limits.max_sessions = %u)",
			 (unsigned long long)ev, s->cfg->limits.max_sessions);
		s->evictions_logged = ev;
	}
}

void keyd_reply_done(struct keyd_reply *rep)
{
	free(rep->body);
	rep->body = NULL;
}

static void reply_error(struct keyd_reply *rep, enum kbs_error_type type, const char *detail)
{
	char esc[512];

	/* The detail may quote the request or the quote (escape.h). */
	text_escape_str(detail, esc, sizeof(esc));
	rep->status = kbs_error_http_status(type);
	if (kbs_error_build(type, esc, &rep->body) < 0) {
		rep->status = 500;
		rep->body = NULL;
	}
}

void release_service_audit_transport(struct release_service *s, const char *peer, const char *addr,
				     const char *reason)
{
	struct audit_record a = {.event = "connection", .peer = peer, .reason = reason};

	if (addr && !auth_gate_audit_one(s->auth_gate, addr, reason))
		return;
	audit_write(s->audit, &a);
}

/* Finds the kbs-session-id value in a Cookie header. Returns 0, -ENOENT (none) or -EINVAL (twice,
 * empty, too long, or a character outside base64url). Strict and bounded: the value is opened by
 * session_open(), and only its session id (hex) ever reaches a log. */
static int cookie_session_value(const char *cookie, char value[SESSION_COOKIE_MAX + 1])
{
	static const char name[] = KBS_COOKIE_NAME "=";
	const char *p = cookie;
	bool found = false;

	if (!cookie)
		return -ENOENT;
	while (*p) {
		size_t len;

		while (*p == ' ' || *p == ';')
			p++;
		len = strcspn(p, ";");
		if (len >= strlen(name) && !strncmp(p, name, strlen(name))) {
			size_t vlen = len - strlen(name);
			const char *v = p + strlen(name);

			if (found || vlen == 0 || vlen > SESSION_COOKIE_MAX)
				return -EINVAL;
			for (size_t i = 0; i < vlen; i++)
				if (!((v[i] >= '0' && v[i] <= '9') ||
				      (v[i] >= 'a' && v[i] <= 'z') ||
				      (v[i] >= 'A' && v[i] <= 'Z') || v[i] == '-' || v[i] == '_'))
					return -EINVAL;
			memcpy(value, v, vlen);
			value[vlen] = '\0';
			found = true;
		}
		p += len;
	}
	return found ? 0 : -ENOENT;
}

/* The session of a request's cookie; *reason names a refusal. The session id is set for the
 * audit line whenever the cookie was authentic (also when it expired). */
static int request_session(struct release_service *s, const struct keyd_request *req,
			   struct session *sess, char *reason, size_t reason_len)
{
	char value[SESSION_COOKIE_MAX + 1];
	const char *why;
	int r;

	memset(sess, 0, sizeof(*sess));
	r = cookie_session_value(req->cookie, value);
	if (r < 0) {
		snprintf(reason, reason_len, "%s kbs-session-id cookie",
			 r == -ENOENT ? "missing" : "malformed or repeated");
		return r;
	}
	r = session_open(s->sessions, value, sess, &why);
	if (r < 0)
		snprintf(reason, reason_len, "%s", why);
	return r;
}

static void set_session_cookie(struct release_service *s, struct keyd_reply *rep, const char *value)
{
	snprintf(rep->set_cookie, sizeof(rep->set_cookie), "%s=%s; Max-Age=%u; Path=/kbs; Secure",
		 KBS_COOKIE_NAME, value, s->cfg->limits.session_lifetime_s);
}

/* Not audited one by one: the auth gate counts outcomes per client address and
 * release_service_tick() writes one record per address per interval, so that a flood cannot
 * fill the disk. */
static void handle_auth(struct release_service *s, const struct keyd_request *req,
			struct keyd_reply *rep)
{
	struct session sn;
	char reason[256], cookie[SESSION_COOKIE_MAX + 1];
	int r;

	if (!auth_gate_admit(s->auth_gate, req->peer_addr)) {
		reply_error(rep, KBS_ERR_ATTESTATION,
			    "too many auth requests from this address; retry later");
		rep->status = 429;
		return;
	}
	r = kbs_auth_request_parse(req->body, req->body_len, reason, sizeof(reason));
	if (r < 0) {
		reply_error(rep,
			    r == -EINVAL || r == -EMSGSIZE ? KBS_ERR_SERDE : KBS_ERR_ATTESTATION,
			    reason);
		auth_gate_record(s->auth_gate, req->peer_addr, false, reason);
		return;
	}
	r = session_create(s->sessions, &sn, cookie);
	if (r == 0)
		r = kbs_challenge_build(sn.nonce, &rep->body);
	if (r < 0) {
		snprintf(reason, sizeof(reason), "internal error creating session");
		reply_error(rep, KBS_ERR_ATTESTATION, reason);
		auth_gate_record(s->auth_gate, req->peer_addr, false, reason);
		return;
	}
	rep->status = 200;
	set_session_cookie(s, rep, cookie);
	auth_gate_record(s->auth_gate, req->peer_addr, true, NULL);
}

/* The event logs sent with a quote must reproduce its RTMRs; a log that does not is a lie
 * about the boot, refused with the register it misstates. */
static int eventlogs_check(const struct kbs_attest_request *areq, const struct tdx_td_body *b,
			   struct session_attestation *att, char *reason, size_t reason_len)
{
	struct eventlog el;
	unsigned mismatch;
	int r;

	r = eventlog_parse(&el, areq->cc_eventlog, areq->cc_eventlog_len,
			   (const uint8_t *)areq->aa_eventlog, areq->aa_eventlog_len, reason,
			   reason_len);
	if (r < 0)
		return r;
	r = eventlog_replay(&el, b, &mismatch, reason, reason_len);
	if (r == 0)
		eventlog_rtmr3_summary(&el, att->rtmr3_log, sizeof(att->rtmr3_log));
	eventlog_done(&el);
	return r;
}

static void handle_attest(struct release_service *s, const struct keyd_request *req,
			  struct keyd_reply *rep)
{
	struct audit_record a = {.event = "attest", .peer = req->peer};
	struct kbs_attest_request areq = {0};
	struct session_attestation att = {0};
	struct session sess = {0};
	struct keyd_generation *g = NULL;
	const struct dcap_collateral *coll;
	struct dcap_result res = {0};
	struct dcap_chain_key chain;
	struct tdx_quote q;
	uint8_t fmspc[6], rd[KBS_REPORT_DATA_LEN];
	char reason[384], cookie[SESSION_COOKIE_MAX + 1], coll_why[256];
	_cleanup_free_ char *token = NULL;
	const char *why;
	time_t now = time(NULL);
	int r;

	r = request_session(s, req, &sess, reason, sizeof(reason));
	if (sess.id[0])
		a.session = sess.id;
	if (r < 0) {
		reply_error(rep, KBS_ERR_ATTESTATION, reason);
		goto out;
	}
	r = kbs_attest_request_parse(req->body, req->body_len, &areq, reason, sizeof(reason));
	if (r < 0) {
		reply_error(rep,
			    r == -EINVAL || r == -EMSGSIZE ? KBS_ERR_SERDE : KBS_ERR_ATTESTATION,
			    reason);
		goto out;
	}
	r = session_attest_begin(s->sessions, &sess, req->peer_addr, areq.nonce, &why);
	if (r < 0) {
		snprintf(reason, sizeof(reason), "%s", why);
		reply_error(rep, KBS_ERR_ATTESTATION, reason);
		goto out;
	}
	r = quote_parse(areq.quote, areq.quote_len, &q, reason, sizeof(reason));
	if (r < 0) {
		reply_error(rep, KBS_ERR_ATTESTATION, reason);
		goto out;
	}
	a.body = &q.body;
	r = dcap_quote_fmspc(s->verifier, &q, fmspc, &chain);
	if (r < 0) {
		snprintf(reason, sizeof(reason),
			 "quote: cannot read FMSPC from the PCK certificate");
		reply_error(rep, KBS_ERR_ATTESTATION, reason);
		goto out;
	}
	g = generation_get(s);
	r = collateral_store_get(g->collateral, fmspc, now, &coll, coll_why, sizeof(coll_why));
	if (r < 0) {
		char hex[13];

		hex_encode(fmspc, 6, hex);
		snprintf(reason, sizeof(reason), "no collateral for FMSPC %s%s%.250s", hex,
			 coll_why[0] ? ": " : "", coll_why);
		reply_error(rep, KBS_ERR_ATTESTATION, reason);
		goto out;
	}
	r = dcap_verify(s->verifier, coll, &q, &chain, now, &res);
	if (r < 0) {
		snprintf(reason, sizeof(reason), "quote verification failed: %s",
			 res.reason[0] ? res.reason : strerror(-r));
		reply_error(rep, KBS_ERR_ATTESTATION, reason);
		goto out;
	}
	a.tcb_status = tcb_status_name(res.tcb_status);
	if (res.tcb_status == TCB_REVOKED) {
		/* No policy can accept it: refuse before a session exists that claims otherwise. */
		snprintf(reason, sizeof(reason), "TCB status Revoked refused");
		reply_error(rep, KBS_ERR_ATTESTATION, reason);
		goto out;
	}
	if (quote_td_debug(&q)) {
		snprintf(reason, sizeof(reason), "debug TD refused (TD attributes DEBUG set)");
		reply_error(rep, KBS_ERR_ATTESTATION, reason);
		goto out;
	}
	r = kbs_report_data(areq.nonce, areq.tee_pubkey_jwk, rd);
	if (r < 0 || CRYPTO_memcmp(rd, q.body.report_data, sizeof(rd)) != 0) {
		snprintf(reason, sizeof(reason),
			 "REPORTDATA does not bind the session nonce and tee-pubkey");
		reply_error(rep, KBS_ERR_ATTESTATION, reason);
		goto out;
	}
	if (areq.cc_eventlog || areq.aa_eventlog) {
		r = eventlogs_check(&areq, &q.body, &att, reason, sizeof(reason));
		if (r < 0) {
			reply_error(rep, KBS_ERR_ATTESTATION, reason);
			goto out;
		}
	}
	att.body = q.body;
	snprintf(att.tcb_status, sizeof(att.tcb_status), "%s", tcb_status_name(res.tcb_status));
	att.collateral_issued = dcap_collateral_oldest_issue(coll);
	att.tcb_eval_number = res.tcb_eval_number;
	memcpy(att.tee_xy, areq.tee_xy, sizeof(att.tee_xy));
	r = session_attest_finish(s->sessions, &sess, &att, cookie);
	if (r == 0)
		r = token_build(s->token_key, s->cfg->limits.session_lifetime_s, att.tcb_status,
				att.body.mrtd, &token);
	if (r == 0)
		r = kbs_attest_response_build(token, &rep->body);
	if (r < 0) {
		snprintf(reason, sizeof(reason), "internal error sealing the attested session");
		reply_error(rep, KBS_ERR_ATTESTATION, reason);
		goto out;
	}
	rep->status = 200;
	set_session_cookie(s, rep, cookie);
	a.allowed = true;
	snprintf(reason, sizeof(reason), "attested%s%s%s",
		 areq.cc_eventlog || areq.aa_eventlog ? " (event logs replayed:" : "",
		 areq.cc_eventlog ? " CCEL" : "",
		 areq.aa_eventlog   ? " AAEL)"
		 : areq.cc_eventlog ? ")"
				    : "");
out:
	a.reason = reason;
	audit_decision(s, req, &a);
	generation_unref(g);
	kbs_attest_request_done(&areq);
}

/* A resource path the KBS protocol allows (repo/type/tag), else the refusal in rep and reason. */
static bool resource_path_ok(const char *resource, struct keyd_reply *rep, char *reason,
			     size_t reason_len)
{
	if (policy_resource_path_valid(resource))
		return true;
	snprintf(reason, reason_len, "resource path is not repo/type/tag");
	reply_error(rep, KBS_ERR_INVALID_REQUEST_PATH, reason);
	return false;
}

/* The policy of this generation covering resource, else NULL with the refusal in rep. */
static const struct policy *resource_policy(const struct keyd_generation *g, const char *resource,
					    struct keyd_reply *rep, char *reason, size_t reason_len)
{
	const struct policy *p = policy_set_find(g->policies, resource);

	if (!p) {
		snprintf(reason, reason_len, "resource %s is not covered by any policy", resource);
		reply_error(rep, KBS_ERR_POLICY_DENY, reason);
	}
	return p;
}

/* The release itself: resource's secret under policy p, derived into locked memory and sealed
 * to key as the JWE body of a 200 reply; the secret is wiped before returning. A failure is
 * replied as "cannot seal <sealed_to>". */
static int seal_secret(const struct release_service *s, const struct policy *p,
		       const char *resource, EVP_PKEY *key, const char *sealed_to,
		       struct keyd_reply *rep, char *reason, size_t reason_len)
{
	uint8_t *secret = secmem_alloc(KDF_DISK_SECRET_LEN);
	size_t len;
	int r;

	r = secret ? rootkey_disk_secret(s->rootkey, p->id, resource, p->key_version, secret)
		   : -ENOMEM;
	if (r == 0)
		r = jwe_encrypt(key, secret, KDF_DISK_SECRET_LEN, &rep->body, &len);
	secmem_free(secret);
	if (r < 0) {
		snprintf(reason, reason_len, "cannot seal %s", sealed_to);
		reply_error(rep, KBS_ERR_JWE, reason);
		return r;
	}
	rep->status = 200;
	return 0;
}

static void handle_resource(struct release_service *s, const struct keyd_request *req,
			    const char *resource, struct keyd_reply *rep)
{
	struct audit_record a = {.event = "resource", .peer = req->peer};
	struct session sess = {0};
	const struct session_attestation *att = &sess.att;
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *tee_key = NULL;
	struct keyd_generation *g = NULL;
	const struct policy *p;
	struct policy_td td;
	char reason[384];
	int r;

	if (!resource_path_ok(resource, rep, reason, sizeof(reason)))
		goto out;
	a.resource = resource;
	r = request_session(s, req, &sess, reason, sizeof(reason));
	if (sess.id[0])
		a.session = sess.id;
	if (r == 0 && !sess.attested) {
		snprintf(reason, sizeof(reason), "session has not attested");
		r = -EACCES;
	}
	if (r < 0) {
		reply_error(rep, KBS_ERR_TOKEN_NOT_FOUND, reason);
		goto out;
	}
	a.body = &att->body;
	a.tcb_status = att->tcb_status;
	g = generation_get(s);
	p = resource_policy(g, resource, rep, reason, sizeof(reason));
	if (!p)
		goto out;
	a.policy_id = p->id;
	td = (struct policy_td){.body = &att->body,
				.tcb_status = TCB_NOT_SUPPORTED, /* no policy accepts it */
				.collateral_issued = att->collateral_issued,
				.tcb_eval_number = att->tcb_eval_number,
				.rtmr3_log = att->rtmr3_log,
				.now = time(NULL)};
	(void)tcb_status_from_name(att->tcb_status, &td.tcb_status); /* set at attest */
	r = policy_evaluate(p, &td, reason, sizeof(reason));
	if (r < 0) {
		reply_error(rep, KBS_ERR_POLICY_DENY, reason);
		goto out;
	}
	/* The coordinates were checked on P-256 at attest; a failure here is out of memory. */
	if (jwk_p256_from_coordinates(att->tee_xy, &tee_key) < 0) {
		snprintf(reason, sizeof(reason), "cannot seal the resource to the tee-pubkey");
		reply_error(rep, KBS_ERR_JWE, reason);
		goto out;
	}
	if (seal_secret(s, p, resource, tee_key, "the resource to the tee-pubkey", rep, reason,
			sizeof(reason)) < 0)
		goto out;
	a.allowed = true;
	snprintf(reason, sizeof(reason), "released (key version %u)", p->key_version);
out:
	a.reason = reason;
	if (audit_decision(s, req, &a) < 0 && a.allowed) {
		/* No release without its audit record. */
		keyd_reply_done(rep);
		reply_error(rep, KBS_ERR_POLICY_DENY, "audit log unavailable");
	}
	generation_unref(g);
}

void release_service_handle(struct release_service *s, const struct keyd_request *req,
			    struct keyd_reply *rep)
{
	static const char resource_prefix[] = KBS_URL_PREFIX "/resource/";
	const char *path = req->path ? req->path : "";

	memset(rep, 0, sizeof(*rep));
	if (!strcmp(path, KBS_URL_PREFIX "/auth") && req->method == KEYD_POST) {
		handle_auth(s, req, rep);
	} else if (!strcmp(path, KBS_URL_PREFIX "/attest") && req->method == KEYD_POST) {
		handle_attest(s, req, rep);
	} else if (!strncmp(path, resource_prefix, strlen(resource_prefix)) &&
		   req->method == KEYD_GET) {
		handle_resource(s, req, path + strlen(resource_prefix), rep);
	} else {
		struct audit_record a = {.event = "request",
					 .peer = req->peer,
					 .reason = "no such endpoint or method"};

		reply_error(rep, KBS_ERR_PLUGIN_NOT_FOUND, "no such endpoint or method");
		audit_decision(s, req, &a);
	}
}

#define ADMIN_SECRET_PATH "/admin/v0/secret"

void release_service_admin(struct release_service *s, const struct keyd_admin_request *req,
			   struct keyd_reply *rep)
{
	struct audit_record a = {.event = "admin-secret",
				 .peer = req->peer,
				 .client = req->client ? req->client : "(no client certificate)"};
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	struct json_object *jwk = NULL;
	struct keyd_generation *g = NULL;
	const struct policy *p;
	const char *resource = NULL;
	EVP_PKEY *key = NULL;
	char reason[384];
	int r;
	const struct json_field fields[] = {
		JSON_STRING("resource", true, 1, 4096, &resource),
		JSON_OBJECT("jwk", true, &jwk),
	};

	memset(rep, 0, sizeof(*rep));
	if (req->refusal) {
		snprintf(reason, sizeof(reason), "%s", req->refusal);
		reply_error(rep, KBS_ERR_POLICY_DENY, reason);
		rep->status = 403;
		goto out;
	}
	if (!req->path || strcmp(req->path, ADMIN_SECRET_PATH) != 0 || req->method != KEYD_POST) {
		snprintf(reason, sizeof(reason), "no such admin endpoint or method");
		reply_error(rep, KBS_ERR_PLUGIN_NOT_FOUND, reason);
		goto out;
	}
	r = json_strict_parse(req->body, req->body_len, 16 * 1024, &o, reason, sizeof(reason));
	if (r == 0)
		r = json_strict_fields(o, "admin request", fields, ARRAY_SIZE(fields), reason,
				       sizeof(reason));
	if (r == 0)
		r = jwk_to_public_key(jwk, "admin request 'jwk'", JWK_ALG_REQUIRED, &key, reason,
				      sizeof(reason));
	if (r < 0) {
		reply_error(rep, KBS_ERR_SERDE, reason);
		rep->status = 400;
		goto out;
	}
	if (!resource_path_ok(resource, rep, reason, sizeof(reason)))
		goto out;
	a.resource = resource;
	g = generation_get(s);
	p = resource_policy(g, resource, rep, reason, sizeof(reason));
	if (!p) {
		rep->status = 404;
		goto out;
	}
	a.policy_id = p->id;
	if (seal_secret(s, p, resource, key, "the secret to the caller's key", rep, reason,
			sizeof(reason)) < 0)
		goto out;
	a.allowed = true;
	snprintf(reason, sizeof(reason),
		 "enrollment secret sealed to the caller (policy %s, key "
		 "version %u)",
		 p->id, p->key_version);
out:
	a.reason = reason;
	if (audit_write(s->audit, &a) < 0 && a.allowed) {
		keyd_reply_done(rep);
		reply_error(rep, KBS_ERR_POLICY_DENY, "audit log unavailable");
	}
	generation_unref(g);
	EVP_PKEY_free(key);
}
