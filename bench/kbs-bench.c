/* Benchmark client of tdx-keyd: N concurrent sessions, each running complete attested releases
 * (new TLS connection with a full handshake and the server key pin checked, auth, attest with a
 * fresh simulated quote and a fresh TEE key, resource, JWE decryption) back to back for a fixed
 * time; prints releases per second, p50/p99 latency and the client's own CPU per release.
 * Loopback only.
 *
 * The load generator is an event loop per thread (libevent's HTTP client over
 * bufferevent_openssl, one SSL_CTX for all connections): per release it does the protocol and
 * crypto work an agent does at boot, without the cost of one libcurl handle and one SSL_CTX per
 * connection, so that the figure measures keyd rather than the client. --curl runs the agent's
 * own client library (src/agent/kbs_client.c) instead, one thread per session. */
#define _GNU_SOURCE
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "agent/kbs_client.h"
#include "fileio.h"
#include "jwe.h"
#include "jwk.h"
#include "kbs_msg.h"
#include "log.h"
#include "quotesim.h"
#include "secmem.h"

#define COOKIE_MAX    4096 /* RFC 6265 5.3: at least 4096 bytes per cookie */
#define REPLY_TIMEOUT 30   /* seconds, per HTTP exchange */

struct bench {
	const char *url, *resource;
	char host[64];
	int port;
	char resource_path[256];
	uint8_t pin[KBS_CLIENT_PIN_LEN];
	uint8_t *expect; /* the secret a release must return, or NULL */
	size_t expect_len;
	bool auth_only;
	bool once; /* boot storm: each client makes one release, all start at once */
	struct quotesim *sim;
	SSL_CTX *ssl_ctx;
	double seconds;
	double rate; /* open loop: sessions started per second in all (0: closed loop) */
	struct timespec start;
};

/* Latencies of finished releases and the failures, per thread (merged at the end). */
struct stats {
	double *lat_ms;
	size_t n, cap;
	unsigned failures;
	char last_error[256];
};

struct loop;

struct session {
	struct loop *l;
	struct evhttp_connection *evcon;
	EVP_PKEY *key;
	unsigned runs;
	struct kbs_challenge ch;
	char cookie[COOKIE_MAX + 1];
	struct timespec t0;
};

struct loop {
	pthread_t th;
	struct bench *b;
	struct event_base *base;
	struct evdns_base *dns; /* numeric hosts only: resolved in-process, no resolver */
	struct session *s;
	unsigned n_sessions, active;
	/* Open loop: sessions start on a schedule (this thread's share of the rate) whether or not
	 * earlier ones have finished, as long as one of the n_sessions is free; a release's latency
	 * counts from its scheduled start, so a backlog shows in the figures. */
	struct session **idle;
	unsigned n_idle;
	double interval;
	struct timespec next;
	struct event *tick;
	bool stopping;
	struct stats st;
};

static double since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static int stats_add(struct stats *st, double ms)
{
	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 4096;
		double *n = realloc(st->lat_ms, cap * sizeof(*n));

		if (!n)
			return -1;
		st->lat_ms = n;
		st->cap = cap;
	}
	st->lat_ms[st->n++] = ms;
	return 0;
}

static bool secret_ok(const struct bench *b, const uint8_t *secret, size_t len)
{
	return !b->expect || (len == b->expect_len && CRYPTO_memcmp(secret, b->expect, len) == 0);
}

/* ---- event-loop client ---- */

static void session_start(struct session *s);

static void session_restart(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	struct loop *l = s->l;

	(void)fd, (void)what;
	if (s->evcon)
		evhttp_connection_free(s->evcon);
	s->evcon = NULL;
	EVP_PKEY_free(s->key);
	s->key = NULL;
	if (l->b->rate <= 0) {
		session_start(s);
		return;
	}
	l->idle[l->n_idle++] = s;
	if (l->stopping && l->n_idle == l->n_sessions)
		event_base_loopbreak(l->base);
}

