/* Integration test client of tdx-keyd: runs KBS sessions with simulated quotes (quotesim.h)
 * through the agent's kbs_client and raw TLS/TCP sockets, one scenario per argument. Each
 * refusal scenario checks the HTTP error body and the audit line naming the same reason, then
 * runs a valid session to show keyd still serves. Loopback only; test keys only. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "agent/kbs_client.h"
#include "cleanup.h"
#include "cmd_dispatch.h"
#include "fileio.h"
#include "jwk.h"
#include "kbs_msg.h"
#include "log.h"
#include "quote.h"
#include "quotesim.h"
#include "secmem.h"

struct ctx {
	const char *url;
	const char *ca;
	const char *audit;
	const char *resource;
	const char *expect_secret;
	uint16_t port;
	struct quotesim *sim, *other;
	uint8_t pin[KBS_CLIENT_PIN_LEN];
};

#define FAILF(...)                                 \
	do {                                       \
		fprintf(stderr, "  " __VA_ARGS__); \
		fputc('\n', stderr);               \
		return -1;                         \
	} while (0)

static int client_new(const struct ctx *c, bool use_pin, struct kbs_client **out)
{
	struct kbs_client_opts o = {.url = c->url,
				    .connect_timeout_ms = 2000,
				    .request_timeout_ms = 10000,
				    .total_timeout_ms = 30000};
	const uint8_t(*pins)[KBS_CLIENT_PIN_LEN] = &c->pin;

	if (use_pin) {
		o.pins = pins;
		o.n_pins = 1;
	} else {
		o.ca_file = c->ca;
	}
	return kbs_client_new(&o, out);
}

/* A client (CA-checked) holding a fresh /auth challenge and, if key is not NULL, a fresh TEE
 * key: the first steps of most scenarios. */
static int client_auth(const struct ctx *c, struct kbs_client **cl, struct kbs_challenge *ch,
		       EVP_PKEY **key, char *reason, size_t reason_len)
{
	int r = client_new(c, false, cl);

	if (r == 0)
		r = kbs_client_auth(*cl, ch, reason, reason_len);
	if (r == 0 && key)
		r = jwk_generate_p256(key);
	return r;
}

static long audit_mark(const struct ctx *c)
{
	struct stat st;

	return stat(c->audit, &st) == 0 ? (long)st.st_size : 0;
}

/* Waits (bounded) for an audit line after mark that says deny and holds `what`. */
static int audit_expect(const struct ctx *c, long mark, const char *what)
{
	for (int i = 0; i < 40; i++) {
		_cleanup_free_ uint8_t *buf = NULL;
		size_t len;

		if (file_read_all(c->audit, 64 * 1024 * 1024, &buf, &len) == 0 &&
		    (size_t)mark <= len) {
			char *line = (char *)buf + mark;

			while (line && *line) {
				char *nl = strchr(line, '\n');

				if (nl)
					*nl = '\0';
				if (strstr(line, "\"verdict\":\"deny\"") && strstr(line, what))
					return 0;
				line = nl ? nl + 1 : NULL;
			}
		}
		usleep(50 * 1000);
	}
	FAILF("no audit line denying with \"%s\"", what);
}

enum rd_mode { RD_OK, RD_OTHER_NONCE, RD_OTHER_KEY };

struct session_spec {
	const struct quotesim *sim;
	void (*mod)(struct quotesim_quote_opts *o);
	enum rd_mode rd;
	const char *resource;
	bool use_pin;
};

/* Runs auth + attest + resource. Returns 0 with *stage = 3 on release (secret checked), or the
 * failing stage (1 auth, 2 attest, 3 resource) with reason. */
static int run_session(const struct ctx *c, const struct session_spec *sp, int *stage, char *reason,
		       size_t reason_len, struct kbs_client **keep)
{
	struct kbs_client *cl = NULL;
	struct kbs_challenge ch;
	struct quotesim_quote_opts qo;
	EVP_PKEY *key = NULL, *other = NULL;
	struct json_object *jwk = NULL;
	uint8_t rd[KBS_REPORT_DATA_LEN], *secret = NULL, *quote = NULL, *expect = NULL;
	size_t secret_len = 0, quote_len, expect_len;
	int r;

	*stage = 1;
	reason[0] = '\0';
	r = client_new(c, sp->use_pin, &cl);
	if (r < 0)
		goto out;
	r = kbs_client_auth(cl, &ch, reason, reason_len);
	if (r < 0)
		goto out;
	*stage = 2;
	r = jwk_generate_p256(&key);
	if (r == 0 && sp->rd == RD_OTHER_KEY)
		r = jwk_generate_p256(&other);
	if (r == 0)
		r = jwk_from_public_key(sp->rd == RD_OTHER_KEY ? other : key, 1, &jwk);
	if (r == 0)
		r = kbs_report_data(sp->rd == RD_OTHER_NONCE
					    ? "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
					    : ch.nonce,
				    jwk, rd);
	if (r < 0)
		goto out;
	quotesim_quote_opts_init(sp->sim, &qo);
	if (sp->mod)
		sp->mod(&qo);
	r = quotesim_quote(sp->sim, &qo, rd, &quote, &quote_len);
	if (r < 0)
		goto out;
	r = kbs_client_attest(cl, ch.nonce, key, quote, quote_len, reason, reason_len);
	if (r < 0)
		goto out;
	*stage = 3;
	r = kbs_client_resource(cl, sp->resource ? sp->resource : c->resource, key, &secret,
				&secret_len, reason, reason_len);
	if (r < 0)
		goto out;
	if (!sp->resource && c->expect_secret) {
		r = file_read_all(c->expect_secret, 1024, &expect, &expect_len);
		if (r == 0 && (expect_len != secret_len || memcmp(expect, secret, secret_len))) {
			snprintf(reason, reason_len, "released secret differs from derive-secret");
			r = -EBADMSG;
		}
	}
out:
	if (keep && r == 0) {
		*keep = cl;
		cl = NULL;
	}
	secmem_free(secret);
	free(quote);
	free(expect);
	json_object_put(jwk);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
	kbs_client_free(cl);
	return r;
}

