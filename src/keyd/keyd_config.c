#define _GNU_SOURCE
#include "keyd_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "json_strict.h"
#include "hexutil.h"
#include "log.h"
#include "pkcs11_uri.h"

#define CONFIG_MAX_BYTES (64 * 1024)

void keyd_config_free(struct keyd_config *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->listen_address);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->test_root_ca);
	free(c->policy_dir);
	free(c->collateral_dir);
	free(c->pccs_url);
	free(c->root_key_file);
	free(c->root_key_pkcs11);
	free(c->admin.address);
	free(c->admin.client_ca);
	for (size_t i = 0; i < c->admin.n_subjects; i++)
		free(c->admin.subjects[i]);
	free(c->audit_file);
	free(c);
}

static int resolve_path(const char *base_dir, const char *p, char **out)
{
	int n;

	if (p[0] == '/' || !base_dir) {
		*out = strdup(p);
		return *out ? 0 : -ENOMEM;
	}
	n = asprintf(out, "%s/%s", base_dir, p);
	return n < 0 ? -ENOMEM : 0;
}

static int set_path(const char *dir, const char *p, char **out)
{
	return p ? resolve_path(dir, p, out) : 0;
}

/* https://, or plain http to the loopback address only (a test PCCS): "http://127.0.0.1" must be
 * followed by an optional port and the path, so that no other host ("127.0.0.1.example.com",
 * "127.0.0.1@example.com") passes as loopback. */
static bool pccs_url_ok(const char *s)
{
	static const char loopback[] = "http://127.0.0.1";
	const char *p;

	if (!strncmp(s, "https://", 8))
		return s[8] != '\0' && s[8] != '/';
	if (strncmp(s, loopback, strlen(loopback)) != 0)
		return false;
	p = s + strlen(loopback);
	if (*p == ':') {
		const char *digits = ++p;

		while (*p >= '0' && *p <= '9')
			p++;
		if (p == digits)
			return false;
	}
	return *p == '\0' || *p == '/';
}

/* Reads the object NAME of keyd.json by table; a refusal names it as "FILE: 'NAME'". */
static int read_object(const char *file, const char *name, struct json_object *o,
		       const struct json_field *fields, size_t n_fields)
{
	char what[300];

	snprintf(what, sizeof(what), "%s: '%s'", file, name);
	return json_strict_fields(o, what, fields, n_fields, NULL, 0);
}

/* A "listen" object (address, port) of keyd.json: the public and the admin endpoint's. */
static int read_listen(const char *file, const char *name, struct json_object *o,
		       char **address_out, uint16_t *port_out)
{
	const char *address = NULL;
	uint32_t port = 0;
	const struct json_field fields[] = {
		JSON_STRING("address", true, 1, 255, &address),
		JSON_U32("port", true, 0, 65535, &port),
	};
	int r = read_object(file, name, o, fields, ARRAY_SIZE(fields));

	if (r < 0)
		return r;
	*port_out = (uint16_t)port;
	*address_out = strdup(address);
	return *address_out ? 0 : -ENOMEM;
}

static int load_admin(const char *file, const char *dir, struct json_object *o,
		      struct keyd_admin *a)
{
	struct json_object *listen = NULL, *pins = NULL, *subjects = NULL;
	const char *ca = NULL;
	int r;
	const struct json_field fields[] = {
		JSON_OBJECT("listen", true, &listen),
		JSON_ARRAY("client_spki_sha256", false, 1, KEYD_ADMIN_MAX_CLIENTS, &pins),
		JSON_STRING("client_ca", false, 1, PATH_MAX, &ca),
		JSON_ARRAY("client_subjects", false, 1, KEYD_ADMIN_MAX_CLIENTS, &subjects),
	};