/* The connection cannot be freed from inside its own request callback: the next release
 * starts from the event loop. */
static void session_done(struct session *s, bool ok)
{
	struct loop *l = s->l;

	if (ok && since(&l->b->start) <= l->b->seconds && stats_add(&l->st, since(&s->t0) * 1000))
		ok = false;
	if (!ok)
		l->st.failures++;
	event_base_once(l->base, -1, EV_TIMEOUT, session_restart, s, &(struct timeval){0});
}

static void session_fail(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void session_fail(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->l->st.last_error, sizeof(s->l->st.last_error), fmt, ap);
	va_end(ap);
	session_done(s, false);
}

static int send_request(struct session *s, enum evhttp_cmd_type type, const char *path,
			const char *body, size_t body_len,
			void (*cb)(struct evhttp_request *, void *))
{
	struct evhttp_request *req = evhttp_request_new(cb, s);
	struct evkeyvalq *h;
	char cookie[COOKIE_MAX + sizeof(KBS_COOKIE_NAME "=")];

	if (!req)
		return -1;
	h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Host", s->l->b->host);
	if (s->cookie[0]) {
		snprintf(cookie, sizeof(cookie), "%s=%s", KBS_COOKIE_NAME, s->cookie);
		evhttp_add_header(h, "Cookie", cookie);
	}
	if (body) {
		evhttp_add_header(h, "Content-Type", "application/json");
		evbuffer_add(evhttp_request_get_output_buffer(req), body, body_len);
	}
	return evhttp_make_request(s->evcon, req, type, path);
}

/* The reply of one exchange: 0 with the body for a 200, -1 after failing the session. */
static int reply_of(struct session *s, struct evhttp_request *req, const char *what,
		    const char **body, size_t *len)
{
	struct evbuffer *in;
	struct kbs_error e;
	int status = req ? evhttp_request_get_response_code(req) : 0;

	if (status == 0) {
		session_fail(s,
			     "%s: connection failed, closed or timed out (or server key not the "
			     "pinned one)",
			     what);
		return -1;
	}
	in = evhttp_request_get_input_buffer(req);
	*len = evbuffer_get_length(in);
	*body = *len ? (const char *)evbuffer_pullup(in, -1) : "";
	if (status != 200) {
		if (kbs_error_parse(*body, *len, &e, NULL, 0) == 0)
			session_fail(s, "%s: HTTP %d %s: %s", what, status, e.type, e.detail);
		else
			session_fail(s, "%s: HTTP %d without a KBS error body", what, status);
		return -1;
	}
	return 0;
}

static void on_resource(struct evhttp_request *req, void *arg)
{
	struct session *s = arg;
	const char *body;
	char reason[256] = "";
	uint8_t *secret = NULL;
	size_t len, secret_len = 0;
	bool ok;

	if (reply_of(s, req, "resource", &body, &len) < 0)
		return;
	if (jwe_decrypt(s->key, body, len, &secret, &secret_len, reason, sizeof(reason)) < 0) {
		session_fail(s, "resource: %s", reason);
		return;
	}
	ok = secret_ok(s->l->b, secret, secret_len);
	secmem_free(secret);
	if (!ok)
		session_fail(s, "resource: the released secret is not the expected one");
	else
		session_done(s, true);
}

static int take_cookie(struct session *s, const char *h);

static void on_attest(struct evhttp_request *req, void *arg)
{
	struct session *s = arg;
	const char *body;
	char reason[256] = "", *token = NULL;
	const char *set_cookie;
	size_t len;
	int r;

	if (reply_of(s, req, "attest", &body, &len) < 0)
		return;
	/* keyd seals the attested session into a new cookie. */
	set_cookie = evhttp_find_header(evhttp_request_get_input_headers(req), "Set-Cookie");
	if (set_cookie && take_cookie(s, set_cookie) < 0) {
		session_fail(s, "attest: reply with a malformed kbs-session-id cookie");
		return;
	}
	r = kbs_attest_response_parse(body, len, &token, reason, sizeof(reason));
	free(token);
	if (r < 0)
		session_fail(s, "attest: %s", reason);
	else if (send_request(s, EVHTTP_REQ_GET, s->l->b->resource_path, NULL, 0, on_resource) < 0)
		session_fail(s, "cannot send the resource request");
}

