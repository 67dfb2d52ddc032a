#include "pkcs11_uri.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hexutil.h"
#include "log.h"
#include "secmem.h"

#define URI_SCHEME "pkcs11:"

#define refuse(reason, reason_len, ...) \
	log_refusal(LOG_LVL_DEBUG, -EINVAL, "pkcs11 URI: ", reason, reason_len, __VA_ARGS__)

static bool is_unreserved(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

/* RFC 7512 pk11-path-res-avail / pk11-query-res-avail (without the delimiter of each). */
static bool is_value_char(char c, bool query)
{
	if (is_unreserved(c) || strchr(":[]@!$'()*+,=", c))
		return c != '\0';
	return query ? (c == '/' || c == '?' || c == '|' || c == ';') : c == '&';
}

/* Percent-decodes value[0..len) into a new buffer (NUL-terminated, *out_len without it); secret
 * values go to secure memory. */
static int decode(const char *name, const char *v, size_t len, bool query, bool secret, char **out,
		  size_t *out_len, char *reason, size_t reason_len)
{
	char *d;
	size_t n = 0;

	if (len == 0)
		return refuse(reason, reason_len, "attribute '%s' is empty", name);
	d = secret ? secmem_alloc(len + 1) : malloc(len + 1);
	if (!d)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		if (v[i] == '%') {
			int hi = i + 2 < len ? hex_nibble(v[i + 1]) : -1;
			int lo = hi >= 0 ? hex_nibble(v[i + 2]) : -1;

			if (lo < 0 || (hi == 0 && lo == 0)) {
				if (secret)
					secmem_free(d);
				else
					free(d);
				return refuse(reason, reason_len,
					      "attribute '%s' has a bad or NUL percent escape",
					      name);
			}
			d[n++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (is_value_char(v[i], query)) {
			d[n++] = v[i];
		} else {
			if (secret)
				secmem_free(d);
			else
				free(d);
			return refuse(reason, reason_len,
				      "attribute '%s' contains a character that must be "
				      "percent-encoded",
				      name);
		}
	}
	d[n] = '\0';
	*out = d;
	*out_len = n;
	return 0;
}

struct attr {
	const char *name;
	bool query;
	size_t offset; /* of the char * in struct pkcs11_uri; SIZE_MAX = id */
};

#define FIELD(f) offsetof(struct pkcs11_uri, f)
static const struct attr attrs[] = {
	{"token", false, FIELD(token)},
	{"manufacturer", false, FIELD(manufacturer)},
	{"serial", false, FIELD(serial)},
	{"model", false, FIELD(model)},
	{"object", false, FIELD(object)},
	{"id", false, FIELD(id)},
	{"type", false, 0},
	{"module-path", true, FIELD(module_path)},
	{"pin-source", true, FIELD(pin_source)},
	{"pin-value", true, FIELD(pin_value)},
};
#undef FIELD

static int parse_attr(struct pkcs11_uri *u, const char *s, size_t len, bool query, bool *seen_type,
		      char *reason, size_t reason_len)
{
	const char *eq = memchr(s, '=', len);
	size_t name_len = eq ? (size_t)(eq - s) : len, vlen, dlen;
	const struct attr *a = NULL;
	char name[32], *val = NULL;
	int r;

	if (!eq || name_len == 0 || name_len >= sizeof(name))
		return refuse(reason, reason_len, "'%.*s' is not attribute=value",
			      (int)(len > 40 ? 40 : len), s);
	memcpy(name, s, name_len);
	name[name_len] = '\0';
	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
		if (!strcmp(attrs[i].name, name))
			a = &attrs[i];
	if (!a) {
		for (size_t i = 0; i < name_len; i++)
			if (!is_unreserved(name[i]))
				return refuse(reason, reason_len, "malformed attribute name");
		return refuse(reason, reason_len, "attribute '%s' is not supported", name);
	}
	if (a->query != query)
		return refuse(reason, reason_len, "attribute '%s' belongs in the %s", name,
			      a->query ? "query (after '?')" : "path (before '?')");
	vlen = len - name_len - 1;
	if (!strcmp(name, "type")) {
		if (*seen_type)
			return refuse(reason, reason_len, "attribute 'type' given twice");
		*seen_type = true;
		if (vlen != strlen("secret-key") || memcmp(eq + 1, "secret-key", vlen) != 0)
			return refuse(reason, reason_len,
				      "attribute 'type' must be secret-key (the root key is a "
				      "generic secret)");
		return 0;
	}
	if (!strcmp(name, "id")) {
		if (u->id)
			return refuse(reason, reason_len, "attribute 'id' given twice");
		r = decode(name, eq + 1, vlen, false, false, &val, &dlen, reason, reason_len);
		if (r < 0)
			return r;
		u->id = (uint8_t *)val;
		u->id_len = dlen;
		return 0;
	}
	{
		char **field = (char **)((char *)u + a->offset);
		bool secret = !strcmp(name, "pin-value");

		if (*field)
			return refuse(reason, reason_len, "attribute '%s' given twice", name);
		r = decode(name, eq + 1, vlen, query, secret, &val, &dlen, reason, reason_len);
		if (r < 0)
			return r;
		*field = val;
		if (strlen(val) != dlen)
			return refuse(reason, reason_len, "attribute '%s' contains NUL", name);
		if (secret && dlen > PKCS11_URI_PIN_MAX)
			return refuse(reason, reason_len, "pin-value longer than %d bytes",
				      PKCS11_URI_PIN_MAX);
	}
	return 0;
}

static int parse_component(struct pkcs11_uri *u, const char *s, size_t len, bool query,
			   bool *seen_type, char *reason, size_t reason_len)
{
	const char delim = query ? '&' : ';';
	size_t i = 0;

	while (i <= len) {
		const char *e = memchr(s + i, delim, len - i);
		size_t alen = e ? (size_t)(e - (s + i)) : len - i;
		int r;

		if (alen == 0)
			return refuse(reason, reason_len, "empty attribute in the %s",
				      query ? "query" : "path");
		r = parse_attr(u, s + i, alen, query, seen_type, reason, reason_len);
		if (r < 0)
			return r;
		i += alen + 1;
	}
	return 0;
}

int pkcs11_uri_parse(const char *uri, struct pkcs11_uri *out, char *reason, size_t reason_len)
{
	const char *path, *q;
	size_t len, plen;
	bool seen_type = false;
	int r;

	memset(out, 0, sizeof(*out));
	if (reason_len)
		reason[0] = '\0';
	len = strnlen(uri, PKCS11_URI_MAX + 1);
	if (len > PKCS11_URI_MAX)
		return refuse(reason, reason_len, "longer than %d bytes", PKCS11_URI_MAX);
	if (strncmp(uri, URI_SCHEME, strlen(URI_SCHEME)) != 0)
		return refuse(reason, reason_len, "does not start with 'pkcs11:'");
	path = uri + strlen(URI_SCHEME);
	q = strchr(path, '?');
	plen = q ? (size_t)(q - path) : strlen(path);
	if (plen == 0)
		return refuse(reason, reason_len, "no path attributes (token=...;object=...)");
	r = parse_component(out, path, plen, false, &seen_type, reason, reason_len);
	if (r == 0 && q)
		r = parse_component(out, q + 1, strlen(q + 1), true, &seen_type, reason,
				    reason_len);
	if (r == 0 && !out->object)
		r = refuse(reason, reason_len, "attribute 'object' (the key's label) is required");
	if (r == 0 && !out->module_path)
		r = refuse(reason, reason_len,
			   "query attribute 'module-path' (the PKCS#11 module) is required");
	if (r == 0 && out->module_path && out->module_path[0] != '/')
		r = refuse(reason, reason_len, "module-path must be an absolute path");
	if (r == 0 && out->pin_source && out->pin_value)
		r = refuse(reason, reason_len, "pin-source and pin-value are exclusive");
	if (r == 0 && out->pin_source) {
		const char *p = out->pin_source;

		if (!strncmp(p, "file:", 5))
			p += 5;
		if (p[0] != '/')
			r = refuse(reason, reason_len,
				   "pin-source must be a file: URI or an absolute path");
	}
	if (r < 0)
		pkcs11_uri_done(out);
	return r;
}

void pkcs11_uri_done(struct pkcs11_uri *u)
{
	free(u->token);
	free(u->manufacturer);
	free(u->serial);
	free(u->model);
	free(u->object);
	free(u->id);
	free(u->module_path);
	free(u->pin_source);
	secmem_free(u->pin_value);
	memset(u, 0, sizeof(*u));
}

int pkcs11_uri_pin(const struct pkcs11_uri *u, char **pin)
{
	const char *path;
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	int fd, r = 0;

	*pin = NULL;
	if (u->pin_value) {
		*pin = secmem_dup(u->pin_value, strlen(u->pin_value) + 1);
		return *pin ? 0 : -ENOMEM;
	}
	if (!u->pin_source)
		return 0;
	path = !strncmp(u->pin_source, "file:", 5) ? u->pin_source + 5 : u->pin_source;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	if (fd < 0)
		return log_error_errno(-errno, "pkcs11: cannot open pin-source %s: %m", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = log_error_errno(-EINVAL, "pkcs11: pin-source %s is not a regular file", path);
		goto out;
	}
	if (st.st_mode & 0007) {
		r = log_error_errno(-EPERM,
				    "pkcs11: pin-source %s is readable by other users (mode %04o)",
				    path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	buf = secmem_alloc(PKCS11_URI_PIN_MAX + 2);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	do {
		n = read(fd, buf, PKCS11_URI_PIN_MAX + 1);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		r = log_error_errno(-errno, "pkcs11: cannot read pin-source %s: %m", path);
		goto out;
	}
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	buf[n] = '\0';
	if (n == 0 || n > PKCS11_URI_PIN_MAX || strlen(buf) != (size_t)n) {
		r = log_error_errno(-EINVAL,
				    "pkcs11: pin-source %s must hold one PIN of 1..%d bytes", path,
				    PKCS11_URI_PIN_MAX);
		goto out;
	}
	*pin = buf;
	buf = NULL;
out:
	secmem_free(buf);
	close(fd);
	return r;
}