static int valid_session(const struct ctx *c)
{
	struct session_spec sp = {.sim = c->sim};
	char reason[512];
	int stage, r;

	r = run_session(c, &sp, &stage, reason, sizeof(reason), NULL);
	if (r < 0)
		FAILF("valid session failed at stage %d: %s", stage, reason);
	return 0;
}

/* A session that must be refused at `want_stage` with `want` in the reason and the audit. */
static int refused_session(const struct ctx *c, const struct session_spec *sp, int want_stage,
			   const char *want)
{
	char reason[512];
	long mark = audit_mark(c);
	int stage, r;

	r = run_session(c, sp, &stage, reason, sizeof(reason), NULL);
	if (r == 0)
		FAILF("released although it should be refused (%s)", want);
	if (stage != want_stage || !strstr(reason, want))
		FAILF("refused at stage %d with \"%s\", expected stage %d with \"%s\"", stage,
		      reason, want_stage, want);
	printf("  refused: %s\n", reason);
	return audit_expect(c, mark, want);
}

static void mod_debug(struct quotesim_quote_opts *o)
{
	o->body.td_attributes[0] |= 1;
}
static void mod_mrtd(struct quotesim_quote_opts *o)
{
	o->body.mrtd[0] ^= 1;
}
static void mod_rtmr(struct quotesim_quote_opts *o)
{
	o->body.rtmr[2][5] ^= 1;
}
static void mod_tcb(struct quotesim_quote_opts *o)
{
	o->body.tee_tcb_svn[2] = 0; /* below the platform's UpToDate level: OutOfDate */
}
static void mod_tamper(struct quotesim_quote_opts *o)
{
	o->tamper = QUOTESIM_TAMPER_QUOTE_SIG;
}

/* Raw request on the client's session. */
static int raw_expect(const struct ctx *c, const char *session_from, const char *method,
		      const char *path, const char *body, size_t body_len, long want_status,
		      const char *want, const char *want_audit)
{
	struct kbs_client *cl = NULL;
	struct kbs_challenge ch;
	_cleanup_free_ char *resp = NULL;
	char reason[512];
	size_t len;
	long status = 0, mark = audit_mark(c);
	int r;

	if (client_new(c, false, &cl) < 0)
		FAILF("client setup failed");
	if (session_from && kbs_client_auth(cl, &ch, reason, sizeof(reason)) < 0) {
		kbs_client_free(cl);
		FAILF("auth failed: %s", reason);
	}
	r = kbs_client_request(cl, method, path, body, body_len, &status, &resp, &len, reason,
			       sizeof(reason));
	kbs_client_free(cl);
	if (r < 0)
		FAILF("request failed: %s", reason);
	if (status != want_status || !strstr(resp, want))
		FAILF("got HTTP %ld \"%s\", expected %ld with \"%s\"", status, resp, want_status,
		      want);
	printf("  HTTP %ld %s\n", status, resp);
	return audit_expect(c, mark, want_audit);
}

static int tcp_connect(const struct ctx *c)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(c->port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static SSL *tls_connect(const struct ctx *c, SSL_CTX **ctx_out, int *fd_out)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl;
	int fd = tcp_connect(c);

	if (!ctx || fd < 0)
		return NULL;
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1) {
		SSL_free(ssl);
		SSL_CTX_free(ctx);
		close(fd);
		return NULL;
	}
	*ctx_out = ctx;
	*fd_out = fd;
	return ssl;
}

/* Sends a request bigger than keyd accepts. keyd answers with an error status and closes, maybe
 * while the rest is still on its way: the client then sees the answer or a closed (reset)
 * connection, whichever wins the race, and both are the same refusal. Anything else fails: another
 * answer, or neither an answer nor a close within 10 s. keyd audits the refusal when it queues its
 * answer, so want_audit is checked on both branches. The caller's next valid session shows keyd
 * still serves. want_status is the expected status code or its prefix ("4" for any 4xx). */
static int oversized_refused(const struct ctx *c, const char *req, size_t len,
			     const char *want_status, const char *want_audit)
{
	long mark = audit_mark(c);
	struct timeval tv = {.tv_sec = 10};
	SSL_CTX *ctx = NULL;
	char buf[512] = "", head[32];
	const char *how = NULL;
	size_t off = 0;
	int fd = -1, n, err = 0;
	SSL *ssl = tls_connect(c, &ctx, &fd);

	if (!ssl)
		FAILF("TLS connect failed");
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		how = "cannot bound the socket's timeouts";
	while (!how && off < len) {
		int w = SSL_write(ssl, req + off, (int)(len - off > 16384 ? 16384 : len - off));

		if (w <= 0) {
			err = errno;
			break; /* closed (or timed out: the read below tells) */
		}
		off += (size_t)w;
	}
	/* An answer may already be waiting even when the write failed. */
	n = how ? -1 : SSL_read(ssl, buf, sizeof(buf) - 1);
	if (n <= 0 && !how) {
		int e = SSL_get_error(ssl, n);

		if (e == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK))
			how = "neither an answer nor a close within 10 s";
		else if (err == EAGAIN || err == EWOULDBLOCK)
			how = "keyd stopped reading without answering or closing within 10 s";
	}
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	if (how)
		FAILF("request of %zu bytes: %s", len, how);
	if (n <= 0) {
		printf("  refused: connection closed after %zu of %zu bytes\n", off, len);
		return audit_expect(c, mark, want_audit);
	}
	buf[n] = '\0';
	snprintf(head, sizeof(head), "HTTP/1.1 %s", want_status);
	if (strncmp(buf, head, strlen(head)) != 0)
		FAILF("request of %zu bytes got \"%.40s\", expected HTTP %s or a close", len, buf,
		      want_status);
	printf("  refused: %.*s (%zu of %zu bytes sent)\n", (int)strcspn(buf, "\r"), buf, off, len);
	return audit_expect(c, mark, want_audit);
}

static int scen_huge_content_length(const struct ctx *c)
{
	static const char req[] = "POST /kbs/v0/auth HTTP/1.1\r\nHost: 127.0.0.1\r\n"
				  "Content-Type: application/json\r\n"
				  "Content-Length: 99999999999\r\n\r\n{";

	return oversized_refused(c, req, strlen(req), "413", "over limits.max_body_bytes");
}

