#define _GNU_SOURCE
#include "http_front.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admin_front.h"
#include "cleanup.h"
#include "log.h"
#include "pccs_fetch.h"
#include "proxy_proto.h"
#include "sd_notify.h"
#include "tls_server.h"

struct keyd_worker;

/* Per TLS connection: hangs off the SSL object, freed with it (see conn_ex_free). */
struct keyd_conn {
	struct keyd_worker *w;
	struct bufferevent *bev;
	struct event *deadline;
	char peer[128];	   /* "ADDR:PORT", or "CLIENT:PORT via BALANCER:PORT" (PROXY header) */
	char addr[48];	   /* the client's address without the port: per-peer limits */
	unsigned requests; /* answered on this connection */
	bool handshake_started, handshake_done, timed_out;
	bool replying;	      /* request_cb is writing a reply */
	bool refusal_audited; /* evhttp answered on its own (limits) and that was recorded */
};

struct keyd_worker {
	pthread_t thread;
	unsigned index;
	struct event_base *base;
	struct evhttp *http;
	struct evconnlistener *listener;
	const struct keyd_config *cfg;
	struct release_service *svc;
	SSL_CTX *ssl_ctx;
	unsigned conns, max_conns;
	bool paused, stopping;
};

static int conn_ex_index = -1;

static void set_peer_from_fd(struct keyd_conn *c, int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN], port[8];

	if (c->peer[0] || fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
		return;
	if (getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port, sizeof(port),
			NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
		snprintf(c->peer, sizeof(c->peer), "%s:%s", host, port);
		snprintf(c->addr, sizeof(c->addr), "%s", host);
	}
}

/* Runs on the worker thread when evhttp frees the connection (and with it the SSL object). */
static void conn_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
			 void *argp)
{
	struct keyd_conn *c = ptr;
	BIO *rbio = parent ? SSL_get_rbio(parent) : NULL;

	(void)ad, (void)idx, (void)argl, (void)argp;
	if (!c)
		return;
	/* A client that sent bytes that were not a TLS handshake is recorded; a bare TCP
	 * connect and close (port probe, health check) is not. */
	if (c->handshake_started && !c->handshake_done && !c->timed_out && !c->refusal_audited &&
	    rbio && BIO_number_read(rbio) > 0)
		release_service_audit_transport(
			c->w->svc, c->peer[0] ? c->peer : NULL, c->addr[0] ? c->addr : NULL,
			"TLS handshake failed (not TLS, e.g. plain HTTP, or no "
			"common protocol version or cipher)");
	event_free(c->deadline);
	c->w->conns--;
	if (c->w->paused && !c->w->stopping && c->w->conns < c->w->max_conns) {
		evconnlistener_enable(c->w->listener);
		c->w->paused = false;
	}
	free(c);
}

/* The balancer told us who the client is: limits and audit lines see the client. */
static void proxy_done(void *arg, const struct proxy_header *h, const char *reason)
{
	struct keyd_conn *c = arg;
	char via[64];

	if (!h) {
		c->refusal_audited = true; /* not again as a failed TLS handshake */
		release_service_audit_transport(c->w->svc, c->peer[0] ? c->peer : NULL,
						c->addr[0] ? c->addr : NULL, reason);
		return;
	}
	if (h->local)
		return; /* the balancer's own connection (health check): its address stays */
	snprintf(via, sizeof(via), "%.63s", c->peer);
	snprintf(c->peer, sizeof(c->peer), "%s%s%s:%u via %s", strchr(h->addr, ':') ? "[" : "",
		 h->addr, strchr(h->addr, ':') ? "]" : "", h->port, via);
	snprintf(c->addr, sizeof(c->addr), "%s", h->addr);
}