/* What the agent does between auth and attest: a fresh TEE key, REPORTDATA, a fresh quote. */
static int attest_body(struct session *s, char **out)
{
	uint8_t *quote = NULL;
	size_t quote_len = 0;
	int r;

	r = quotesim_kbs_evidence(s->l->b->sim, NULL, s->ch.nonce, &s->key, &quote, &quote_len);
	if (r == 0)
		r = kbs_attest_request_build(s->ch.nonce, s->key, quote, quote_len, NULL, 0, NULL,
					     out);
	free(quote);
	return r;
}

/* Our own cookie only: "kbs-session-id=<value>[; attributes]". */
static int take_cookie(struct session *s, const char *h)
{
	static const char name[] = KBS_COOKIE_NAME "=";
	size_t n;

	if (!h || strncmp(h, name, strlen(name)) != 0)
		return -1;
	h += strlen(name);
	n = strcspn(h, "; \t\r\n");
	if (n == 0 || n > COOKIE_MAX)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (h[i] <= ' ' || h[i] == '"' || h[i] == ',' || h[i] == '\\' || h[i] > '~')
			return -1;
	memcpy(s->cookie, h, n);
	s->cookie[n] = '\0';
	return 0;
}

static void on_auth(struct evhttp_request *req, void *arg)
{
	struct session *s = arg;
	const char *body;
	char reason[256] = "", *attest = NULL;
	size_t len;
	int r;

	if (reply_of(s, req, "auth", &body, &len) < 0)
		return;
	if (take_cookie(s, evhttp_find_header(evhttp_request_get_input_headers(req),
					      "Set-Cookie")) < 0) {
		session_fail(s, "auth: reply without a valid kbs-session-id cookie");
		return;
	}
	if (kbs_challenge_parse(body, len, &s->ch, reason, sizeof(reason)) < 0) {
		session_fail(s, "auth: %s", reason);
		return;
	}
	if (s->l->b->auth_only) {
		session_done(s, true);
		return;
	}
	r = attest_body(s, &attest);
	if (r < 0)
		session_fail(s, "cannot build the attest request");
	else if (send_request(s, EVHTTP_REQ_POST, KBS_URL_PREFIX "/attest", attest, strlen(attest),
			      on_attest) < 0)
		session_fail(s, "cannot send the attest request");
	free(attest);
}

/* A new connection and its auth request; the release's clock started at s->t0. */
static void session_connect(struct session *s)
{
	struct loop *l = s->l;
	struct bench *b = l->b;
	struct bufferevent *bev;
	char *auth = NULL;
	SSL *ssl;

	s->cookie[0] = '\0';
	ssl = SSL_new(b->ssl_ctx);
	bev = ssl ? bufferevent_openssl_socket_new(l->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
						   BEV_OPT_CLOSE_ON_FREE)
		  : NULL;
	if (!bev)
		SSL_free(ssl);
	s->evcon = bev ? evhttp_connection_base_bufferevent_new(l->base, l->dns, bev, b->host,
								(ev_uint16_t)b->port)
		       : NULL;
	if (!s->evcon) {
		if (bev)
			bufferevent_free(bev);
		session_fail(s, "cannot set up a connection (out of memory)");
		return;
	}
	evhttp_connection_set_timeout(s->evcon, REPLY_TIMEOUT);
	evhttp_connection_set_retries(s->evcon, 0);
	if (kbs_auth_request_build(&auth) < 0 ||
	    send_request(s, EVHTTP_REQ_POST, KBS_URL_PREFIX "/auth", auth, strlen(auth), on_auth) <
		    0)
		session_fail(s, "cannot send the auth request");
	free(auth);
}