/* A body beyond max_body_bytes (64 KiB by default) with an honest Content-Length. */
static int oversized_body(const struct ctx *c, size_t body_len)
{
	char head[160];
	int n = snprintf(head, sizeof(head),
			 "POST /kbs/v0/auth HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
			 body_len);
	_cleanup_free_ char *req = malloc((size_t)n + body_len);

	if (!req)
		FAILF("out of memory");
	memcpy(req, head, (size_t)n);
	memset(req + n, ' ', body_len);
	req[n] = '{';
	req[(size_t)n + body_len - 1] = '}';
	return oversized_refused(c, req, (size_t)n + body_len, "413", "over limits.max_body_bytes");
}

/* Just over the limit (keyd usually answers before the client is done) and 64 times over it
 * (keyd usually closes first): either way a refusal. */
static int scen_oversized(const struct ctx *c)
{
	if (oversized_body(c, 70000) < 0)
		return -1;
	return oversized_body(c, 64 * 64 * 1024);
}

/* Headers beyond max_header_bytes (8 KiB by default) are refused by evhttp. */
static int scen_huge_header(const struct ctx *c)
{
	static const char head[] = "POST /kbs/v0/auth HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ";
	char req[20000];

	memcpy(req, head, strlen(head));
	memset(req + strlen(head), 'a', sizeof(req) - strlen(head));
	memcpy(req + sizeof(req) - 4, "\r\n\r\n", 4);
	return oversized_refused(c, req, sizeof(req), "4", "over limits.max_header_bytes");
}

/* Sends a request one byte every 300 ms: keyd must close the connection at its request
 * deadline (2 s in the test config), long before the request is complete. */
static int scen_slow_drip(const struct ctx *c)
{
	static const char req[] =
		"POST /kbs/v0/auth HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		"Content-Type: application/json\r\nContent-Length: 60\r\n\r\n"
		"{\"version\":\"0.4.0\",\"tee\":\"tdx\",\"extra-params\":{}}       ";
	struct timespec t0, t1;
	SSL_CTX *ctx = NULL;
	long mark = audit_mark(c);
	bool closed = false;
	double secs;
	int fd = -1;
	SSL *ssl = tls_connect(c, &ctx, &fd);

	if (!ssl)
		FAILF("TLS connect failed");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t i = 0; i < strlen(req) && !closed; i++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};

		if (SSL_write(ssl, req + i, 1) != 1)
			closed = true;
		else if (poll(&p, 1, 300) > 0) {
			char b[256];

			if (SSL_read(ssl, b, sizeof(b)) <= 0)
				closed = true;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (!closed)
		FAILF("slow client was never cut off");
	if (secs > 5)
		FAILF("slow client cut off only after %.1f s", secs);
	printf("  connection closed after %.1f s\n", secs);
	return audit_expect(c, mark, "request timeout");
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A one-off client with options o asks for a challenge: the result, and (if seconds is not
 * NULL) how long it took. */
static int auth_once(const struct kbs_client_opts *o, char *reason, size_t reason_len,
		     double *seconds)
{
	struct kbs_client *cl = NULL;
	struct kbs_challenge ch;
	double t0 = now_s();
	int r;

	r = kbs_client_new(o, &cl);
	if (r == 0)
		r = kbs_client_auth(cl, &ch, reason, reason_len);
	kbs_client_free(cl);
	if (seconds)
		*seconds = now_s() - t0;
	return r;
}

/* Holds n idle TLS connections (keyd's max_connections): a further client must not get through
 * until they close, and then must. */
static int scen_max_connections(const struct ctx *c, int n)
{
	struct kbs_client_opts o = {.url = c->url, .ca_file = c->ca, .total_timeout_ms = 1000};
	SSL_CTX *ctx[64] = {0};
	SSL *ssl[64] = {0};
	int fd[64], r, held = 0;
	char reason[512] = "";

	if (n < 1 || n > 64)
		FAILF("max-connections=N needs 1 <= N <= 64");
	for (int i = 0; i < n; i++) {
		ssl[i] = tls_connect(c, &ctx[i], &fd[i]);
		if (ssl[i])
			held++;
	}
	if (held != n)
		FAILF("only %d of %d connections up to the limit were accepted", held, n);
	r = auth_once(&o, reason, sizeof(reason), NULL);
	for (int i = 0; i < n; i++) {
		SSL_free(ssl[i]);
		SSL_CTX_free(ctx[i]);
		close(fd[i]);
	}
	if (r == 0)
		FAILF("a connection beyond max_connections was served");
	printf("  connection %d waited: %s\n", n + 1, reason);
	return 0; /* the valid session that follows shows the slot came back */
}

/* The client's own bounds, which the agent's failover relies on: a response larger than its cap
 * is refused, a server that accepts TCP but never answers costs at most the time budget, and a
 * closed port fails at once. */
static int scen_client_bounds(const struct ctx *c)
{
	struct kbs_client_opts o = {.url = c->url, .ca_file = c->ca, .max_response = 16};
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	char reason[512] = "", url[64];
	double dt;
	int r, lfd;

	r = auth_once(&o, reason, sizeof(reason), NULL);
	if (r != -EPROTO || !strstr(reason, "response larger than 16 bytes"))
		FAILF("oversized response not refused (%d, %s)", r, reason);
	printf("  %s\n", reason);

	/* A listening socket nobody accepts on: TCP connects, TLS never starts. */
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0)
		FAILF("cannot set up a silent listener");
	snprintf(url, sizeof(url), "https://127.0.0.1:%u", ntohs(sa.sin_port));
	o = (struct kbs_client_opts){.url = url, .ca_file = c->ca, .total_timeout_ms = 700};
	r = auth_once(&o, reason, sizeof(reason), &dt);
	if (r != -ETIMEDOUT || dt > 1.5)
		FAILF("silent server: %d (%s) after %.2f s, expected -ETIMEDOUT within the budget",
		      r, reason, dt);
	printf("  silent server: gave up after %.2f s: %s\n", dt, reason);
	/* The same port once closed: refused at once. */
	close(lfd);
	r = auth_once(&o, reason, sizeof(reason), &dt);
	if (r != -EHOSTUNREACH || dt > 0.5)
		FAILF("closed port: %d (%s) after %.2f s, expected -EHOSTUNREACH at once", r,
		      reason, dt);
	printf("  closed port: %.3f s: %s\n", dt, reason);
	return 0;
}

