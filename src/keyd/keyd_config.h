/* tdx-keyd's configuration file (JSON, see docs/keyd.md): loaded and validated once at start. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct keyd_limits {
	size_t max_body_bytes;	     /* request body bound (413 above) */
	size_t max_header_bytes;     /* request line + headers bound */
	unsigned max_connections;    /* open TLS connections over all workers */
	unsigned request_timeout_ms; /* whole request, from connection or previous reply */
	unsigned max_sessions;	     /* per-replica table of spent nonces (session.h) */
	unsigned session_lifetime_s; /* KBS cookie lifetime (300) */
	unsigned auth_rate_per_s;    /* /auth per client address: sustained rate (50) */
	unsigned auth_burst;	     /* ... and burst (200) */
	unsigned
		auth_audit_interval_s; /* one aggregated auth audit line per address per interval */
};

#define KEYD_ADMIN_MAX_CLIENTS 64

/* The admin endpoint (enrollment without the root key on the builder): a second listener that
 * requires a client certificate on the allow-list: an SPKI SHA-256 pin, or a chain to client_ca
 * with a subject (RFC 2253 form) on the list. */
struct keyd_admin {
	char *address; /* NULL = no admin endpoint */
	uint16_t port; /* 0 = ephemeral (tests) */
	size_t n_pins;
	uint8_t pins[KEYD_ADMIN_MAX_CLIENTS][32];
	char *client_ca;
	size_t n_subjects;
	char *subjects[KEYD_ADMIN_MAX_CLIENTS];
};

#define KEYD_PROXY_MAX_FROM 32

/* PROXY protocol: only connections from these balancer addresses carry (and must carry) a
 * header naming the client; a header from any other address is refused. Off when n_from = 0. */
struct keyd_proxy {
	size_t n_from;
	struct {
		int family; /* AF_INET or AF_INET6 */
		uint8_t addr[16];
	} from[KEYD_PROXY_MAX_FROM];
	bool v1; /* also accept the v1 text header */
};

struct keyd_config {
	char *path;
	char *listen_address;
	uint16_t listen_port; /* 0 = ephemeral (tests) */
	char *tls_cert;
	char *tls_key;
	char *test_root_ca; /* NULL = Intel SGX Root CA; anything else is for tests only */
	char *policy_dir;
	char *collateral_dir;
	char *pccs_url;		 /* NULL = no refresh */
	unsigned pccs_refresh_s; /* refresh period (default 3600) */
	char *root_key_file;	 /* exactly one of these two */
	char *root_key_pkcs11;	 /* RFC 7512 URI of the key in a PKCS#11 token */
	char *audit_file;	 /* NULL = stderr only */
	unsigned workers;	 /* 0 = one per online CPU */
	struct keyd_limits limits;
	struct keyd_admin admin;
	struct keyd_proxy proxy;
};

/* Loads path; relative paths inside are taken relative to the config file's directory. */
int keyd_config_load(const char *path, struct keyd_config **out);
void keyd_config_free(struct keyd_config *c);
