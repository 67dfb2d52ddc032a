#define _GNU_SOURCE
#include "proxy_proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/bio.h>

#include "log.h"

#define V1_MAX 107 /* "PROXY TCP6 <39> <39> <5> <5>\r\n" */

static const uint8_t v2_sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
				   0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

#define proxy_refuse(reason, len, ...) \
	log_refusal(LOG_LVL_INFO, -EBADMSG, "", reason, len, __VA_ARGS__)

bool proxy_header_signature(const uint8_t *buf, size_t len)
{
	size_t n = len < sizeof(v2_sig) ? len : sizeof(v2_sig);

	if (len == 0)
		return false;
	return !memcmp(buf, v2_sig, n) || !memcmp(buf, "PROXY ", len < 6 ? len : 6);
}

static int parse_v2(const uint8_t *buf, size_t len, struct proxy_header *out, char *reason,
		    size_t reason_len)
{
	size_t body, total;
	uint8_t cmd, fam;

	if (len < 16)
		return 0;
	if (buf[12] >> 4 != 2)
		return proxy_refuse(reason, reason_len, "PROXY v2 header: version %u, expected 2",
				    buf[12] >> 4);
	cmd = buf[12] & 0x0f;
	fam = buf[13];
	body = (size_t)buf[14] << 8 | buf[15];
	total = 16 + body;
	if (total > PROXY_HEADER_MAX)
		return proxy_refuse(reason, reason_len,
				    "PROXY v2 header of %zu bytes, more than %d allowed", total,
				    PROXY_HEADER_MAX);
	if (cmd > 1)
		return proxy_refuse(reason, reason_len, "PROXY v2 header: command 0x%x unknown",
				    cmd);
	if (len < total)
		return 0;
	memset(out, 0, sizeof(*out));
	out->local = true;
	if (cmd == 0) /* LOCAL: the balancer's own connection */
		return (int)total;
	if (fam == 0x11 || fam == 0x21) { /* TCP over IPv4 / IPv6: src, dst, src port, dst port */
		bool v4 = fam == 0x11;
		size_t alen = v4 ? 4 : 16;
		const uint8_t *port = buf + 16 + 2 * alen;

		if (body < 2 * alen + 4)
			return proxy_refuse(reason, reason_len,
					    "PROXY v2 header: IPv%d addresses truncated",
					    v4 ? 4 : 6);
		inet_ntop(v4 ? AF_INET : AF_INET6, buf + 16, out->addr, sizeof(out->addr));
		out->port = (uint16_t)(port[0] << 8 | port[1]);
		out->local = false;
	}
	/* Other families (UNSPEC, UNIX, UDP): no client address to believe; the connection's. */
	return (int)total;
}