static int scen_plain_http(const struct ctx *c)
{
	static const char req[] = "POST /kbs/v0/auth HTTP/1.1\r\nHost: 127.0.0.1\r\n"
				  "Content-Length: 2\r\n\r\n{}";
	char buf[256] = "";
	long mark = audit_mark(c);
	ssize_t n;
	int fd = tcp_connect(c);
	struct pollfd p = {.fd = fd, .events = POLLIN};

	if (fd < 0)
		FAILF("connect failed");
	if (write(fd, req, strlen(req)) < 0)
		FAILF("write failed");
	n = poll(&p, 1, 5000) > 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	close(fd);
	if (n > 0 && !strncmp(buf, "HTTP/", 5))
		FAILF("plain HTTP got an HTTP answer: %.40s", buf);
	printf("  plain HTTP: connection closed without an HTTP answer\n");
	return audit_expect(c, mark, "TLS handshake failed");
}

/* POSTs body to /attest on cl's session: keyd must answer 401 naming want, and audit it. */
static int attest_refused(const struct ctx *c, struct kbs_client *cl, const char *body,
			  const char *want, const char *what)
{
	_cleanup_free_ char *resp = NULL;
	long status = 0, mark = audit_mark(c);
	char reason[512];
	size_t len;
	int r;

	r = kbs_client_request(cl, "POST", "/kbs/v0/attest", body, strlen(body), &status, &resp,
			       &len, reason, sizeof(reason));
	if (r < 0 || status != 401 || !strstr(resp, want)) {
		fprintf(stderr, "  %s not refused: %ld %s\n", what, status, resp ? resp : "");
		return -1;
	}
	printf("  %s: HTTP %ld %s\n", what, status, resp);
	return audit_expect(c, mark, want);
}

static int scen_reused_nonce(const struct ctx *c)
{
	struct session_spec sp = {.sim = c->sim};
	struct kbs_client *cl = NULL;
	struct kbs_challenge ch;
	_cleanup_free_ char *body = NULL, *resp = NULL;
	EVP_PKEY *key = NULL;
	uint8_t *quote = NULL;
	size_t quote_len, len;
	char reason[512];
	long status = 0;
	int stage, r;

	/* 1: the same session attests a second time with its (spent) nonce. */
	r = client_auth(c, &cl, &ch, NULL, reason, sizeof(reason));
	if (r == 0)
		r = quotesim_kbs_evidence(c->sim, NULL, ch.nonce, &key, &quote, &quote_len);
	if (r == 0)
		r = kbs_attest_request_build(ch.nonce, key, quote, quote_len, NULL, 0, NULL, &body);
	if (r == 0)
		r = kbs_client_request(cl, "POST", "/kbs/v0/attest", body, strlen(body), &status,
				       &resp, &len, reason, sizeof(reason));
	if (r < 0 || status != 200) {
		r = -1;
		fprintf(stderr, "  first attest failed (%ld)\n", status);
		goto out;
	}
	r = attest_refused(c, cl, body, "nonce already used", "same session again");
	if (r < 0)
		goto out;
	/* 2: the whole attest request (nonce, key, quote) replayed on a fresh session. */
	kbs_client_free(cl);
	cl = NULL;
	r = client_auth(c, &cl, &ch, NULL, reason, sizeof(reason));
	if (r == 0)
		r = attest_refused(c, cl, body, "not this session's nonce",
				   "replay on a new session");
out:
	(void)sp;
	(void)stage;
	kbs_client_free(cl);
	EVP_PKEY_free(key);
	free(quote);
	return r < 0 ? -1 : 0;
}

static int scen_cookie(const struct ctx *c, const char *session, const char *want)
{
	struct kbs_client *cl = NULL;
	struct kbs_challenge ch;
	struct json_object *jwk = NULL;
	_cleanup_free_ char *body = NULL, *resp = NULL;
	uint8_t q[64] = {0};
	EVP_PKEY *key = NULL;
	char reason[512];
	size_t len;
	long status = 0, mark = audit_mark(c);
	int r;

	r = client_auth(c, &cl, &ch, &key, reason, sizeof(reason));
	if (r == 0)
		r = kbs_attest_request_build(ch.nonce, key, q, sizeof(q), NULL, 0, NULL, &body);
	if (r == 0) {
		char tampered[4097];

		/* "": this session's own cookie with one character changed. */
		if (session && !*session) {
			size_t n;

			snprintf(tampered, sizeof(tampered), "%s", kbs_client_session(cl));
			n = strlen(tampered) / 2;
			tampered[n] = tampered[n] == 'A' ? 'B' : 'A';
			session = tampered;
		}
		kbs_client_set_session(cl, session);
		r = kbs_client_request(cl, "POST", "/kbs/v0/attest", body, strlen(body), &status,
				       &resp, &len, reason, sizeof(reason));
	}
	kbs_client_free(cl);
	json_object_put(jwk);
	EVP_PKEY_free(key);
	if (r < 0 || status != 401 || !strstr(resp, want))
		FAILF("expected 401 with \"%s\", got %ld %s", want, status, resp ? resp : "");
	printf("  HTTP %ld %s\n", status, resp);
	return audit_expect(c, mark, want);
}

static int scen_expired_session(const struct ctx *c, unsigned lifetime_s)
{
	struct kbs_client *cl = NULL;
	struct kbs_challenge ch;
	_cleanup_free_ char *body = NULL, *resp = NULL;
	uint8_t q[64] = {0};
	EVP_PKEY *key = NULL;
	char reason[512];
	size_t len;
	long status = 0, mark;
	int r;

	r = client_auth(c, &cl, &ch, &key, reason, sizeof(reason));
	if (r == 0)
		r = kbs_attest_request_build(ch.nonce, key, q, sizeof(q), NULL, 0, NULL, &body);
	sleep(lifetime_s + 1);
	mark = audit_mark(c);
	if (r == 0)
		r = kbs_client_request(cl, "POST", "/kbs/v0/attest", body, strlen(body), &status,
				       &resp, &len, reason, sizeof(reason));
	kbs_client_free(cl);
	EVP_PKEY_free(key);
	if (r < 0 || status != 401 || !strstr(resp, "session expired"))
		FAILF("expected 401 session expired, got %ld %s", status, resp ? resp : "");
	printf("  HTTP %ld %s\n", status, resp);
	return audit_expect(c, mark, "session expired");
}