static bool proxy_listed(const struct keyd_proxy *p, int fd)
{
	struct sockaddr_storage ss = {0};
	socklen_t sl = sizeof(ss);
	const uint8_t *a;
	int family;

	if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
		return false;
	if (ss.ss_family == AF_INET) {
		family = AF_INET;
		a = (const uint8_t *)&((struct sockaddr_in *)&ss)->sin_addr;
	} else if (ss.ss_family == AF_INET6) {
		const struct in6_addr *a6 = &((struct sockaddr_in6 *)&ss)->sin6_addr;

		family = IN6_IS_ADDR_V4MAPPED(a6) ? AF_INET : AF_INET6;
		a = family == AF_INET ? a6->s6_addr + 12 : a6->s6_addr;
	} else {
		return false;
	}
	for (size_t i = 0; i < p->n_from; i++)
		if (p->from[i].family == family &&
		    !memcmp(p->from[i].addr, a, family == AF_INET ? 4 : 16))
			return true;
	return false;
}

/* Before the handshake reads a byte: a listed balancer's connection must start with a PROXY
 * header, anyone else's must not. Without proxy_protocol nothing is added (a header is then
 * just not TLS, and the handshake fails). */
static void proxy_setup(struct keyd_conn *c, int fd)
{
	const struct keyd_proxy *p = &c->w->cfg->proxy;
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);

	if (!p->n_from || !ssl)
		return;
	if (proxy_filter_push(ssl, proxy_listed(p, fd) ? PROXY_REQUIRE : PROXY_REFUSE, p->v1,
			      proxy_done, c) < 0) {
		log_error("keyd: cannot set up the PROXY header filter (out of memory): "
			  "connection closed");
		shutdown(fd, SHUT_RDWR);
	}
}

static void ssl_info_cb(const SSL *ssl, int where, int ret)
{
	struct keyd_conn *c = SSL_get_ex_data(ssl, conn_ex_index);

	(void)ret;
	if (!c)
		return;
	if ((where & SSL_CB_HANDSHAKE_START) && !c->handshake_started) {
		int one = 1;

		c->handshake_started = true;
		set_peer_from_fd(c, SSL_get_fd(ssl));
		proxy_setup(c, SSL_get_fd(ssl));
		/* Replies leave as several TLS records: without this, Nagle holds the last one
		 * for the client's delayed ACK (40 ms per request). */
		setsockopt(SSL_get_fd(ssl), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	if (where & SSL_CB_HANDSHAKE_DONE)
		c->handshake_done = true;
}

/* The whole request (TLS handshake, headers, body) must arrive within request_timeout_ms of the
 * connection or of the previous reply: a slow-drip client cannot hold a connection. Shutting
 * the socket down makes evhttp see EOF and free the connection through its own path. */
static void conn_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct keyd_conn *c = arg;
	int sfd = bufferevent_getfd(c->bev);

	(void)fd, (void)what;
	set_peer_from_fd(c, sfd);
	c->timed_out = true;
	/* After a reply this is usually an idle keep-alive connection: closed without a record. */
	if (c->requests == 0)
		release_service_audit_transport(
			c->w->svc, c->peer[0] ? c->peer : NULL, c->addr[0] ? c->addr : NULL,
			"request timeout: client too slow, connection closed");
	else
		log_debug("keyd: closing connection of %s idle or slow after %u requests", c->peer,
			  c->requests);
	if (sfd >= 0)
		shutdown(sfd, SHUT_RDWR);
}

static void conn_arm_deadline(struct keyd_conn *c)
{
	struct timeval tv = {.tv_sec = c->w->cfg->limits.request_timeout_ms / 1000,
			     .tv_usec = (c->w->cfg->limits.request_timeout_ms % 1000) * 1000};

	evtimer_add(c->deadline, &tv);
}

/* evhttp answers a request over limits.max_header_bytes / max_body_bytes (or one it cannot parse)
 * itself, before keyd sees it, and libevent 2.1 has no hook for that: the reply is noticed as
 * bytes written to the connection while no handler of ours is replying, and recorded. */
static void conn_output_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct keyd_conn *c = arg;
	const struct keyd_limits *l = &c->w->cfg->limits;
	struct evbuffer_ptr pos;
	char head[13] = "", reason[160];

	if (!info->n_added || c->replying || c->refusal_audited ||
	    evbuffer_ptr_set(buf, &pos, info->orig_size, EVBUFFER_PTR_SET) < 0 ||
	    evbuffer_copyout_from(buf, &pos, head, sizeof(head) - 1) != sizeof(head) - 1 ||
	    strncmp(head, "HTTP/1.", 7) != 0)
		return;
	c->refusal_audited = true;
	set_peer_from_fd(c, bufferevent_getfd(c->bev));
	if (!strncmp(head + 9, "413", 3))
		snprintf(reason, sizeof(reason),
			 "request body over limits.max_body_bytes (%zu): HTTP 413, connection "
			 "closed",
			 l->max_body_bytes);
	else if (!strncmp(head + 9, "400", 3))
		snprintf(reason, sizeof(reason),
			 "request line or headers over limits.max_header_bytes (%zu) or malformed: "
			 "HTTP 400, connection closed",
			 l->max_header_bytes);
	else
		snprintf(reason, sizeof(reason), "request refused by the HTTP layer: HTTP %.3s",
			 head + 9);
	release_service_audit_transport(c->w->svc, c->peer[0] ? c->peer : NULL,
					c->addr[0] ? c->addr : NULL, reason);
}

