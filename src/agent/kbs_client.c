#define _GNU_SOURCE
#include "kbs_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "b64.h"
#include "cleanup.h"
#include "http_body.h"
#include "agent/phase_timing.h"
#include "jwe.h"
#include "log.h"
#include "secmem.h"

#define SESSION_COOKIE_MAX 4096 /* RFC 6265 5.3; keyd seals its session in it */

struct kbs_client {
	CURL *curl;
	char *url;
	char *pins; /* "sha256//<b64>;sha256//<b64>" */
	char *ca_file;
	unsigned request_timeout_ms;
	size_t max_response;
	struct timespec deadline;
	char session[SESSION_COOKIE_MAX + 1];
	const uint8_t *ccel; /* borrowed: sent with the next attest */
	size_t ccel_len;
	const char *aael;
	uint64_t jwe_us; /* the last JWE decryption (phase timing) */
};

struct exchange {
	struct http_body body;
	char cookie[SESSION_COOKIE_MAX + 1];
	bool cookie_bad;
};

static long ms_left(const struct kbs_client *c)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (c->deadline.tv_sec - now.tv_sec) * 1000 +
	       (c->deadline.tv_nsec - now.tv_nsec) / 1000000;
}

static int fail(char *reason, size_t reason_len, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *reason, size_t reason_len, int r, const char *fmt, ...)
{
	va_list ap;

	if (reason && reason_len) {
		va_start(ap, fmt);
		vsnprintf(reason, reason_len, fmt, ap);
		va_end(ap);
	}
	return r;
}

int kbs_client_pin_from_cert(const char *cert_path, uint8_t pin[KBS_CLIENT_PIN_LEN])
{
	FILE *f = fopen(cert_path, "re");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	unsigned char *der = NULL;
	int n = x ? i2d_PUBKEY(X509_get0_pubkey(x), &der) : -1;

	if (f)
		fclose(f);
	if (n > 0)
		SHA256(der, (size_t)n, pin);
	OPENSSL_free(der);
	X509_free(x);
	if (n <= 0)
		return log_error_errno(-EINVAL, "%s: not a readable PEM certificate", cert_path);
	return 0;
}

void kbs_client_prepare(void)
{
	uint64_t t0 = phase_now_us();
	SSL_CTX *ctx;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return;
	/* libcurl's OpenSSL back end builds an SSL_CTX per connection; OpenSSL 3 keeps what it
	 * fetched for one (ciphers, digests, signature algorithms, groups) and its DRBG. */
	(void)RAND_status();
	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_free(ctx);
	log_debug("kbs client: TLS set-up done ahead in %llu us",
		  (unsigned long long)(phase_now_us() - t0));
}