static int scen_wrong_pin(const struct ctx *c)
{
	struct kbs_client_opts o = {.url = c->url};
	uint8_t pin[1][KBS_CLIENT_PIN_LEN];
	struct kbs_client *cl = NULL;
	struct kbs_challenge ch;
	char reason[512] = "";
	int r;

	RAND_bytes(pin[0], sizeof(pin[0]));
	o.pins = (const uint8_t(*)[KBS_CLIENT_PIN_LEN])pin;
	o.n_pins = 1;
	r = kbs_client_new(&o, &cl);
	if (r == 0)
		r = kbs_client_auth(cl, &ch, reason, sizeof(reason));
	kbs_client_free(cl);
	if (r != -EKEYREJECTED)
		FAILF("a server key that does not match the pin was accepted (%d, %s)", r, reason);
	printf("  client refused the server: %s\n", reason);
	return 0;
}

#define WRONG_VERSION "{\"version\":\"0.3.0\",\"tee\":\"tdx\",\"extra-params\":{}}"
#define MALFORMED     "{\"runtime-data\":{,}}"
#define TRUNCATED     "{\"runtime-data\":{\"nonce\":\"AAAA"
#define DUPLICATE     "{\"version\":\"0.4.0\",\"version\":\"0.4.0\",\"tee\":\"tdx\"}"
/* A JSON string that would forge a log line (newline) and reverse text (U+202E) if printed raw. */
#define FORGED_JSON                                               \
	"{\"version\":\"0.4\\ntdx-keyd: FORGED\\u202e\",\"tee\":" \
	"\"tdx\",\"extra-params\":{}}"

/* A release with every step on a new connection, so that a round-robin balancer sends each step
 * to another replica; a step that fails in transport (a replica died under it: reset, refused,
 * timed out) is retried up to 3 times on a new connection with the same cookie, as an agent
 * would. Refusals are not retried. */
static bool transport_error(int r)
{
	return r == -EIO || r == -EHOSTUNREACH || r == -ETIMEDOUT;
}

static int split_session(const struct ctx *c, unsigned *retries, char *reason, size_t reason_len)
{
	char cookie[4097] = "";
	struct kbs_challenge ch = {0};
	uint8_t *quote = NULL, *secret = NULL, *expect = NULL;
	size_t quote_len = 0, secret_len = 0, expect_len = 0;
	EVP_PKEY *key = NULL;
	int r = 0;

	for (int step = 0; step < 3 && r == 0; step++) {
		for (int attempt = 0;; attempt++) {
			struct kbs_client *cl = NULL;

			r = client_new(c, false, &cl);
			if (r == 0 && cookie[0])
				kbs_client_set_session(cl, cookie);
			if (r == 0 && step == 0)
				r = kbs_client_auth(cl, &ch, reason, reason_len);
			else if (r == 0 && step == 1)
				r = kbs_client_attest(cl, ch.nonce, key, quote, quote_len, reason,
						      reason_len);
			else if (r == 0)
				r = kbs_client_resource(cl, c->resource, key, &secret, &secret_len,
							reason, reason_len);
			if (r == 0)
				snprintf(cookie, sizeof(cookie), "%s", kbs_client_session(cl));
			kbs_client_free(cl);
			if (r == 0 || !transport_error(r) || attempt == 3)
				break;
			(*retries)++;
			usleep(100 * 1000);
		}
		if (r == 0 && step == 0)
			r = quotesim_kbs_evidence(c->sim, NULL, ch.nonce, &key, &quote, &quote_len);
	}
	if (r == 0 && c->expect_secret) {
		r = file_read_all(c->expect_secret, 1024, &expect, &expect_len);
		if (r == 0 && (expect_len != secret_len || memcmp(expect, secret, secret_len))) {
			snprintf(reason, reason_len, "released secret differs from derive-secret");
			r = -EBADMSG;
		}
	}
	secmem_free(secret);
	free(expect);
	free(quote);
	EVP_PKEY_free(key);
	return r;
}

static int scen_fleet_split(const struct ctx *c, int n)
{
	unsigned retries = 0;
	char reason[512] = "";

	for (int i = 0; i < n; i++)
		if (split_session(c, &retries, reason, sizeof(reason)) < 0)
			FAILF("release %d of %d failed: %s", i + 1, n, reason);
	printf("  %d releases, each step on a new connection (%u retries)\n", n, retries);
	return 0;
}

struct fleet_load {
	const struct ctx *c;
	double until;
	atomic_uint releases, retries, failures;
	pthread_mutex_t lock;
	char last_error[512];
};

static double now_s(void);

static void *fleet_load_thread(void *arg)
{
	struct fleet_load *l = arg;

	while (now_s() < l->until) {
		unsigned retries = 0;
		char reason[512] = "";

		if (split_session(l->c, &retries, reason, sizeof(reason)) == 0) {
			atomic_fetch_add(&l->releases, 1);
		} else {
			atomic_fetch_add(&l->failures, 1);
			pthread_mutex_lock(&l->lock);
			snprintf(l->last_error, sizeof(l->last_error), "%s", reason);
			pthread_mutex_unlock(&l->lock);
		}
		atomic_fetch_add(&l->retries, retries);
	}
	return NULL;
}

/* fleet-load=SECONDS:THREADS: split releases from THREADS threads for SECONDS (bounded to 60 s and
 * 16 threads); no release may fail beyond the retries. */