/* Closed loop: the next release right after the previous one. */
static void session_start(struct session *s)
{
	struct loop *l = s->l;

	if (since(&l->b->start) >= l->b->seconds || (l->b->once && s->runs++ > 0)) {
		if (--l->active == 0)
			event_base_loopbreak(l->base);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &s->t0);
	session_connect(s);
}

static bool ts_after(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec > b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec > b->tv_nsec);
}

/* Open loop, every millisecond: starts the releases whose time has come (on a free session). */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct loop *l = arg;
	struct timespec now;

	(void)fd, (void)what;
	if (since(&l->b->start) >= l->b->seconds) {
		event_del(l->tick);
		l->stopping = true;
		if (l->n_idle == l->n_sessions)
			event_base_loopbreak(l->base);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	while (l->n_idle > 0 && !ts_after(&l->next, &now)) {
		struct session *s = l->idle[--l->n_idle];
		long ns = l->next.tv_nsec + (long)(l->interval * 1e9);

		s->t0 = l->next;
		l->next.tv_sec += ns / 1000000000;
		l->next.tv_nsec = ns % 1000000000;
		session_connect(s);
	}
}

static void *loop_main(void *arg)
{
	struct loop *l = arg;

	for (unsigned i = 0; i < l->n_sessions; i++)
		l->s[i].l = l;
	if (l->b->rate > 0) {
		struct timeval ms = {.tv_usec = 1000};

		for (unsigned i = 0; i < l->n_sessions; i++)
			l->idle[l->n_idle++] = &l->s[i];
		l->next = l->b->start;
		if (event_add(l->tick, &ms) == 0)
			event_base_dispatch(l->base);
	} else {
		l->active = l->n_sessions;
		for (unsigned i = 0; i < l->n_sessions; i++)
			session_start(&l->s[i]);
		if (l->active)
			event_base_dispatch(l->base);
	}
	for (unsigned i = 0; i < l->n_sessions; i++) {
		if (l->s[i].evcon)
			evhttp_connection_free(l->s[i].evcon);
		EVP_PKEY_free(l->s[i].key);
	}
	return NULL;
}

/* Pin-only server authentication, as the agent is configured in production: the SHA-256 of the
 * leaf's SubjectPublicKeyInfo must be the pin; the chain and its dates are not checked. A
 * mismatch aborts the handshake. */
static int verify_pin(X509_STORE_CTX *xs, void *arg)
{
	const struct bench *b = arg;
	X509 *leaf = X509_STORE_CTX_get0_cert(xs);
	unsigned char *der = NULL, h[SHA256_DIGEST_LENGTH];
	int n = leaf ? i2d_X509_PUBKEY(X509_get_X509_PUBKEY(leaf), &der) : -1;
	bool ok = n > 0 && SHA256(der, (size_t)n, h) &&
		  CRYPTO_memcmp(h, b->pin, KBS_CLIENT_PIN_LEN) == 0;

	OPENSSL_free(der);
	if (!ok)
		X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
	return ok;
}

/* Requests leave as several writes (the handshake's last flight, then the request): without
 * this, Nagle holds the request for the server's delayed ACK (40 ms). libcurl sets it too. */