int kbs_client_new(const struct kbs_client_opts *o, struct kbs_client **out)
{
	struct kbs_client *c;
	size_t plen = 0;

	if (!o->url || strncmp(o->url, "https://", 8) != 0)
		return log_error_errno(-EINVAL, "kbs client: URL must be https:// (%s)",
				       o->url ? o->url : "none");
	if (o->n_pins == 0 && !o->ca_file)
		return log_error_errno(-EINVAL, "kbs client: a server key pin or a CA file is "
						"required");
	if (o->n_pins > KBS_CLIENT_MAX_PINS)
		return log_error_errno(-EINVAL, "kbs client: more than %d pins",
				       KBS_CLIENT_MAX_PINS);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return log_error_errno(-EIO, "kbs client: libcurl initialisation failed");
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->url = strdup(o->url);
	c->ca_file = o->ca_file ? strdup(o->ca_file) : NULL;
	c->curl = curl_easy_init();
	c->pins = calloc(1, o->n_pins * 60 + 1);
	if (!c->url || (o->ca_file && !c->ca_file) || !c->curl || !c->pins)
		goto nomem;
	for (size_t i = 0; i < o->n_pins; i++) {
		_cleanup_free_ char *b = b64_encode(B64_STD, o->pins[i], KBS_CLIENT_PIN_LEN);

		if (!b)
			goto nomem;
		plen += (size_t)sprintf(c->pins + plen, "%ssha256//%s", i ? ";" : "", b);
	}
	c->request_timeout_ms = o->request_timeout_ms ? o->request_timeout_ms : 10000;
	c->max_response = o->max_response ? o->max_response : KBS_CLIENT_MAX_RESPONSE;
	clock_gettime(CLOCK_MONOTONIC, &c->deadline);
	{
		unsigned total = o->total_timeout_ms ? o->total_timeout_ms : 30000;

		c->deadline.tv_sec += total / 1000;
		c->deadline.tv_nsec += (long)(total % 1000) * 1000000;
		if (c->deadline.tv_nsec >= 1000000000) {
			c->deadline.tv_sec++;
			c->deadline.tv_nsec -= 1000000000;
		}
	}

	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c->curl, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c->curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(o->connect_timeout_ms ? o->connect_timeout_ms : 2000));
	if (o->n_pins)
		curl_easy_setopt(c->curl, CURLOPT_PINNEDPUBLICKEY, c->pins);
	if (c->ca_file) {
		curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->ca_file);
		curl_easy_setopt(c->curl, CURLOPT_CAPATH, NULL);
		curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 2L);
	} else {
		/* Pin only: the pinned key authenticates the server; chain and dates are not
		 * checked because the early-boot clock cannot be trusted. */
		curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 0L);
		/* Nor is any CA bundle loaded: without a CA path libcurl falls back to OpenSSL's
		 * default bundle and parses it for every connection. An empty, never-used path
		 * keeps it from doing so. */
		curl_easy_setopt(c->curl, CURLOPT_CAINFO, NULL);
		curl_easy_setopt(c->curl, CURLOPT_CAPATH, "/nonexistent/tdx-unlock-pinned-only");
	}
	*out = c;
	return 0;
nomem:
	kbs_client_free(c);
	return -ENOMEM;
}

void kbs_client_free(struct kbs_client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	free(c->url);
	free(c->pins);
	free(c->ca_file);
	free(c);
}

void kbs_client_set_session(struct kbs_client *c, const char *session_id)
{
	snprintf(c->session, sizeof(c->session), "%s", session_id ? session_id : "");
}

const char *kbs_client_session(const struct kbs_client *c)
{
	return c->session;
}

/* How a failed transfer is reported: the errno and the words around the server's URL. */
struct transfer_failure {
	CURLcode code;
	int err;
	const char *before, *after;
};

static const struct transfer_failure *transfer_failure_of(CURLcode cr)
{
	static const struct transfer_failure failures[] = {
		{CURLE_COULDNT_CONNECT, -EHOSTUNREACH, "cannot connect to ", ""},
		{CURLE_COULDNT_RESOLVE_HOST, -EHOSTUNREACH, "cannot connect to ", ""},
		{CURLE_OPERATION_TIMEDOUT, -ETIMEDOUT, "", ""},
		{CURLE_SSL_PINNEDPUBKEYNOTMATCH, -EKEYREJECTED, "server ", " not trusted"},
		{CURLE_PEER_FAILED_VERIFICATION, -EKEYREJECTED, "server ", " not trusted"},
		{CURLE_SSL_CACERT_BADFILE, -EKEYREJECTED, "server ", " not trusted"},
		{CURLE_OK, -EIO, "", ""}, /* anything else */
	};
	size_t i = 0;

	while (failures[i].code != CURLE_OK && failures[i].code != cr)
		i++;
	return &failures[i];
}

/* Only our own cookie, only from our own server's responses: no cookie engine, no jar. */
static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	static const char name[] = "set-cookie:";
	struct exchange *x = arg;
	size_t len = size * n, i = strlen(name), vlen = 0;
	const char *v;

	if (len <= i || strncasecmp(data, name, i) != 0)
		return len;
	while (i < len && data[i] == ' ')
		i++;
	if (len - i <= strlen(KBS_COOKIE_NAME "=") ||
	    strncmp(data + i, KBS_COOKIE_NAME "=", strlen(KBS_COOKIE_NAME "=")) != 0)
		return len;
	v = data + i + strlen(KBS_COOKIE_NAME "=");
	while (v + vlen < data + len && v[vlen] != ';' && v[vlen] != '\r' && v[vlen] != '\n')
		vlen++;
	if (vlen == 0 || vlen > SESSION_COOKIE_MAX) {
		x->cookie_bad = true;
		return len;
	}
	for (size_t k = 0; k < vlen; k++)
		if (v[k] <= ' ' || v[k] == '"' || v[k] == ',' || v[k] == '\\' || v[k] > '~') {
			x->cookie_bad = true;
			return len;
		}
	memcpy(x->cookie, v, vlen);
	x->cookie[vlen] = '\0';
	return len;
}