static int scen_fleet_load(const struct ctx *c, const char *arg)
{
	struct fleet_load l = {.c = c};
	pthread_t th[16];
	int secs = atoi(arg), n = strchr(arg, ':') ? atoi(strchr(arg, ':') + 1) : 0, started = 0;

	if (secs < 1 || secs > 60 || n < 1 || n > 16)
		FAILF("fleet-load=SECONDS:THREADS with 1..60 s and 1..16 threads");
	pthread_mutex_init(&l.lock, NULL);
	l.until = now_s() + secs;
	for (int i = 0; i < n; i++)
		if (pthread_create(&th[i], NULL, fleet_load_thread, &l) == 0)
			started++;
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&l.lock);
	printf("  %u releases in %d s from %d threads, %u retried steps, %u failed releases%s%s\n",
	       atomic_load(&l.releases), secs, started, atomic_load(&l.retries),
	       atomic_load(&l.failures), l.last_error[0] ? "; last error: " : "", l.last_error);
	if (started != n || atomic_load(&l.failures) || !atomic_load(&l.releases))
		FAILF("fleet load: failed releases or no release at all");
	return 0;
}

/* One keep-alive TLS connection from 127.0.0.2 sending /auth requests back to back. */
struct flood {
	const struct ctx *c;
	double until;
	unsigned max_requests;
	atomic_uint sent, ok, limited, other;
};