static bool port_parse(const char *s, uint16_t *out)
{
	unsigned long v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 5 || strspn(s, "0123456789") != n)
		return false;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (unsigned long)(s[i] - '0');
	if (v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

/* "PROXY TCP4 <src> <dst> <sport> <dport>\r\n" or "PROXY UNKNOWN ...\r\n". */
static int parse_v1(const uint8_t *buf, size_t len, struct proxy_header *out, char *reason,
		    size_t reason_len)
{
	const uint8_t *crlf = memmem(buf, len < V1_MAX ? len : V1_MAX, "\r\n", 2);
	char line[V1_MAX + 1], *field[7], *save = NULL;
	uint16_t sport, dport;
	size_t n = 0;
	uint8_t a[16];
	int af;

	if (!crlf)
		return len >= V1_MAX
			       ? proxy_refuse(reason, reason_len,
					      "PROXY v1 header without CRLF in %d bytes", V1_MAX)
			       : 0;
	memcpy(line, buf, (size_t)(crlf - buf));
	line[crlf - buf] = '\0';
	memset(out, 0, sizeof(*out));
	if (!strncmp(line, "PROXY UNKNOWN", 13) && (line[13] == '\0' || line[13] == ' ')) {
		out->local = true;
		return (int)(crlf - buf) + 2;
	}
	/* Fields separated by exactly one space, nothing but printable ASCII. */
	for (const char *c = line; *c; c++)
		if (*c < 0x20 || *c > 0x7e || (c[0] == ' ' && c[1] == ' '))
			return proxy_refuse(reason, reason_len,
					    "PROXY v1 header: control character or double space");
	for (char *f = strtok_r(line, " ", &save); f && n < 7; f = strtok_r(NULL, " ", &save))
		field[n++] = f;
	if (n != 6 || !port_parse(field[4], &sport) || !port_parse(field[5], &dport))
		return proxy_refuse(reason, reason_len, "PROXY v1 header malformed");
	af = !strcmp(field[1], "TCP4") ? AF_INET : !strcmp(field[1], "TCP6") ? AF_INET6 : 0;
	if (!af || inet_pton(af, field[3], a) != 1 || inet_pton(af, field[2], a) != 1)
		return proxy_refuse(reason, reason_len,
				    "PROXY v1 header: protocol or addresses malformed");
	/* The address keyd records is its own rendering, never the header's text. */
	inet_ntop(af, a, out->addr, sizeof(out->addr));
	out->port = sport;
	return (int)(crlf - buf) + 2;
}

int proxy_header_parse(const uint8_t *buf, size_t len, bool allow_v1, struct proxy_header *out,
		       char *reason, size_t reason_len)
{
	size_t n = len < sizeof(v2_sig) ? len : sizeof(v2_sig);

	if (reason_len)
		reason[0] = '\0';
	if (!memcmp(buf, v2_sig, n))
		return len < sizeof(v2_sig) ? 0 : parse_v2(buf, len, out, reason, reason_len);
	if (allow_v1 && !memcmp(buf, "PROXY ", len < 6 ? len : 6))
		return len < 6 ? 0 : parse_v1(buf, len, out, reason, reason_len);
	return proxy_refuse(reason, reason_len,
			    "connection from a balancer does not start with a PROXY %s header",
			    allow_v1 ? "v2 or v1" : "v2");
}

/* The filter BIO: reads the header straight from the socket, peeking first so that not one
 * byte of TLS is taken, then passes everything through. */
struct proxy_filter {
	enum proxy_mode mode;
	bool allow_v1, done;
	proxy_done_fn cb;
	void *arg;
	size_t len;
	uint8_t buf[PROXY_HEADER_MAX];
};

static void filter_finish(struct proxy_filter *f, const struct proxy_header *h, const char *reason)
{
	f->done = true;
	if (f->cb)
		f->cb(f->arg, h, reason);
}

/* Returns 1 when the filter is done (pass through), 0 to wait, -1 refused. */
static int filter_header(BIO *b, struct proxy_filter *f)
{
	struct proxy_header h;
	uint8_t peek[PROXY_HEADER_MAX];
	char reason[160];
	int fd = (int)BIO_get_fd(BIO_next(b), NULL);
	ssize_t n;
	int r;

	n = recv(fd, peek, sizeof(peek) - f->len, MSG_PEEK);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	if (n <= 0)
		return 1; /* EOF or error: the TLS layer below sees it too */
	if (f->mode == PROXY_REFUSE) {
		/* A TLS record starts with 0x16; these two bytes only start a PROXY header. */
		if (peek[0] == '\r' || peek[0] == 'P') {
			filter_finish(f, NULL,
				      "PROXY protocol header from an address not in "
				      "proxy_protocol.from: refused");
			return -1;
		}
		f->done = true;
		return 1;
	}
	memcpy(f->buf + f->len, peek, (size_t)n);
	r = proxy_header_parse(f->buf, f->len + (size_t)n, f->allow_v1, &h, reason, sizeof(reason));
	if (r < 0) {
		filter_finish(f, NULL, reason);
		return -1;
	}
	/* Consume the header's bytes only (all of what was peeked while it is incomplete). */
	n = r ? (ssize_t)((size_t)r - f->len) : n;
	if (recv(fd, f->buf + f->len, (size_t)n, 0) != n) {
		filter_finish(f, NULL, "PROXY header: socket read failed");
		return -1;
	}
	f->len += (size_t)n;
	if (r == 0) {
		if (f->len == sizeof(f->buf)) {
			filter_finish(f, NULL, "PROXY header longer than allowed");
			return -1;
		}
		return 0;
	}
	filter_finish(f, &h, NULL);
	return 1;
}

static int filter_read(BIO *b, char *out, int outl)
{
	struct proxy_filter *f = BIO_get_data(b);
	int r;

	BIO_clear_retry_flags(b);
	if (!BIO_next(b))
		return 0;
	if (!f->done) {
		r = filter_header(b, f);
		if (r == 0) {
			BIO_set_retry_read(b);
			return -1;
		}
		if (r < 0)
			return -1;
	}
	r = BIO_read(BIO_next(b), out, outl);
	BIO_copy_next_retry(b);
	return r;
}

static int filter_write(BIO *b, const char *in, int inl)
{
	int r;

	BIO_clear_retry_flags(b);
	if (!BIO_next(b))
		return 0;
	r = BIO_write(BIO_next(b), in, inl);
	BIO_copy_next_retry(b);
	return r;
}

static long filter_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	return BIO_next(b) ? BIO_ctrl(BIO_next(b), cmd, num, ptr) : 0;
}

static int filter_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static int filter_destroy(BIO *b)
{
	free(BIO_get_data(b));
	BIO_set_data(b, NULL);
	return 1;
}

static BIO_METHOD *filter_method;

static void filter_method_init(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_FILTER, "keyd PROXY header");

	if (m && BIO_meth_set_read(m, filter_read) == 1 &&
	    BIO_meth_set_write(m, filter_write) == 1 && BIO_meth_set_ctrl(m, filter_ctrl) == 1 &&
	    BIO_meth_set_create(m, filter_create) == 1 &&
	    BIO_meth_set_destroy(m, filter_destroy) == 1)
		filter_method = m;
	else
		BIO_meth_free(m);
}

int proxy_filter_push(SSL *ssl, enum proxy_mode mode, bool allow_v1, proxy_done_fn done, void *arg)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	BIO *sock = SSL_get_rbio(ssl), *filter;
	struct proxy_filter *f;

	pthread_once(&once, filter_method_init);
	if (!filter_method || !sock || BIO_get_fd(sock, NULL) < 0)
		return -ENOMEM;
	f = calloc(1, sizeof(*f));
	filter = BIO_new(filter_method);
	if (!f || !filter) {
		free(f);
		BIO_free(filter);
		return -ENOMEM;
	}
	f->mode = mode;
	f->allow_v1 = allow_v1;
	f->cb = done;
	f->arg = arg;
	BIO_set_data(filter, f);
	/* The socket BIO stays the write BIO; the chain takes its own reference for reading. */
	BIO_up_ref(sock);
	BIO_push(filter, sock);
	SSL_set0_rbio(ssl, filter);
	return 0;
}