/* Where an exchange's time went (debug): libcurl's own clock, from the start of the transfer. */
static void log_transfer_timing(CURL *curl, const char *method, const char *path)
{
	curl_off_t tcp = 0, tls = 0, first = 0, total = 0;
	long conns = 0;

	curl_easy_getinfo(curl, CURLINFO_CONNECT_TIME_T, &tcp);
	curl_easy_getinfo(curl, CURLINFO_APPCONNECT_TIME_T, &tls);
	curl_easy_getinfo(curl, CURLINFO_STARTTRANSFER_TIME_T, &first);
	curl_easy_getinfo(curl, CURLINFO_TOTAL_TIME_T, &total);
	curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &conns);
	log_debug("kbs client: %s %s: %s connection, connected at %lld us, TLS done at %lld us, "
		  "first byte at %lld us, done at %lld us",
		  method, path, conns ? "new" : "reused", (long long)tcp, (long long)tls,
		  (long long)first, (long long)total);
}

int kbs_client_request(struct kbs_client *c, const char *method, const char *path, const char *body,
		       size_t body_len, long *status, char **resp, size_t *resp_len, char *reason,
		       size_t reason_len)
{
	struct exchange x = {.body.max = c->max_response};
	struct curl_slist *hdrs = NULL;
	_cleanup_free_ char *url = NULL, *cookie = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	long left = ms_left(c);
	CURLcode cr;
	int r = 0;

	if (left <= 0)
		return fail(reason, reason_len, -ETIMEDOUT, "session time budget spent");
	if (asprintf(&url, "%s%s", c->url, path) < 0) {
		url = NULL;
		return -ENOMEM;
	}
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS,
			 left < (long)c->request_timeout_ms ? left : (long)c->request_timeout_ms);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, http_body_append);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &x.body);
	curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, &x);
	if (c->session[0]) {
		if (asprintf(&cookie, "%s=%s", KBS_COOKIE_NAME, c->session) < 0) {
			cookie = NULL;
			return -ENOMEM;
		}
		curl_easy_setopt(c->curl, CURLOPT_COOKIE, cookie);
	} else {
		curl_easy_setopt(c->curl, CURLOPT_COOKIE, NULL);
	}
	if (!strcmp(method, "POST")) {
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		/* No "Expect: 100-continue" round trip before the quote. */
		hdrs = curl_slist_append(hdrs, "Expect:");
		curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)(body ? body_len : 0));
	} else {
		curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
		curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
	}
	/* Tests only ever ask for anything but GET and POST. */
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST,
			 strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0 ? method : NULL);
	cr = curl_easy_perform(c->curl);
	log_transfer_timing(c->curl, method, path);
	/* Nothing registered with the handle may point into this stack frame afterwards. */
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, NULL);
	curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, NULL);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, NULL);
	curl_slist_free_all(hdrs);
	if (cr == CURLE_WRITE_ERROR && x.body.too_big) {
		r = fail(reason, reason_len, -EPROTO, "response larger than %zu bytes",
			 c->max_response);
		goto out;
	}
	if (cr != CURLE_OK) {
		const struct transfer_failure *tf = transfer_failure_of(cr);

		r = fail(reason, reason_len, tf->err, "%s%s%s: %s", tf->before, c->url, tf->after,
			 errbuf[0]			  ? errbuf
			 : cr == CURLE_OPERATION_TIMEDOUT ? "timed out"
							  : curl_easy_strerror(cr));
		goto out;
	}
	if (x.cookie_bad) {
		r = fail(reason, reason_len, -EPROTO, "malformed kbs-session-id cookie");
		goto out;
	}
	if (x.cookie[0])
		memcpy(c->session, x.cookie, sizeof(c->session));
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, status);
	if (!x.body.data) {
		x.body.data = strdup("");
		if (!x.body.data) {
			r = -ENOMEM;
			goto out;
		}
	}
	*resp = x.body.data;
	*resp_len = x.body.len;
	x.body.data = NULL;
