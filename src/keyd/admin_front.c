#include "admin_front.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "hexutil.h"
#include "log.h"
#include "tls_server.h"

#define ADMIN_MAX_BODY	 (16 * 1024)
#define ADMIN_MAX_HEADER (8 * 1024)
#define ADMIN_TIMEOUT_S	 10

struct admin_front {
	const struct keyd_config *cfg;
	struct release_service *svc;
	SSL_CTX *ctx;
	struct evhttp *http;
};

/* The handshake asks for a certificate and accepts any (the client still proves it holds the
 * key): the allow-list is applied per request, so that a refused certificate gets an audit
 * line naming it instead of a bare handshake failure. */
static int accept_any_cert(int preverify, X509_STORE_CTX *x)
{
	(void)preverify;
	(void)x;
	return 1;
}

static int admin_tls_context(const struct keyd_config *cfg, SSL_CTX **out)
{
	static const unsigned char sid_ctx[] = "tdx-keyd-admin";
	SSL_CTX *ctx = NULL;
	int r = tls_server_ctx_new(cfg->tls_cert, cfg->tls_key, &ctx);

	if (r < 0)
		return r;
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any_cert);
	if (cfg->admin.client_ca) {
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->admin.client_ca);

		if (!names || SSL_CTX_load_verify_locations(ctx, cfg->admin.client_ca, NULL) != 1) {
			sk_X509_NAME_pop_free(names, X509_NAME_free);
			SSL_CTX_free(ctx);
			return log_error_errno(-EINVAL, "admin: cannot load client_ca %s",
					       cfg->admin.client_ca);
		}
		SSL_CTX_set_client_CA_list(ctx, names);
	}
	*out = ctx;
	return 0;
}

static struct bufferevent *admin_bev_cb(struct event_base *base, void *arg)
{
	struct admin_front *a = arg;
	SSL *ssl = SSL_new(a->ctx);
	struct bufferevent *bev;

	if (!ssl)
		return NULL;
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
					     BEV_OPT_CLOSE_ON_FREE);
	if (!bev)
		SSL_free(ssl);
	return bev;
}

/* "subject=<RFC 2253>; spki-sha256=<hex>" and the subject alone. */
static int describe_cert(X509 *cert, uint8_t spki[32], char *subject, size_t subject_len,
			 char *desc, size_t desc_len)
{
	unsigned char *der = NULL;
	char hex[65];
	BIO *bio = BIO_new(BIO_s_mem());
	int n, der_len;

	if (!bio)
		return -ENOMEM;
	X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
	n = BIO_read(bio, subject, (int)subject_len - 1);
	BIO_free(bio);
	subject[n > 0 ? n : 0] = '\0';
	der_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	if (der_len <= 0 || !EVP_Digest(der, (size_t)der_len, spki, NULL, EVP_sha256(), NULL)) {
		OPENSSL_free(der);
		return -EIO;
	}
	OPENSSL_free(der);
	hex_encode(spki, 32, hex);
	snprintf(desc, desc_len, "subject=%s; spki-sha256=%s", subject, hex);
	return 0;
}

/* NULL when the certificate is allowed, else why not. */
static const char *authorize(const struct keyd_admin *adm, SSL *ssl, X509 *cert,
			     const uint8_t spki[32], const char *subject)
{
	long verify;

	if (!cert)
		return "no client certificate";
	for (size_t i = 0; i < adm->n_pins; i++)
		if (!memcmp(adm->pins[i], spki, 32))
			return NULL;
	if (!adm->client_ca)
		return "client certificate is not on the admin allow-list (key not pinned)";
	verify = SSL_get_verify_result(ssl);
	if (verify != X509_V_OK)
		return "client certificate is not on the admin allow-list (key not pinned, no "
		       "chain to client_ca)";
	for (size_t i = 0; i < adm->n_subjects; i++)
		if (!strcmp(adm->subjects[i], subject))
			return NULL;
	return "client certificate is not on the admin allow-list (subject not in "
	       "client_subjects)";
}

