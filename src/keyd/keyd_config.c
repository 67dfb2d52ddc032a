#define _GNU_SOURCE
#include "keyd_config.h"

#include <errno.h>
#include <json-c/json.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "keyd_json.h"
#include "log.h"

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

static int get_path(const char *file, const char *dir, struct json_object *o, const char *key,
		    bool required, char **out)
{
	const char *s;
	int r = keyd_json_get_string(file, o, key, required, &s);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	return resolve_path(dir, s, out);
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

static int load_limits(const char *file, struct json_object *root, struct keyd_limits *l)
{
	static const char *const keys[] = {"max_body_bytes",
					   "max_header_bytes",
					   "max_connections",
					   "request_timeout_ms",
					   "max_sessions",
					   "session_lifetime_s",
					   NULL};
	struct json_object *o;
	uint64_t v;
	int r;

	l->max_body_bytes = 64 * 1024;
	l->max_header_bytes = 8 * 1024;
	l->max_connections = 4096;
	l->request_timeout_ms = 10000;
	l->max_sessions = 100000;
	l->session_lifetime_s = 300;

	r = keyd_json_get_object(file, root, "limits", false, &o);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	r = keyd_json_check_keys(file, "'limits'", o, keys);
	if (r < 0)
		return r;
#define LIMIT(name, lo, hi)                                               \
	do {                                                              \
		r = keyd_json_get_u64(file, o, #name, false, lo, hi, &v); \
		if (r == 0)                                               \
			l->name = v;                                      \
		else if (r != -ENOENT)                                    \
			return r;                                         \
	} while (0)
	LIMIT(max_body_bytes, 1024, 16 * 1024 * 1024);
	LIMIT(max_header_bytes, 1024, 1024 * 1024);
	LIMIT(max_connections, 1, 1000000);
	LIMIT(request_timeout_ms, 100, 600000);
	LIMIT(max_sessions, 1, 1000000);
	LIMIT(session_lifetime_s, 1, 3600);
#undef LIMIT
	return 0;
}

int keyd_config_load(const char *path, struct keyd_config **out)
{
	static const char *const keys[] = {"listen",	     "tls",
					   "test_root_ca",   "policy_dir",
					   "collateral_dir", "pccs_url",
					   "root_key_file",  "audit_file",
					   "workers",	     "pccs_refresh_s",
					   "limits",	     NULL};
	static const char *const listen_keys[] = {"address", "port", NULL};
	static const char *const tls_keys[] = {"certificate", "private_key", NULL};
	struct json_object *root = NULL, *o;
	struct keyd_config *c = NULL;
	_cleanup_free_ char *pathcopy = NULL;
	const char *dir, *s;
	uint64_t v;
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

	r = keyd_json_load_file(path, CONFIG_MAX_BYTES, &root);
	if (r < 0)
		goto out;
	r = keyd_json_check_keys(path, "the top level", root, keys);
	if (r < 0)
		goto out;

	r = keyd_json_get_object(path, root, "listen", true, &o);
	if (r < 0)
		goto out;
	r = keyd_json_check_keys(path, "'listen'", o, listen_keys);
	if (r < 0)
		goto out;
	r = keyd_json_get_string(path, o, "address", true, &s);
	if (r < 0)
		goto out;
	c->listen_address = strdup(s);
	r = keyd_json_get_u64(path, o, "port", true, 0, 65535, &v);
	if (r < 0)
		goto out;
	c->listen_port = (uint16_t)v;

	r = keyd_json_get_object(path, root, "tls", true, &o);
	if (r < 0)
		goto out;
	r = keyd_json_check_keys(path, "'tls'", o, tls_keys);
	if (r < 0)
		goto out;
	if ((r = get_path(path, dir, o, "certificate", true, &c->tls_cert)) < 0 ||
	    (r = get_path(path, dir, o, "private_key", true, &c->tls_key)) < 0)
		goto out;

	if ((r = get_path(path, dir, root, "test_root_ca", false, &c->test_root_ca)) < 0 ||
	    (r = get_path(path, dir, root, "policy_dir", true, &c->policy_dir)) < 0 ||
	    (r = get_path(path, dir, root, "collateral_dir", true, &c->collateral_dir)) < 0 ||
	    (r = get_path(path, dir, root, "root_key_file", true, &c->root_key_file)) < 0 ||
	    (r = get_path(path, dir, root, "audit_file", false, &c->audit_file)) < 0)
		goto out;

	r = keyd_json_get_string(path, root, "pccs_url", false, &s);
	if (r == 0) {
		if (!pccs_url_ok(s)) {
			r = log_error_errno(
				-EINVAL,
				"%s: field 'pccs_url' must be https:// (or http://127.0.0.1 "
				"for tests)",
				path);
			goto out;
		}
		c->pccs_url = strdup(s);
	} else if (r != -ENOENT) {
		goto out;
	}

	c->pccs_refresh_s = 3600;
	r = keyd_json_get_u64(path, root, "pccs_refresh_s", false, 60, 7 * 86400, &v);
	if (r == 0)
		c->pccs_refresh_s = (unsigned)v;
	else if (r != -ENOENT)
		goto out;

	r = keyd_json_get_u64(path, root, "workers", false, 0, 64, &v);
	if (r == 0)
		c->workers = (unsigned)v;
	else if (r != -ENOENT)
		goto out;

	r = load_limits(path, root, &c->limits);
	if (r < 0)
		goto out;
	if (!c->listen_address) {
		r = -ENOMEM;
		goto out;
	}
	*out = TAKE_PTR(c);
	r = 0;
out:
	json_object_put(root);
	keyd_config_free(c);
	return r;
}