out:
	free(x.body.data);
	return r;
}

/* Turns a non-200 reply into -EACCES with "<Type>: <detail>". */
static int refusal(long status, const char *body, size_t len, char *reason, size_t reason_len)
{
	struct kbs_error e;

	if (kbs_error_parse(body, len, &e, NULL, 0) == 0)
		return fail(reason, reason_len, -EACCES, "HTTP %ld %s: %s", status,
			    e.type[0] ? e.type : "error", e.detail);
	return fail(reason, reason_len, -EACCES, "HTTP %ld without a KBS error body", status);
}

int kbs_client_auth(struct kbs_client *c, struct kbs_challenge *out, char *reason,
		    size_t reason_len)
{
	_cleanup_free_ char *req = NULL, *resp = NULL;
	size_t len = 0;
	long status = 0;
	int r;

	c->session[0] = '\0';
	r = kbs_auth_request_build(&req);
	if (r < 0)
		return r;
	r = kbs_client_request(c, "POST", KBS_URL_PREFIX "/auth", req, strlen(req), &status, &resp,
			       &len, reason, reason_len);
	if (r < 0)
		return r;
	if (status != 200)
		return refusal(status, resp, len, reason, reason_len);
	/* resp is _cleanup_free_, which the analyzer does not model */
	if (!c->session[0])
		/* NOLINTNEXTLINE(*unix.Malloc) */
		return fail(reason, reason_len, -EPROTO, "auth reply without kbs-session-id");
	r = kbs_challenge_parse(resp, len, out, reason, reason_len);
	return r < 0 ? -EPROTO : 0;
}

void kbs_client_set_eventlogs(struct kbs_client *c, const uint8_t *ccel, size_t ccel_len,
			      const char *aael)
{
	c->ccel = ccel;
	c->ccel_len = ccel_len;
	c->aael = aael;
}

int kbs_client_attest(struct kbs_client *c, const char *nonce, EVP_PKEY *tee_key,
		      const uint8_t *quote, size_t quote_len, char *reason, size_t reason_len)
{
	_cleanup_free_ char *req = NULL, *resp = NULL, *token = NULL;
	size_t len = 0;
	long status = 0;
	int r;

	r = kbs_attest_request_build(nonce, tee_key, quote, quote_len, c->ccel, c->ccel_len,
				     c->aael, &req);
	if (r < 0)
		return fail(reason, reason_len, r, "cannot build the attest request");
	r = kbs_client_request(c, "POST", KBS_URL_PREFIX "/attest", req, strlen(req), &status,
			       &resp, &len, reason, reason_len);
	if (r < 0)
		return r;
	if (status != 200)
		return refusal(status, resp, len, reason, reason_len);
	/* NOLINTNEXTLINE(*unix.Malloc): resp and token are _cleanup_free_ */
	r = kbs_attest_response_parse(resp, len, &token, reason, reason_len);
	return r < 0 ? -EPROTO : 0;
}

int kbs_client_resource(struct kbs_client *c, const char *path, EVP_PKEY *tee_key, uint8_t **secret,
			size_t *secret_len, char *reason, size_t reason_len)
{
	_cleanup_free_ char *url = NULL, *resp = NULL;
	size_t len = 0;
	long status = 0;
	uint64_t t0;
	int r;

	if (asprintf(&url, "%s/resource/%s", KBS_URL_PREFIX, path) < 0) {
		url = NULL;
		return -ENOMEM;
	}
	r = kbs_client_request(c, "GET", url, NULL, 0, &status, &resp, &len, reason, reason_len);
	if (r < 0)
		return r;
	if (status != 200)
		return refusal(status, resp, len, reason, reason_len);
	t0 = phase_now_us();
	/* NOLINTNEXTLINE(*unix.Malloc): resp is _cleanup_free_ */
	r = jwe_decrypt(tee_key, resp, len, secret, secret_len, reason, reason_len);
	c->jwe_us = phase_now_us() - t0;
	return r < 0 ? -EPROTO : 0;
}

uint64_t kbs_client_jwe_us(const struct kbs_client *c)
{
	return c->jwe_us;
}