static void nodelay_at_handshake(const SSL *ssl, int where, int ret)
{
	int one = 1;

	(void)ret;
	if (where & SSL_CB_HANDSHAKE_START)
		setsockopt(SSL_get_fd(ssl), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int tls_client_context(struct bench *b)
{
	b->ssl_ctx = SSL_CTX_new(TLS_client_method());
	if (!b->ssl_ctx)
		return -1;
	SSL_CTX_set_min_proto_version(b->ssl_ctx, TLS1_2_VERSION);
	/* Every release is a full handshake, as an agent's at boot: no session resumption. */
	SSL_CTX_set_session_cache_mode(b->ssl_ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(b->ssl_ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_verify(b->ssl_ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_cert_verify_callback(b->ssl_ctx, verify_pin, b);
	SSL_CTX_set_info_callback(b->ssl_ctx, nodelay_at_handshake);

	return 0;
}

/* ---- --curl: the agent's client library, one thread per session ---- */

struct worker {
	pthread_t th;
	struct bench *b;
	atomic_bool *stop;
	struct stats st;
};

static int one_release(struct bench *b, char *reason, size_t reason_len)
{
	struct kbs_client_opts o = {.url = b->url,
				    .pins = (const uint8_t(*)[KBS_CLIENT_PIN_LEN])b->pin,
				    .n_pins = 1,
				    .connect_timeout_ms = 5000,
				    .request_timeout_ms = 30000,
				    .total_timeout_ms = 60000};
	struct kbs_client *cl = NULL;
	struct kbs_challenge ch;
	EVP_PKEY *key = NULL;
	uint8_t *quote = NULL, *secret = NULL;
	size_t quote_len, secret_len = 0;
	int r;

	r = kbs_client_new(&o, &cl);
	if (r == 0)
		r = kbs_client_auth(cl, &ch, reason, reason_len);
	if (b->auth_only)
		goto out;
	if (r == 0)
		r = quotesim_kbs_evidence(b->sim, NULL, ch.nonce, &key, &quote, &quote_len);
	if (r == 0)
		r = kbs_client_attest(cl, ch.nonce, key, quote, quote_len, reason, reason_len);
	if (r == 0)
		r = kbs_client_resource(cl, b->resource, key, &secret, &secret_len, reason,
					reason_len);
	if (r == 0 && !secret_ok(b, secret, secret_len)) {
		snprintf(reason, reason_len, "the released secret is not the expected one");
		r = -EBADMSG;
	}
out:
	secmem_free(secret);
	free(quote);
	EVP_PKEY_free(key);
	kbs_client_free(cl);
	return r;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	while (!atomic_load(w->stop)) {
		struct timespec t0;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (one_release(w->b, w->st.last_error, sizeof(w->st.last_error)) < 0) {
			w->st.failures++;
			continue;
		}
		if (since(&w->b->start) <= w->b->seconds && stats_add(&w->st, since(&t0) * 1000))
			w->st.failures++;
	}
	return NULL;
}

/* ---- main ---- */

static int parse_url(struct bench *b)
{
	struct evhttp_uri *u = evhttp_uri_parse(b->url);
	const char *scheme = u ? evhttp_uri_get_scheme(u) : NULL;
	const char *host = u ? evhttp_uri_get_host(u) : NULL;
	int r = -1;

	if (scheme && !strcmp(scheme, "https") && host && strlen(host) < sizeof(b->host)) {
		snprintf(b->host, sizeof(b->host), "%s", host);
		b->port = evhttp_uri_get_port(u) > 0 ? evhttp_uri_get_port(u) : 443;
		r = 0;
	}
	if (u)
		evhttp_uri_free(u);
	return r;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
	       ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

/* Batches the enable/disable calls of a loop iteration into one epoll_ctl per descriptor. */
static struct event_base *loop_base_new(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base;

	if (!cfg)
		return NULL;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

static int run_loops(struct bench *b, unsigned clients, unsigned threads, struct stats **st,
		     unsigned *n_st)
{
	struct loop *l = calloc(threads, sizeof(*l));
	struct session *s = calloc(clients, sizeof(*s));
	unsigned started = 0, next = 0;
	int r = 0;

	if (!l || !s || tls_client_context(b) < 0) {
		free(l);
		free(s);
		return -1;
	}
	*st = calloc(threads, sizeof(**st));
	if (!*st)
		r = -1;
	clock_gettime(CLOCK_MONOTONIC, &b->start);
	for (unsigned i = 0; r == 0 && i < threads; i++) {
		l[i].b = b;
		l[i].s = s + next;
		l[i].n_sessions = clients / threads + (i < clients % threads);
		next += l[i].n_sessions;
		l[i].base = loop_base_new();
		l[i].dns = l[i].base ? evdns_base_new(l[i].base, 0) : NULL;
		l[i].idle = calloc(l[i].n_sessions ? l[i].n_sessions : 1, sizeof(*l[i].idle));
		l[i].interval = b->rate > 0 ? threads / b->rate : 0;
		l[i].tick = l[i].base ? event_new(l[i].base, -1, EV_PERSIST, on_tick, &l[i]) : NULL;
		if (!l[i].dns || !l[i].idle || !l[i].tick ||
		    pthread_create(&l[i].th, NULL, loop_main, &l[i]) != 0) {
			fprintf(stderr, "cannot start client thread %u\n", i);
			r = -1;
			break;
		}
		started++;
	}
	for (unsigned i = 0; i < started; i++) {
		pthread_join(l[i].th, NULL);
		(*st)[i] = l[i].st;
	}
	for (unsigned i = 0; i < threads; i++) {
		if (l[i].tick)
			event_free(l[i].tick);
		free(l[i].idle);
		if (l[i].dns)
			evdns_base_free(l[i].dns, 0);
		if (l[i].base)
			event_base_free(l[i].base);
	}
	*n_st = started;
	free(l);
	free(s);
	SSL_CTX_free(b->ssl_ctx);
	return r;
}

static int run_threads(struct bench *b, unsigned clients, struct stats **st, unsigned *n_st)
{
	struct worker *w = calloc(clients, sizeof(*w));
	atomic_bool stop = false;
	unsigned started = 0;
	int r = 0;

	*st = calloc(clients, sizeof(**st));
	if (!w || !*st) {
		free(w);
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &b->start);
	for (; started < clients; started++) {
		w[started].b = b;
		w[started].stop = &stop;
		if (pthread_create(&w[started].th, NULL, worker_main, &w[started]) != 0) {
			fprintf(stderr, "cannot start client thread %u\n", started);
			r = -1;
			break;
		}
	}
	while (r == 0 && since(&b->start) < b->seconds)
		nanosleep(&(struct timespec){.tv_nsec = 20 * 1000 * 1000}, NULL);
	atomic_store(&stop, true);
	for (unsigned i = 0; i < started; i++) {
		pthread_join(w[i].th, NULL);
		(*st)[i] = w[i].st;
	}
	*n_st = started;
	free(w);
	return r;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"url", required_argument, NULL, 'u'},
					     {"ca", required_argument, NULL, 'c'},
					     {"sim", required_argument, NULL, 's'},
					     {"resource", required_argument, NULL, 'r'},
					     {"expect", required_argument, NULL, 'e'},
					     {"clients", required_argument, NULL, 'n'},
					     {"threads", required_argument, NULL, 'T'},
					     {"seconds", required_argument, NULL, 't'},
					     {"rate", required_argument, NULL, 'R'},
					     {"auth-only", no_argument, NULL, 'A'},
					     {"curl", no_argument, NULL, 'C'},
					     {"once", no_argument, NULL, 'O'},
					     {}};
	struct bench b = {.resource = "default/disk/root", .seconds = 5};
	const char *sim = NULL, *ca = NULL, *expect = NULL;
	unsigned clients = 1, threads = 2, n_st = 0, failures = 0;
	struct stats *st = NULL;
	const char *last_error = NULL;
	double *all = NULL, cpu0;
	size_t total = 0, k = 0;
	bool curl = false;
	int opt, r;

	log_setup("kbs-bench", LOG_TARGET_STDERR, LOG_LVL_ERR);
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
		switch (opt) {
		case 'u':
			b.url = optarg;
			break;
		case 'c':
			ca = optarg;
			break;
		case 's':
			sim = optarg;
			break;
		case 'r':
			b.resource = optarg;
			break;
		case 'e':
			expect = optarg;
			break;
		case 'n':
			clients = (unsigned)atoi(optarg);
			break;
		case 'T':
			threads = (unsigned)atoi(optarg);
			break;
		case 't':
			b.seconds = atof(optarg);
			break;
		case 'R':
			b.rate = atof(optarg);
			break;
		case 'A':
			b.auth_only = true; /* TLS handshake + auth only: the transport's share */
			break;
		case 'C':
			curl = true;
			break;
		case 'O':
			b.once = true; /* --seconds bounds the run */
			break;
		default:
			return 2;
		}
	}
	if (!b.url || !ca || !sim || clients < 1 || clients > 4096 || threads < 1 || threads > 64 ||
	    b.seconds <= 0 || b.seconds > 600 || b.rate < 0 || b.rate > 1e6 ||
	    (b.rate > 0 && curl) || (b.once && (b.rate > 0 || curl)) || parse_url(&b) < 0 ||
	    snprintf(b.resource_path, sizeof(b.resource_path), "%s/resource/%s", KBS_URL_PREFIX,
		     b.resource) >= (int)sizeof(b.resource_path)) {
		fprintf(stderr,
			"usage: kbs-bench --url https://HOST:PORT --ca CERT --sim DIR "
			"[--clients N] [--threads N] [--seconds S] [--resource PATH] "
			"[--expect SECRET_FILE] [--auth-only] [--rate PER_SECOND | --curl | "
			"--once]\n");
		return 2;
	}
	if (quotesim_load(sim, &b.sim) < 0 || kbs_client_pin_from_cert(ca, b.pin) < 0)
		return 1;
	if (expect && file_read_all(expect, 4096, &b.expect, &b.expect_len) < 0)
		return 1;
	if (threads > clients)
		threads = clients;
	cpu0 = cpu_seconds();
	r = curl ? run_threads(&b, clients, &st, &n_st)
		 : run_loops(&b, clients, threads, &st, &n_st);
	cpu0 = cpu_seconds() - cpu0;
	/* --once: the storm's own duration (every client's one release, or the bound). */
	if (b.once)
		b.seconds = since(&b.start);
	for (unsigned i = 0; i < n_st; i++) {
		total += st[i].n;
		failures += st[i].failures;
		if (st[i].last_error[0])
			last_error = st[i].last_error;
	}
	all = calloc(total ? total : 1, sizeof(double));
	if (!all)
		return 1;
	for (unsigned i = 0; i < n_st; i++) {
		memcpy(all + k, st[i].lat_ms, st[i].n * sizeof(double));
		k += st[i].n;
	}
	qsort(all, total, sizeof(double), cmp_double);
	if (b.rate > 0)
		printf("offered %5.0f/s, at most %u in flight: ", b.rate, clients);
	else
		printf("clients %4u: ", clients);
	printf("%7.0f releases/s  p50 %7.2f ms  p99 %7.2f ms  (%zu releases in "
	       "%.1f s, %u failed)\n",
	       (double)total / b.seconds, total ? all[total / 2] : 0.0,
	       total ? all[(size_t)((double)total * 0.99)] : 0.0, total, b.seconds, failures);
	/* The client shares the machine with keyd: its own CPU per release says how much of the
	 * figure above is the client's. */
	printf("  client CPU %.2f ms per release (%s)\n", total ? cpu0 * 1000 / (double)total : 0.0,
	       curl ? "libcurl, the agent's client library, a thread per session"
		    : "event loop, one SSL_CTX");
	if (last_error)
		printf("  last error of a client: %s\n", last_error);
	for (unsigned i = 0; i < n_st; i++)
		free(st[i].lat_ms);
	free(st);
	free(all);
	free(b.expect);
	quotesim_free(b.sim);
	return r < 0 || failures ? 1 : 0;
}