static struct bufferevent *bev_cb(struct event_base *base, void *arg)
{
	struct keyd_worker *w = arg;
	struct keyd_conn *c = calloc(1, sizeof(*c));
	SSL *ssl = SSL_new(w->ssl_ctx);
	struct bufferevent *bev = NULL;

	if (!c || !ssl)
		goto fail;
	c->w = w;
	c->deadline = evtimer_new(base, conn_deadline_cb, c);
	if (!c->deadline)
		goto fail;
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
					     BEV_OPT_CLOSE_ON_FREE);
	if (!bev)
		goto fail;
	/* From here the SSL object owns c: freeing the bufferevent frees both. */
	SSL_set_ex_data(ssl, conn_ex_index, c);
	c->bev = bev;
	evbuffer_add_cb(bufferevent_get_output(bev), conn_output_cb, c);
	w->conns++;
	if (w->conns >= w->max_conns && !w->paused) {
		/* Further clients wait in the kernel backlog until a connection closes. */
		evconnlistener_disable(w->listener);
		w->paused = true;
	}
	conn_arm_deadline(c);
	return bev;
fail:
	log_error("keyd: cannot set up a TLS connection (out of memory)");
	if (c && c->deadline)
		event_free(c->deadline);
	free(c);
	SSL_free(ssl);
	/* evhttp would fall back to a plain socket: the request handler refuses anything that
	 * did not come over TLS. */
	return NULL;
}

static struct keyd_conn *conn_of(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
	SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;

	return ssl ? SSL_get_ex_data(ssl, conn_ex_index) : NULL;
}