	if (!o)
		return 0;
	r = read_object(file, "admin", o, fields, ARRAY_SIZE(fields));
	if (r == 0)
		r = read_listen(file, "admin.listen", listen, &a->address, &a->port);
	if (r < 0)
		return r;
	/* An admin endpoint that lets nobody in is a mistake; one that lets anyone in, worse. */
	if (!pins && !(ca && subjects))
		return log_error_errno(-EINVAL,
				       "%s: 'admin' needs client_spki_sha256, or client_ca with "
				       "client_subjects",
				       file);
	if (!!ca != !!subjects)
		return log_error_errno(
			-EINVAL, "%s: 'admin': client_ca and client_subjects go together", file);
	r = set_path(dir, ca, &a->client_ca);
	if (r < 0)
		return r;
	for (size_t i = 0; pins && i < json_object_array_length(pins); i++) {
		struct json_object *e = json_object_array_get_idx(pins, i);
		const char *hex =
			json_object_is_type(e, json_type_string) ? json_object_get_string(e) : NULL;

		if (!hex || strlen(hex) != 64 || hex_decode_exact(hex, 64, a->pins[i], 32) < 0)
			return log_error_errno(-EINVAL,
					       "%s: 'admin.client_spki_sha256'[%zu] is not 64 hex "
					       "digits",
					       file, i);
		a->n_pins++;
	}
	for (size_t i = 0; subjects && i < json_object_array_length(subjects); i++) {
		struct json_object *e = json_object_array_get_idx(subjects, i);

		if (!json_object_is_type(e, json_type_string) || !json_object_get_string_len(e))
			return log_error_errno(-EINVAL,
					       "%s: 'admin.client_subjects'[%zu] is not a subject "
					       "string",
					       file, i);
		a->subjects[i] = strdup(json_object_get_string(e));
		if (!a->subjects[i])
			return -ENOMEM;
		a->n_subjects++;
	}
	return 0;
}

static int load_proxy(const char *file, struct json_object *o, struct keyd_proxy *p)
{
	struct json_object *from = NULL;
	int r;
	const struct json_field fields[] = {
		JSON_ARRAY("from", true, 1, KEYD_PROXY_MAX_FROM, &from),
		JSON_BOOL("v1", false, &p->v1),
	};

	if (!o)
		return 0;
	r = read_object(file, "proxy_protocol", o, fields, ARRAY_SIZE(fields));
	if (r < 0)
		return r;
	for (size_t i = 0; i < json_object_array_length(from); i++) {
		struct json_object *e = json_object_array_get_idx(from, i);
		const char *a =
			json_object_is_type(e, json_type_string) ? json_object_get_string(e) : "";

		if (inet_pton(AF_INET, a, p->from[i].addr) == 1)
			p->from[i].family = AF_INET;
		else if (inet_pton(AF_INET6, a, p->from[i].addr) == 1)
			p->from[i].family = AF_INET6;
		else
			return log_error_errno(-EINVAL,
					       "%s: 'proxy_protocol.from'[%zu] is not a numeric "
					       "IPv4 or IPv6 address",
					       file, i);
		p->n_from++;
	}
	return 0;
}

static int load_limits(const char *file, struct json_object *o, struct keyd_limits *l)
{
	const struct json_field fields[] = {
		JSON_U64("max_body_bytes", false, 1024, 16 * 1024 * 1024, &l->max_body_bytes),
		JSON_U64("max_header_bytes", false, 1024, 1024 * 1024, &l->max_header_bytes),
		JSON_U32("max_connections", false, 1, 1000000, &l->max_connections),
		JSON_U32("request_timeout_ms", false, 100, 600000, &l->request_timeout_ms),
		JSON_U32("max_sessions", false, 1, 1000000, &l->max_sessions),
		JSON_U32("session_lifetime_s", false, 1, 3600, &l->session_lifetime_s),
		JSON_U32("auth_rate_per_s", false, 1, 1000000, &l->auth_rate_per_s),
		JSON_U32("auth_burst", false, 1, 1000000, &l->auth_burst),
		JSON_U32("auth_audit_interval_s", false, 1, 3600, &l->auth_audit_interval_s),
	};

	l->max_body_bytes = 64 * 1024;
	l->max_header_bytes = 8 * 1024;
	l->max_connections = 4096;
	l->request_timeout_ms = 10000;
	l->max_sessions = 100000;
	l->session_lifetime_s = 300;
	l->auth_rate_per_s = 50;
	l->auth_burst = 200;
	l->auth_audit_interval_s = 10;
	if (!o)
		return 0;
	return read_object(file, "limits", o, fields, ARRAY_SIZE(fields));
}