static void admin_request_cb(struct evhttp_request *req, void *arg)
{
	struct admin_front *a = arg;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
	SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req), *out;
	struct keyd_admin_request ar = {0};
	struct keyd_reply rep = {0};
	char peer[80], subject[512] = "", desc[700];
	uint8_t spki[32];
	char *host = NULL;
	ev_uint16_t port = 0;
	X509 *cert;
	size_t len;

	if (!ssl) {
		evhttp_send_error(req, 400, "TLS required");
		return;
	}
	evhttp_connection_get_peer(evcon, &host, &port);
	snprintf(peer, sizeof(peer), "%s:%u", host ? host : "?", port);
	cert = SSL_get0_peer_certificate(ssl);
	if (cert && describe_cert(cert, spki, subject, sizeof(subject), desc, sizeof(desc)) < 0)
		cert = NULL;
	ar.peer = peer;
	ar.client = cert ? desc : NULL;
	ar.refusal = authorize(&a->cfg->admin, ssl, cert, spki, subject);
	ar.method = evhttp_request_get_command(req) == EVHTTP_REQ_POST	? KEYD_POST
		    : evhttp_request_get_command(req) == EVHTTP_REQ_GET ? KEYD_GET
									: KEYD_OTHER;
	ar.path = uri ? evhttp_uri_get_path(uri) : NULL;
	len = evbuffer_get_length(in);
	ar.body = len ? (const char *)evbuffer_pullup(in, (ev_ssize_t)len) : "";
	ar.body_len = len;

	release_service_admin(a->svc, &ar, &rep);

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	out = evbuffer_new();
	if (out && rep.body)
		evbuffer_add(out, rep.body, strlen(rep.body));
	evhttp_send_reply(req, rep.status ? rep.status : 500, NULL, out);
	if (out)
		evbuffer_free(out);
	keyd_reply_done(&rep);
}

void admin_front_free(struct admin_front *a)
{
	if (!a)
		return;
	if (a->http)
		evhttp_free(a->http);
	SSL_CTX_free(a->ctx);
	free(a);
}

int admin_front_start(struct event_base *base, const struct keyd_config *cfg,
		      struct release_service *svc, struct admin_front **out)
{
	struct evhttp_bound_socket *bound;
	struct sockaddr_storage ss = {0};
	socklen_t sl = sizeof(ss);
	struct admin_front *a;
	uint16_t port = 0;
	int r;

	*out = NULL;
	if (!cfg->admin.address)
		return 0;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->cfg = cfg;
	a->svc = svc;
	r = admin_tls_context(cfg, &a->ctx);
	if (r < 0)
		goto fail;
	a->http = evhttp_new(base);
	if (!a->http) {
		r = -ENOMEM;
		goto fail;
	}
	evhttp_set_bevcb(a->http, admin_bev_cb, a);
	evhttp_set_gencb(a->http, admin_request_cb, a);
	evhttp_set_max_body_size(a->http, ADMIN_MAX_BODY);
	evhttp_set_max_headers_size(a->http, ADMIN_MAX_HEADER);
	evhttp_set_timeout(a->http, ADMIN_TIMEOUT_S);
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	bound = evhttp_bind_socket_with_handle(a->http, cfg->admin.address, cfg->admin.port);
	if (!bound) {
		r = log_error_errno(-EADDRINUSE, "admin: cannot listen on %s:%u",
				    cfg->admin.address, cfg->admin.port);
		goto fail;
	}
	if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &sl) == 0) {
		struct sockaddr_in6 s6 = {0};
		struct sockaddr_in s4 = {0};

		if (ss.ss_family == AF_INET6) {
			memcpy(&s6, &ss, sizeof(s6));
			port = ntohs(s6.sin6_port);
		} else {
			memcpy(&s4, &ss, sizeof(s4));
			port = ntohs(s4.sin_port);
		}
	}
	log_info("keyd: admin endpoint listening on %s:%u (mutual TLS, %zu pinned clients%s)",
		 cfg->admin.address, port, cfg->admin.n_pins,
		 cfg->admin.client_ca ? ", client_ca with subjects" : "");
	*out = a;
	return 0;
fail:
	admin_front_free(a);
	return r;
}