static void request_cb(struct evhttp_request *req, void *arg)
{
	struct keyd_worker *w = arg;
	struct keyd_conn *c = conn_of(req);
	struct keyd_request kr = {0};
	struct keyd_reply rep = {0};
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct evkeyvalq *out_h = evhttp_request_get_output_headers(req);
	struct evbuffer *out;
	size_t len;

	if (!c) {
		evhttp_send_error(req, 400, "TLS required");
		return;
	}
	if (!c->peer[0]) {
		char *host = NULL;
		ev_uint16_t port = 0;

		evhttp_connection_get_peer(evhttp_request_get_connection(req), &host, &port);
		snprintf(c->peer, sizeof(c->peer), "%s:%u", host ? host : "?", port);
		snprintf(c->addr, sizeof(c->addr), "%s", host ? host : "?");
	}
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET:
		kr.method = KEYD_GET;
		break;
	case EVHTTP_REQ_POST:
		kr.method = KEYD_POST;
		break;
	default:
		kr.method = KEYD_OTHER;
	}
	/* Not percent-decoded: KBS paths need no escapes, and a decoded "%00" or "%2F" would
	 * make the path keyd checks differ from the one the client sent. '%' is refused later. */
	kr.path = uri ? evhttp_uri_get_path(uri) : NULL;
	kr.cookie = evhttp_find_header(evhttp_request_get_input_headers(req), "Cookie");
	len = evbuffer_get_length(in);
	kr.body = len ? (const char *)evbuffer_pullup(in, (ev_ssize_t)len) : "";
	kr.body_len = len;
	kr.peer = c->peer;
	kr.peer_addr = c->addr;

	release_service_handle(w->svc, &kr, &rep);

	evhttp_add_header(out_h, "Content-Type", "application/json");
	evhttp_add_header(out_h, "Cache-Control", "no-store");
	if (rep.set_cookie[0])
		evhttp_add_header(out_h, "Set-Cookie", rep.set_cookie);
	out = evbuffer_new();
	if (out && rep.body)
		evbuffer_add(out, rep.body, strlen(rep.body));
	c->replying = true;
	evhttp_send_reply(req, rep.status ? rep.status : 500, NULL, out);
	c->replying = false;
	if (out)
		evbuffer_free(out);
	/* bufferevent_openssl makes one TLS record, and one write(), per evbuffer chunk: the
	 * headers and the body leave as one. */
	evbuffer_pullup(bufferevent_get_output(c->bev), -1);
	keyd_reply_done(&rep);
	c->requests++;
	conn_arm_deadline(c);
}

static void *worker_main(void *arg)
{
	struct keyd_worker *w = arg;

	event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

/* Batches a loop iteration's event changes into one epoll_ctl per descriptor (each worker has
 * its own descriptor of the listening socket, so dup()'ed descriptors never share a base). */
static struct event_base *worker_base_new(void)
{
	struct event_config *ec = event_config_new();
	struct event_base *base;

	if (!ec)
		return NULL;
	event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(ec);
	event_config_free(ec);
	return base;
}

static int worker_setup(struct keyd_worker *w, int listen_fd)
{
	struct evhttp_bound_socket *bound;
	struct timeval idle = {.tv_sec = (w->cfg->limits.request_timeout_ms + 999) / 1000};
	int fd;

	w->base = worker_base_new();
	if (!w->base)
		return log_error_errno(-ENOMEM, "keyd: cannot create event base");
	w->http = evhttp_new(w->base);
	if (!w->http)
		return log_error_errno(-ENOMEM, "keyd: cannot create evhttp");
	evhttp_set_bevcb(w->http, bev_cb, w);
	evhttp_set_gencb(w->http, request_cb, w);
	evhttp_set_max_headers_size(w->http, (ev_ssize_t)w->cfg->limits.max_header_bytes);
	evhttp_set_max_body_size(w->http, (ev_ssize_t)w->cfg->limits.max_body_bytes);
	evhttp_set_timeout_tv(w->http, &idle);
	/* Other methods reach the handler too, to be refused with a KBS error and audited. */
	evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
						    EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH |
						    EVHTTP_REQ_OPTIONS);
	fd = fcntl(listen_fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return log_error_errno(-errno, "keyd: dup: %m");
	bound = evhttp_accept_socket_with_handle(w->http, fd);
	if (!bound) {
		close(fd);
		return log_error_errno(-EIO, "keyd: cannot accept on the listening socket");
	}
	w->listener = evhttp_bound_socket_get_listener(bound);
	return 0;
}

static int listen_socket(const struct keyd_config *cfg, uint16_t *port)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	struct sockaddr_storage ss = {0};
	socklen_t sl = sizeof(ss);
	char portstr[8];
	int fd = -1, one = 1, r;

	snprintf(portstr, sizeof(portstr), "%u", cfg->listen_port);
	r = getaddrinfo(cfg->listen_address, portstr, &hints, &ai);
	if (r != 0)
		return log_error_errno(-EINVAL, "keyd: listen address '%s': %s",
				       cfg->listen_address, gai_strerror(r));
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = log_error_errno(-errno, "keyd: socket: %m");
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 4096) < 0) {
		r = log_error_errno(-errno, "keyd: cannot listen on %s:%s: %m", cfg->listen_address,
				    portstr);
		goto out;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		r = log_error_errno(-errno, "keyd: getsockname: %m");
		goto out;
	}
	/* NOLINTNEXTLINE(clang-analyzer-core.CallAndMessage): getsockname() filled ss */
	*port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					       : ((struct sockaddr_in *)&ss)->sin_port);
	r = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return r;
}