int keyd_config_load(const char *path, struct keyd_config **out)
{
	struct json_object *root = NULL, *listen = NULL, *tls = NULL, *limits = NULL, *admin = NULL,
			   *proxy = NULL;
	const char *cert = NULL, *key = NULL, *test_root_ca = NULL, *policy_dir = NULL,
		   *collateral_dir = NULL, *root_key_file = NULL, *audit_file = NULL,
		   *pccs_url = NULL, *root_key_pkcs11 = NULL;
	struct keyd_config *c = NULL;
	_cleanup_free_ char *pathcopy = NULL;
	const char *dir;
	int r;

	pathcopy = strdup(path);
	c = calloc(1, sizeof(*c));
	if (!pathcopy || !c) {
		r = -ENOMEM; /* NOLINT(clang-analyzer-unix.Malloc): pathcopy is _cleanup_free_ */
		goto out;
	}
	c->path = strdup(path);
	if (!c->path) {
		r = -ENOMEM;
		goto out;
	}
	dir = dirname(pathcopy);
	c->pccs_refresh_s = 3600;

	r = json_strict_load_file(path, CONFIG_MAX_BYTES, &root);
	if (r < 0)
		goto out;
	{
		const struct json_field top[] = {
			JSON_OBJECT("listen", true, &listen),
			JSON_OBJECT("tls", true, &tls),
			JSON_STRING("test_root_ca", false, 1, PATH_MAX, &test_root_ca),
			JSON_STRING("policy_dir", true, 1, PATH_MAX, &policy_dir),
			JSON_STRING("collateral_dir", true, 1, PATH_MAX, &collateral_dir),
			JSON_STRING("pccs_url", false, 1, 2048, &pccs_url),
			JSON_STRING("root_key_file", false, 1, PATH_MAX, &root_key_file),
			JSON_STRING("root_key_pkcs11", false, 1, PKCS11_URI_MAX, &root_key_pkcs11),
			JSON_STRING("audit_file", false, 1, PATH_MAX, &audit_file),
			JSON_U32("workers", false, 0, 64, &c->workers),
			JSON_U32("pccs_refresh_s", false, 60, 7 * 86400, &c->pccs_refresh_s),
			JSON_OBJECT("limits", false, &limits),
			JSON_OBJECT("admin", false, &admin),
			JSON_OBJECT("proxy_protocol", false, &proxy),
		};
		const struct json_field tls_fields[] = {
			JSON_STRING("certificate", true, 1, PATH_MAX, &cert),
			JSON_STRING("private_key", true, 1, PATH_MAX, &key),
		};

		r = json_strict_fields(root, path, top, ARRAY_SIZE(top), NULL, 0);
		if (r < 0)
			goto out;
		r = read_listen(path, "listen", listen, &c->listen_address, &c->listen_port);
		if (r < 0)
			goto out;
		r = read_object(path, "tls", tls, tls_fields, ARRAY_SIZE(tls_fields));
		if (r < 0)
			goto out;
	}
	if ((r = set_path(dir, cert, &c->tls_cert)) < 0 ||
	    (r = set_path(dir, key, &c->tls_key)) < 0 ||
	    (r = set_path(dir, test_root_ca, &c->test_root_ca)) < 0 ||
	    (r = set_path(dir, policy_dir, &c->policy_dir)) < 0 ||
	    (r = set_path(dir, collateral_dir, &c->collateral_dir)) < 0 ||
	    (r = set_path(dir, root_key_file, &c->root_key_file)) < 0 ||
	    (r = set_path(dir, audit_file, &c->audit_file)) < 0)
		goto out;
	if (!root_key_file == !root_key_pkcs11) {
		r = log_error_errno(-EINVAL,
				    "%s: exactly one of 'root_key_file' and 'root_key_pkcs11' is "
				    "required",
				    path);
		goto out;
	}
	if (root_key_pkcs11) {
		struct pkcs11_uri u;
		char reason[256];

		r = pkcs11_uri_parse(root_key_pkcs11, &u, reason, sizeof(reason));
		pkcs11_uri_done(&u);
		if (r < 0) {
			log_error("%s: field 'root_key_pkcs11': %s", path, reason);
			goto out;
		}
		c->root_key_pkcs11 = strdup(root_key_pkcs11);
		if (!c->root_key_pkcs11) {
			r = -ENOMEM;
			goto out;
		}
	}
	if (pccs_url) {
		if (!pccs_url_ok(pccs_url)) {
			r = log_error_errno(
				-EINVAL,
				"%s: field 'pccs_url' must be https:// (or http://127.0.0.1 "
				"for tests)",
				path);
			goto out;
		}
		c->pccs_url = strdup(pccs_url);
		if (!c->pccs_url) {
			r = -ENOMEM;
			goto out;
		}
	}
	r = load_limits(path, limits, &c->limits);
	if (r < 0)
		goto out;
	r = load_admin(path, dir, admin, &c->admin);
	if (r < 0)
		goto out;
	r = load_proxy(path, proxy, &c->proxy);
	if (r < 0)
		goto out;
	*out = TAKE_PTR(c);
	r = 0;
out:
	json_object_put(root);
	keyd_config_free(c);
	return r;
}
