/* The PROXY protocol (HAProxy's spec, v2 binary and optionally v1 text) in front of keyd's TLS:
 * a balancer listed in the configuration tells keyd the real client's address, so per-address
 * limits and audit lines see the client, not the balancer. Only listed balancers are believed;
 * a header from anyone else is refused. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#define PROXY_HEADER_MAX (16 + 512) /* v2 header with up to 512 bytes of addresses and TLVs */

struct proxy_header {
	bool local;    /* v2 LOCAL, v1 UNKNOWN or an address family other than TCP over IP: the
			* connection is the balancer's own (a health check); keep its address */
	char addr[48]; /* the client's numeric address (when !local) */
	uint16_t port;
};

/* Parses the header at the start of buf (which may hold more bytes after it). Returns its length
 * when complete, 0 when more bytes are needed, or -EBADMSG with the reason (e.g. "PROXY v2
 * header: command 0x3 unknown"). v1 (text) is accepted only with allow_v1. */
int proxy_header_parse(const uint8_t *buf, size_t len, bool allow_v1, struct proxy_header *out,
		       char *reason, size_t reason_len);

/* True when buf (at least 6 bytes, or all there is) starts like a v1 or v2 header. */
bool proxy_header_signature(const uint8_t *buf, size_t len);

/* Called once from the filter: h set when a header was read, else reason says why the
 * connection is refused. */
typedef void (*proxy_done_fn)(void *arg, const struct proxy_header *h, const char *reason);

enum proxy_mode {
	PROXY_REQUIRE, /* a listed balancer: the connection must start with a header */
	PROXY_REFUSE,  /* anyone else: a connection starting with a header is refused */
};

/* Puts a filter in front of ssl's read BIO (its socket) that consumes exactly the header (never
 * a byte of TLS) and reports it through done before TLS sees anything. Call before the handshake
 * reads. Returns 0 or -ENOMEM. */
int proxy_filter_push(SSL *ssl, enum proxy_mode mode, bool allow_v1, proxy_done_fn done, void *arg);