static int tls_context(const struct keyd_config *cfg, SSL_CTX **out)
{
	int r = tls_server_ctx_new(cfg->tls_cert, cfg->tls_key, out);

	if (r == 0)
		SSL_CTX_set_info_callback(*out, ssl_info_cb);
	return r;
}

struct main_loop {
	const struct keyd_config *cfg;
	struct event_base *base;
	struct release_service *svc;
	struct keyd_worker *workers;
	unsigned n_workers;
};

static void on_sighup(evutil_socket_t sig, short what, void *arg)
{
	struct main_loop *m = arg;

	(void)sig, (void)what;
	log_info("keyd: SIGHUP, reloading policies");
	sd_notify_send("RELOADING=1");
	release_service_reload(m->svc);
	sd_notify_send("READY=1");
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct main_loop *m = arg;

	(void)what;
	log_info("keyd: signal %d, stopping", (int)sig);
	sd_notify_send("STOPPING=1");
	for (unsigned i = 0; i < m->n_workers; i++)
		event_base_loopexit(m->workers[i].base, NULL);
	event_base_loopexit(m->base, NULL);
}

/* Runs on the main thread: requests never wait for the PCCS; the requests themselves are
 * bounded in time. New collateral reaches the workers through a reload. */
static void pccs_refresh(struct main_loop *m)
{
	int n = pccs_refresh_all(m->cfg->pccs_url, m->cfg->collateral_dir, 10000);

	if (n > 0)
		release_service_reload(m->svc);
}

static void on_pccs(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	pccs_refresh(arg);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct main_loop *m = arg;

	(void)fd, (void)what;
	release_service_tick(m->svc);
}

static int write_port_file(const char *path, uint16_t port)
{
	char buf[16];
	int n = snprintf(buf, sizeof(buf), "%u\n", port);
	FILE *f = fopen(path, "we");

	if (!f)
		return log_error_errno(-errno, "keyd: cannot write %s: %m", path);
	fwrite(buf, 1, (size_t)n, f);
	if (fclose(f) != 0)
		return log_error_errno(-errno, "keyd: cannot write %s: %m", path);
	return 0;
}