static SSL *tls_connect_from(const struct ctx *c, const char *src, SSL_CTX **ctx_out, int *fd_out)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(c->port)};
	struct sockaddr_in from = {.sin_family = AF_INET};
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	SSL *ssl = NULL;

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	inet_pton(AF_INET, src, &from.sin_addr);
	if (ctx && fd >= 0 && bind(fd, (struct sockaddr *)&from, sizeof(from)) == 0 &&
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && (ssl = SSL_new(ctx))) {
		SSL_set_fd(ssl, fd);
		if (SSL_connect(ssl) == 1) {
			*ctx_out = ctx;
			*fd_out = fd;
			return ssl;
		}
	}
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* Reads one HTTP response (headers, then Content-Length bytes); returns its status or -1. */
static int read_response(SSL *ssl)
{
	char buf[8192];
	size_t len = 0;
	char *end = NULL, *cl;
	long body = 0;
	int status, n;

	while (!end) {
		if (len + 1 >= sizeof(buf))
			return -1;
		n = SSL_read(ssl, buf + len, (int)(sizeof(buf) - 1 - len));
		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	if (sscanf(buf, "HTTP/1.1 %d", &status) != 1)
		return -1;
	cl = strcasestr(buf, "\r\nContent-Length:");
	if (cl)
		body = strtol(cl + 17, NULL, 10);
	body -= (long)(len - (size_t)(end + 4 - buf));
	while (body > 0) {
		n = SSL_read(ssl, buf, (int)(body < (long)sizeof(buf) ? body : (long)sizeof(buf)));
		if (n <= 0)
			return -1;
		body -= n;
	}
	return status;
}

static void *flood_thread(void *arg)
{
	static const char req[] = "POST /kbs/v0/auth HTTP/1.1\r\nHost: 127.0.0.1\r\n"
				  "Content-Type: application/json\r\nContent-Length: 49\r\n\r\n"
				  "{\"version\":\"0.4.0\",\"tee\":\"tdx\",\"extra-params\":{}}";
	struct flood *f = arg;
	SSL_CTX *ctx = NULL;
	int fd = -1;
	SSL *ssl = tls_connect_from(f->c, "127.0.0.2", &ctx, &fd);

	while (ssl && now_s() < f->until && atomic_fetch_add(&f->sent, 1) < f->max_requests) {
		int st;

		if (SSL_write(ssl, req, (int)strlen(req)) != (int)strlen(req))
			break;
		st = read_response(ssl);
		if (st == 200)
			atomic_fetch_add(&f->ok, 1);
		else if (st == 429)
			atomic_fetch_add(&f->limited, 1);
		else
			atomic_fetch_add(&f->other, 1);
		if (st < 0)
			break;
	}
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* auth-flood=N: a session attests from 127.0.0.1; two keep-alive connections from 127.0.0.2 send
 * up to N /auth requests (at most 5 s); the session's release must still work, and the audit
 * log grow by a few aggregated records, not by one per request. */
static int scen_auth_flood(const struct ctx *c, unsigned n)
{
	struct flood f = {.c = c, .max_requests = n};
	struct kbs_client *cl = NULL;
	struct kbs_challenge ch;
	EVP_PKEY *key = NULL;
	uint8_t *quote = NULL, *secret = NULL;
	size_t quote_len = 0, secret_len = 0, lines = 0;
	_cleanup_free_ uint8_t *audit = NULL;
	size_t audit_len = 0;
	char reason[512] = "";
	pthread_t th[2];
	double t0;
	long mark;
	int r;

	if (n < 1 || n > 200000)
		FAILF("auth-flood=N needs 1 <= N <= 200000");
	r = client_auth(c, &cl, &ch, NULL, reason, sizeof(reason));
	if (r == 0)
		r = quotesim_kbs_evidence(c->sim, NULL, ch.nonce, &key, &quote, &quote_len);
	if (r == 0)
		r = kbs_client_attest(cl, ch.nonce, key, quote, quote_len, reason, sizeof(reason));
	free(quote);
	if (r < 0) {
		kbs_client_free(cl);
		EVP_PKEY_free(key);
		FAILF("could not establish the session before the flood: %s", reason);
	}
	mark = audit_mark(c);
	t0 = now_s();
	f.until = t0 + 5;
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, flood_thread, &f);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	printf("  flood: %u /auth requests in %.1f s from 127.0.0.2: %u challenges, %u HTTP 429, "
	       "%u other\n",
	       atomic_load(&f.ok) + atomic_load(&f.limited) + atomic_load(&f.other), now_s() - t0,
	       atomic_load(&f.ok), atomic_load(&f.limited), atomic_load(&f.other));
	/* The session established before the flood still gets its release. */
	r = kbs_client_resource(cl, c->resource, key, &secret, &secret_len, reason, sizeof(reason));
	kbs_client_free(cl);
	EVP_PKEY_free(key);
	secmem_free(secret);
	if (r < 0)
		FAILF("the session established before the flood failed: %s", reason);
	if (atomic_load(&f.limited) == 0 || atomic_load(&f.ok) + atomic_load(&f.limited) < 1000)
		FAILF("the flood was not rate-limited (or did not run)");
	usleep(2500 * 1000); /* the aggregated records of the flood's interval */
	if (file_read_all(c->audit, 64 * 1024 * 1024, &audit, &audit_len) < 0 ||
	    audit_len < (size_t)mark)
		FAILF("cannot read the audit log");
	for (size_t i = (size_t)mark; i < audit_len; i++)
		lines += audit[i] == '\n';
	printf("  session established before the flood: released; audit log grew by %zu lines "
	       "(%zu bytes)\n",
	       lines, audit_len - (size_t)mark);
	if (lines > 40)
		FAILF("the audit log grew by %zu lines for one flood", lines);
	return audit_expect(c, mark, "\"peer\":\"127.0.0.2\"");
}

/* Attests with a quote from a file (a real Intel quote): it must be refused at attest with
 * `want` in the reason and the audit line. */
static int scen_file_quote(const struct ctx *c, const char *arg)
{
	_cleanup_free_ char *path = strdup(arg);
	char *want = path ? strchr(path, ':') : NULL, reason[512] = "";
	struct kbs_client *cl = NULL;
	struct kbs_challenge ch;
	uint8_t *raw = NULL, *quote = NULL;
	size_t raw_len, quote_len;
	EVP_PKEY *key = NULL;
	long mark = audit_mark(c);
	int r;

	if (!want)
		FAILF("file-quote=PATH:EXPECTED-REASON");
	*want++ = '\0';
	r = file_read_all(path, 1 << 20, &raw, &raw_len);
	if (r == 0)
		r = quote_decode_file_bytes(raw, raw_len, &quote, &quote_len);
	free(raw);
	if (r < 0)
		FAILF("cannot read %s", path);
	r = client_auth(c, &cl, &ch, &key, reason, sizeof(reason));
	if (r == 0)
		r = kbs_client_attest(cl, ch.nonce, key, quote, quote_len, reason, sizeof(reason));
	kbs_client_free(cl);
	EVP_PKEY_free(key);
	free(quote);
	if (r != -EACCES || !strstr(reason, want))
		FAILF("attest with %s: %d \"%s\", expected a refusal with \"%s\"", path, r, reason,
		      want);
	printf("  refused: %s\n", reason);
	return audit_expect(c, mark, want);
}

/* Sessions keyd must refuse: what differs from a valid one, the stage and the reason. */
static const struct refused_scenario {
	const char *name;
	enum rd_mode rd;
	void (*mod)(struct quotesim_quote_opts *o);
	bool other_sim;
	const char *resource;
	int stage;
	const char *want;
} refused_scenarios[] = {
	{"reportdata-nonce", RD_OTHER_NONCE, NULL, false, NULL, 2, "REPORTDATA does not bind"},
	{"reportdata-key", RD_OTHER_KEY, NULL, false, NULL, 2, "REPORTDATA does not bind"},
	{"debug", RD_OK, mod_debug, false, NULL, 2, "debug TD refused"},
	{"mrtd", RD_OK, mod_mrtd, false, NULL, 3, "MRTD mismatch"},
	{"rtmr", RD_OK, mod_rtmr, false, NULL, 3, "RTMR2 mismatch"},
	{"tcb", RD_OK, mod_tcb, false, NULL, 3, "TCB status OutOfDate not accepted"},
	{"tampered", RD_OK, mod_tamper, false, NULL, 2, "quote verification failed"},
	{"other-root", RD_OK, NULL, true, NULL, 2, "quote verification failed"},
	{"expired-collateral", RD_OK, NULL, false, NULL, 2, "expired at the verification time"},
	{"uncovered", RD_OK, NULL, false, "default/disk/not-in-any-policy", 3,
	 "not covered by any policy"},
};

/* Raw requests keyd must refuse: with or without a session, the reply and the audit reason. */
static const struct raw_scenario {
	const char *name;
	const char *session_from;
	const char *method, *path, *body;
	long status;
	const char *want, *want_audit;
} raw_scenarios[] = {
	{"wrong-version", NULL, "POST", "/kbs/v0/auth", WRONG_VERSION, 401, "not supported",
	 "not supported"},
	{"malformed", "auth", "POST", "/kbs/v0/attest", MALFORMED, 401, "SerdeError",
	 "malformed JSON"},
	{"truncated", "auth", "POST", "/kbs/v0/attest", TRUNCATED, 401, "SerdeError",
	 "malformed JSON"},
	{"forged-json", NULL, "POST", "/kbs/v0/auth", FORGED_JSON, 401, "not supported",
	 "not supported"},
	{"duplicate-key", NULL, "POST", "/kbs/v0/auth", DUPLICATE, 401, "SerdeError", "duplicate"},
	{"resource-no-cookie", NULL, "GET", "/kbs/v0/resource/default/disk/root", NULL, 401,
	 "TokenNotFound", "missing kbs-session-id cookie"},
	{"resource-not-attested", "auth", "GET", "/kbs/v0/resource/default/disk/root", NULL, 401,
	 "session has not attested", "session has not attested"},
	{"bad-path", NULL, "GET", "/kbs/v0/resource/default/disk/root%00x", NULL, 404,
	 "InvalidRequestPath", "resource path is not repo/type/tag"},
	{"bad-method", NULL, "PUT", "/kbs/v0/auth", "{}", 404, "PluginNotFound",
	 "no such endpoint or method"},
};

static int run_scenario(struct ctx *c, const char *name)
{
	struct session_spec sp = {.sim = c->sim};

	for (size_t i = 0; i < ARRAY_SIZE(refused_scenarios); i++) {
		const struct refused_scenario *rs = &refused_scenarios[i];

		if (strcmp(name, rs->name) != 0)
			continue;
		sp.rd = rs->rd;
		sp.mod = rs->mod;
		if (rs->other_sim)
			sp.sim = c->other;
		if (rs->resource)
			sp.resource = rs->resource;
		return refused_session(c, &sp, rs->stage, rs->want);
	}
	for (size_t i = 0; i < ARRAY_SIZE(raw_scenarios); i++) {
		const struct raw_scenario *rs = &raw_scenarios[i];

		if (!strcmp(name, rs->name))
			return raw_expect(c, rs->session_from, rs->method, rs->path, rs->body,
					  rs->body ? strlen(rs->body) : 0, rs->status, rs->want,
					  rs->want_audit);
	}
	if (!strcmp(name, "valid"))
		return valid_session(c);
	if (!strcmp(name, "pin")) {
		char reason[512];
		int stage;

		sp.use_pin = true;
		if (run_session(c, &sp, &stage, reason, sizeof(reason), NULL) < 0)
			FAILF("pinned session failed at stage %d: %s", stage, reason);
		return 0;
	}
	if (!strcmp(name, "wrong-pin"))
		return scen_wrong_pin(c);
	if (!strcmp(name, "no-cookie"))
		return scen_cookie(c, NULL, "missing kbs-session-id cookie");
	if (!strcmp(name, "foreign-cookie"))
		return scen_cookie(c, "0123456789abcdef0123456789abcdef",
				   "malformed kbs-session-id cookie (not a sealed session)");
	if (!strcmp(name, "tampered-cookie"))
		return scen_cookie(c, "", "kbs-session-id fails authentication");
	if (!strncmp(name, "expired-session=", 16))
		return scen_expired_session(c, (unsigned)atoi(name + 16));
	if (!strcmp(name, "reused-nonce"))
		return scen_reused_nonce(c);
	if (!strcmp(name, "audit-unavailable")) {
		/* keyd's audit file is /dev/full: no release may go unrecorded. */
		char reason[512];
		int stage;

		if (run_session(c, &sp, &stage, reason, sizeof(reason), NULL) == 0)
			FAILF("released although the audit record could not be written");
		if (stage != 3 || !strstr(reason, "audit log unavailable"))
			FAILF("refused at stage %d with \"%s\"", stage, reason);
		printf("  refused: %s\n", reason);
		return 0;
	}
	if (!strncmp(name, "file-quote=", 11))
		return scen_file_quote(c, name + 11);
	if (!strncmp(name, "flood-only=", 11)) {
		/* make bench: load beside a measurement, nothing asserted. */
		struct flood f = {
			.c = c, .max_requests = 10000000, .until = now_s() + atoi(name + 11)};
		pthread_t th[2];

		if (atoi(name + 11) < 1 || atoi(name + 11) > 60)
			FAILF("flood-only=SECONDS with 1..60 s");
		for (int i = 0; i < 2; i++)
			pthread_create(&th[i], NULL, flood_thread, &f);
		for (int i = 0; i < 2; i++)
			pthread_join(th[i], NULL);
		printf("  flood from 127.0.0.2: %u challenges, %u HTTP 429, %u other\n",
		       atomic_load(&f.ok), atomic_load(&f.limited), atomic_load(&f.other));
		return 0;
	}
	if (!strncmp(name, "auth-flood=", 11))
		return scen_auth_flood(c, (unsigned)atoi(name + 11));
	if (!strncmp(name, "fleet-split=", 12))
		return scen_fleet_split(c, atoi(name + 12));
	if (!strncmp(name, "fleet-load=", 11))
		return scen_fleet_load(c, name + 11);
	if (!strcmp(name, "oversized"))
		return scen_oversized(c);
	if (!strcmp(name, "huge-header"))
		return scen_huge_header(c);
	if (!strcmp(name, "huge-content-length"))
		return scen_huge_content_length(c);
	if (!strcmp(name, "slow-drip"))
		return scen_slow_drip(c);
	if (!strcmp(name, "client-bounds"))
		return scen_client_bounds(c);
	if (!strncmp(name, "max-connections=", 16))
		return scen_max_connections(c, atoi(name + 16));
	if (!strcmp(name, "plain-http"))
		return scen_plain_http(c);
	FAILF("unknown scenario %s", name);
}

int main(int argc, char **argv)
{
	static const char usage[] =
		"usage: kbs-test-client --url URL --ca CERT --sim DIR [--other-sim DIR] --audit "
		"FILE [--resource PATH] [--expect-secret FILE] SCENARIO...\n";
	struct ctx c = {.resource = "default/disk/root"};
	const char *sim = NULL, *other = NULL, *colon;
	const struct cmd_option opts[] = {
		CMD_OPT("url", 0, true, &c.url),
		CMD_OPT("ca", 0, true, &c.ca),
		CMD_OPT("sim", 0, true, &sim),
		CMD_OPT("other-sim", 0, false, &other),
		CMD_OPT("audit", 0, true, &c.audit),
		CMD_OPT("resource", 0, false, &c.resource),
		CMD_OPT("expect-secret", 0, false, &c.expect_secret),
	};
	char **scenarios;
	size_t n_scenarios;
	int failed = 0, r;

	log_setup("kbs-test-client", LOG_TARGET_STDERR, LOG_LVL_WARN);
	/* A write to a connection keyd closed must fail with EPIPE, not kill the client. */
	signal(SIGPIPE, SIG_IGN);
	r = cmd_options_parse_rest(argc, argv, usage, opts, ARRAY_SIZE(opts), &scenarios,
				   &n_scenarios);
	if (r >= 0)
		return r;
	if (n_scenarios == 0) {
		fputs(usage, stderr);
		return CMD_EXIT_USAGE;
	}
	colon = strrchr(c.url, ':');
	c.port = colon ? (uint16_t)atoi(colon + 1) : 443;
	if (quotesim_load(sim, &c.sim) < 0 || (other && quotesim_load(other, &c.other) < 0) ||
	    kbs_client_pin_from_cert(c.ca, c.pin) < 0) {
		fprintf(stderr, "cannot load the test hierarchy or the server certificate\n");
		return 2;
	}
	for (size_t i = 0; i < n_scenarios; i++) {
		r = run_scenario(&c, scenarios[i]);

		/* Whatever was refused, keyd must still release to a valid session (not while its
		 * collateral is expired on purpose). */
		if (r == 0 && strcmp(scenarios[i], "valid") &&
		    strcmp(scenarios[i], "expired-collateral") &&
		    strcmp(scenarios[i], "audit-unavailable") &&
		    strncmp(scenarios[i], "file-quote=", 11))
			r = valid_session(&c);
		printf("%s %s\n", r == 0 ? "PASS" : "FAIL", scenarios[i]);
		fflush(stdout);
		if (r < 0)
			failed++;
	}
	quotesim_free(c.sim);
	quotesim_free(c.other);
	return failed ? 1 : 0;
}