int http_front_run(const struct keyd_config *cfg, struct release_service *svc,
		   const char *port_file)
{
	struct main_loop m = {.cfg = cfg, .svc = svc};
	struct event *ev_hup = NULL, *ev_term = NULL, *ev_int = NULL, *ev_tick = NULL,
		     *ev_pccs = NULL;
	struct timeval tick = {.tv_sec = cfg->limits.auth_audit_interval_s};
	SSL_CTX *ctx = NULL;
	uint16_t port = 0;
	unsigned started = 0, per_worker;
	struct admin_front *admin = NULL;
	int listen_fd = -1, r;
	long ncpu;

	signal(SIGPIPE, SIG_IGN);
	if (evthread_use_pthreads() < 0)
		return log_error_errno(-EIO, "keyd: libevent without thread support");
	if (conn_ex_index < 0)
		conn_ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_ex_free);
	r = tls_context(cfg, &ctx);
	if (r < 0)
		return r;
	listen_fd = listen_socket(cfg, &port);
	if (listen_fd < 0) {
		r = listen_fd;
		goto out;
	}
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	m.n_workers = cfg->workers ? cfg->workers : (ncpu > 0 ? (unsigned)ncpu : 1);
	m.workers = calloc(m.n_workers, sizeof(*m.workers));
	m.base = event_base_new();
	if (!m.workers || !m.base) {
		r = -ENOMEM;
		goto out;
	}
	per_worker = (cfg->limits.max_connections + m.n_workers - 1) / m.n_workers;
	for (unsigned i = 0; i < m.n_workers; i++) {
		struct keyd_worker *w = &m.workers[i];

		w->index = i;
		w->cfg = cfg;
		w->svc = svc;
		w->ssl_ctx = ctx;
		w->max_conns = per_worker;
		r = worker_setup(w, listen_fd);
		if (r < 0)
			goto out;
	}
	ev_hup = evsignal_new(m.base, SIGHUP, on_sighup, &m);
	ev_term = evsignal_new(m.base, SIGTERM, on_stop, &m);
	ev_int = evsignal_new(m.base, SIGINT, on_stop, &m);
	ev_tick = event_new(m.base, -1, EV_PERSIST, on_tick, &m);
	if (!ev_hup || !ev_term || !ev_int || !ev_tick || evsignal_add(ev_hup, NULL) < 0 ||
	    evsignal_add(ev_term, NULL) < 0 || evsignal_add(ev_int, NULL) < 0 ||
	    event_add(ev_tick, &tick) < 0) {
		r = log_error_errno(-EIO, "keyd: cannot install signal handlers");
		goto out;
	}
	if (cfg->pccs_url) {
		struct timeval period = {.tv_sec = cfg->pccs_refresh_s};

		ev_pccs = event_new(m.base, -1, EV_PERSIST, on_pccs, &m);
		if (!ev_pccs || event_add(ev_pccs, &period) < 0) {
			r = log_error_errno(-EIO, "keyd: cannot schedule the PCCS refresh");
			goto out;
		}
		pccs_refresh(&m);
	}
	r = admin_front_start(m.base, cfg, svc, &admin);
	if (r < 0)
		goto out;
	for (; started < m.n_workers; started++) {
		r = -pthread_create(&m.workers[started].thread, NULL, worker_main,
				    &m.workers[started]);
		if (r < 0) {
			log_error_errno(r, "keyd: cannot start worker: %m");
			on_stop(SIGTERM, 0, &m);
			goto out;
		}
	}
	log_info("keyd: listening on %s:%u (TLS), %u workers, body <= %zu bytes, %u connections",
		 cfg->listen_address, port, m.n_workers, cfg->limits.max_body_bytes,
		 cfg->limits.max_connections);
	if (port_file) {
		r = write_port_file(port_file, port);
		if (r < 0) {
			on_stop(SIGTERM, 0, &m);
			goto out;
		}
	}
	/* Only now may systemd order dependent units after this one (Type=notify). */
	sd_notify_send("READY=1");
	event_base_dispatch(m.base);
	r = 0;
out:
	for (unsigned i = 0; i < started; i++)
		pthread_join(m.workers[i].thread, NULL);
	if (m.workers)
		for (unsigned i = 0; i < m.n_workers; i++) {
			/* Freeing evhttp frees its listener before its connections. */
			m.workers[i].stopping = true;
			if (m.workers[i].http)
				evhttp_free(m.workers[i].http);
			if (m.workers[i].base)
				event_base_free(m.workers[i].base);
		}
	free(m.workers);
	admin_front_free(admin);
	if (ev_hup)
		event_free(ev_hup);
	if (ev_term)
		event_free(ev_term);
	if (ev_int)
		event_free(ev_int);
	if (ev_tick)
		event_free(ev_tick);
	if (ev_pccs)
		event_free(ev_pccs);
	if (m.base)
		event_base_free(m.base);
	if (listen_fd >= 0)
		close(listen_fd);
	SSL_CTX_free(ctx);
	return r;
}
