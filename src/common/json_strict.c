#include "json_strict.h"

#include "b64.h"
#include "cleanup.h"
#include "fileio.h"
#include "hexutil.h"
#include "log.h"
#include "utf8.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

/* Value of the 4 hex digits at text[i], or 0x10000 when there are not 4 of them. */
static unsigned hex4(const char *text, size_t len, size_t i)
{
	unsigned v = 0;
	size_t k;

	if (i + 4 > len)
		return 0x10000;
	for (k = i; k < i + 4; k++) {
		int d = hex_nibble(text[k]);

		if (d < 0)
			return 0x10000;
		v = v << 4 | (unsigned)d;
	}
	return v;
}

/* Number of object members in the text: in valid JSON every ':' outside a string literal
 * separates a member name from its value. The scan also refuses what json-c's strict mode still
 * lets through but RFC 8259 forbids: raw control characters in strings (-1), and single-quoted
 * strings, NaN/Infinity and "1." (-2), lone UTF-16 surrogate escapes (-3); a single quote would
 * also hide colons from this count. */
static ssize_t count_members_in_text(const char *text, size_t len)
{
	size_t i, n = 0;
	int in_string = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (in_string) {
			if (c < 0x20)
				return -1;
			if (c == '\\' && i + 1 < len && text[i + 1] == 'u') {
				/* json-c turns a lone surrogate into U+FFFD: refuse, not guess. */
				unsigned u = hex4(text, len, i + 2);

				if (u >= 0xdc00 && u <= 0xdfff)
					return -3;
				if (u >= 0xd800 && u <= 0xdbff) {
					unsigned lo = i + 7 < len && text[i + 6] == '\\' &&
								      text[i + 7] == 'u'
							      ? hex4(text, len, i + 8)
							      : 0;

					if (lo < 0xdc00 || lo > 0xdfff)
						return -3;
					i += 6;
				}
				i += 5;
			} else if (c == '\\') {
				i++; /* the escaped character cannot end the string */
			} else if (c == '"')
				in_string = 0;
		} else if (c == '"') {
			in_string = 1;
		} else if (c == ':') {
			n++;
		} else if (!strchr(" \t\r\n{}[],0123456789+-.eEtrufalsn", c) ||
			   (c == '.' && (i + 1 >= len || text[i + 1] < '0' || text[i + 1] > '9'))) {
			return -2;
		}
	}
	return (ssize_t)n;
}

/* Counts the members json-c kept (a duplicate key replaces the earlier one, so fewer) and checks
 * that every name and string is valid UTF-8 after unescaping (json-c decodes a lone "\ud800"
 * and lets some invalid sequences through). Returns the count or -1. */
static ssize_t check_tree(struct json_object *v)
{
	size_t n = 0, i, len;
	ssize_t sub;

	switch (json_object_get_type(v)) {
	case json_type_string:
		return utf8_valid((const uint8_t *)json_object_get_string(v),
				  (size_t)json_object_get_string_len(v))
			       ? 0
			       : -1;
	case json_type_object: {
		json_object_object_foreach (v, key, child) {
			if (!utf8_valid((const uint8_t *)key, strlen(key)))
				return -1;
			sub = check_tree(child);
			if (sub < 0)
				return -1;
			n += 1 + (size_t)sub;
		}
		return (ssize_t)n;
	}
	case json_type_array:
		len = json_object_array_length(v);
		for (i = 0; i < len; i++) {
			sub = check_tree(json_object_array_get_idx(v, i));
			if (sub < 0)
				return -1;
			n += (size_t)sub;
		}
		return (ssize_t)n;
	default:
		return 0;
	}
}

static void json_tokener_freep(struct json_tokener **tok)
{
	if (*tok)
		json_tokener_free(*tok);
}

/* Formats a refusal into reason without logging it: the caller logs it once, with context. */
static int parse_refuse(char *reason, size_t reason_len, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int parse_refuse(char *reason, size_t reason_len, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, reason_len, fmt, ap);
	va_end(ap);
	return r;
}

static int parse_quiet(const char *text, size_t len, size_t max_len, struct json_object **out,
		       char *reason, size_t reason_len)
{
	_cleanup_(json_tokener_freep) struct json_tokener *tok = NULL;
	_cleanup_(json_object_putp) struct json_object *v = NULL;
	enum json_tokener_error jerr;
	ssize_t in_text, in_tree;
	size_t end;

	if (len > max_len)
		return parse_refuse(reason, reason_len, -EMSGSIZE,
				    "JSON text is %zu bytes, at most %zu accepted", len, max_len);
	if (len == 0)
		return parse_refuse(reason, reason_len, -EINVAL, "JSON text is empty");
	if (len >= INT_MAX)
		return parse_refuse(reason, reason_len, -EMSGSIZE, "JSON text is too large");
	if (memchr(text, '\0', len))
		return parse_refuse(reason, reason_len, -EINVAL, "JSON text contains a NUL byte");

	tok = json_tokener_new_ex(JSON_STRICT_MAX_DEPTH);
	if (!tok)
		return log_error_errno(-ENOMEM, "JSON: out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);

	v = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (!v && jerr == json_tokener_continue) {
		/* A top-level number, or truncated text: the terminator decides. */
		v = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		end = len;
	}
	if (!v && jerr == json_tokener_success)
		jerr = json_tokener_error_parse_null; /* a bare "null" is never a message */
	if (jerr != json_tokener_success)
		return parse_refuse(reason, reason_len, -EINVAL, "malformed JSON at offset %zu: %s",
				    end, json_tokener_error_desc(jerr));

	for (; end < len; end++) {
		if (!strchr(" \t\r\n", text[end]))
			return parse_refuse(reason, reason_len, -EINVAL,
					    "trailing bytes after the JSON value at offset %zu",
					    end);
	}

	in_text = count_members_in_text(text, len);
	if (in_text == -1)
		return parse_refuse(reason, reason_len, -EINVAL,
				    "JSON string contains a raw control character");
	if (in_text == -3)
		return parse_refuse(reason, reason_len, -EINVAL,
				    "JSON string is not valid UTF-8 (lone surrogate escape)");
	if (in_text < 0)
		return parse_refuse(reason, reason_len, -EINVAL,
				    "malformed JSON: single quotes, NaN/Infinity or a bare "
				    "decimal point");
	in_tree = check_tree(v);
	if (in_tree < 0)
		return parse_refuse(reason, reason_len, -EINVAL, "JSON string is not valid UTF-8");
	if (in_tree != in_text)
		return parse_refuse(reason, reason_len, -EINVAL,
				    "JSON object has a duplicate member name");

	*out = TAKE_PTR(v);
	return 0;
}

int json_strict_parse(const char *text, size_t len, size_t max_len, struct json_object **out,
		      char *reason, size_t reason_len)
{
	char why[256] = "";
	int r;

	r = parse_quiet(text, len, max_len, out, why, sizeof(why));
	if (r < 0)
		return json_strict_fail(reason, reason_len, r, "%s", why);
	return 0;
}

int json_strict_get_b64url_exact(struct json_object *obj, const char *what, const char *key,
				 uint8_t *out, size_t len, char *reason, size_t reason_len)
{
	const char *s;
	int r;

	r = json_strict_get_string(obj, what, key, 64, &s, reason, reason_len);
	if (r < 0)
		return r;
	/* s is set when r >= 0, which the analyzer cannot tell from json_strict_fail(). */
	/* NOLINTNEXTLINE(clang-analyzer-core.CallAndMessage) */
	if (b64_decode_exact(B64_URL, s, strlen(s), out, len) < 0)
		return json_strict_fail(reason, reason_len, -EINVAL,
					"%s: '%s' is not base64url of exactly %zu bytes", what, key,
					len);
	return 0;
}

int json_strict_only_members(struct json_object *obj, const char *what, const char *const *allowed,
			     char *reason, size_t reason_len)
{
	json_object_object_foreach (obj, key, val) {
		const char *const *a;

		(void)val;
		for (a = allowed; *a; a++)
			if (strcmp(*a, key) == 0)
				break;
		if (!*a)
			return json_strict_fail(reason, reason_len, -EINVAL,
						"%s: unexpected member '%.64s'", what, key);
	}
	return 0;
}

int json_strict_load_file(const char *path, size_t max_len, struct json_object **out)
{
	_cleanup_free_ uint8_t *buf = NULL;
	struct json_object *v = NULL;
	char why[256] = "";
	size_t len;
	int r;

	r = file_read_all(path, max_len, &buf, &len);
	if (r < 0)
		return r; /* logged by file_read_all() */
	/* Quiet parse: the refusal is logged once below, with the file's name. */
	r = parse_quiet((const char *)buf, len, max_len, &v, why, sizeof(why));
	if (r < 0)
		return log_error_errno(r, "%s: %s", path, why);
	if (!json_object_is_type(v, json_type_object)) {
		json_object_put(v);
		return log_error_errno(-EINVAL, "%s: top level is not a JSON object", path);
	}
	*out = v;
	return 0;
}

static const struct json_field *field_find(const struct json_field *fields, size_t n,
					   const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (fields[i].type == JSON_FIELD_OTHERS || !strcmp(fields[i].key, key))
			return &fields[i];
	return NULL;
}

static const char *const field_type_names[] = {
	[JSON_FIELD_STRING] = "a string",  [JSON_FIELD_U64] = "an integer",
	[JSON_FIELD_U32] = "an integer",   [JSON_FIELD_BOOL] = "a boolean",
	[JSON_FIELD_OBJECT] = "an object", [JSON_FIELD_ARRAY] = "an array",
};

static const enum json_type field_json_types[] = {
	[JSON_FIELD_STRING] = json_type_string, [JSON_FIELD_U64] = json_type_int,
	[JSON_FIELD_U32] = json_type_int,	[JSON_FIELD_BOOL] = json_type_boolean,
	[JSON_FIELD_OBJECT] = json_type_object, [JSON_FIELD_ARRAY] = json_type_array,
};

static int field_store(const struct json_field *f, struct json_object *v, const char *what,
		       char *reason, size_t reason_len)
{
	const char *s;
	int64_t i;
	size_t n;

	if (!json_object_is_type(v, field_json_types[f->type]))
		return json_strict_fail(reason, reason_len, -EINVAL, "%s: '%s' is not %s", what,
					f->key, field_type_names[f->type]);
	switch (f->type) {
	case JSON_FIELD_STRING:
		s = json_object_get_string(v);
		n = (size_t)json_object_get_string_len(v);
		if (strlen(s) != n)
			return json_strict_fail(reason, reason_len, -EINVAL,
						"%s: '%s' contains a NUL character", what, f->key);
		if (n < f->min || n > f->max)
			return json_strict_fail(reason, reason_len, -EINVAL,
						"%s: '%s' is %zu characters, %llu to at most %llu "
						"accepted",
						what, f->key, n, (unsigned long long)f->min,
						(unsigned long long)f->max);
		*(const char **)f->out = s;
		return 0;
	case JSON_FIELD_U64:
	case JSON_FIELD_U32:
		i = json_object_get_int64(v);
		if (i < 0 || (uint64_t)i < f->min || (uint64_t)i > f->max ||
		    (f->type == JSON_FIELD_U32 && (uint64_t)i > UINT32_MAX))
			return json_strict_fail(reason, reason_len, -ERANGE,
						"%s: '%s' must be in [%llu, %llu]", what, f->key,
						(unsigned long long)f->min,
						(unsigned long long)f->max);
		if (f->type == JSON_FIELD_U64)
			*(uint64_t *)f->out = (uint64_t)i;
		else
			*(uint32_t *)f->out = (uint32_t)i;
		return 0;
	case JSON_FIELD_BOOL:
		*(bool *)f->out = json_object_get_boolean(v);
		return 0;
	case JSON_FIELD_ARRAY:
		n = json_object_array_length(v);
		if (n < f->min || n > f->max)
			return json_strict_fail(reason, reason_len, -EINVAL,
						"%s: '%s' must hold %llu to %llu entries", what,
						f->key, (unsigned long long)f->min,
						(unsigned long long)f->max);
		*(struct json_object **)f->out = v;
		return 0;
	case JSON_FIELD_OBJECT:
		*(struct json_object **)f->out = v;
		return 0;
	case JSON_FIELD_OTHERS: /* never stored: field_read() passes over them */
	case JSON_FIELD_ANY:
		break;
	}
	return -EINVAL;
}

/* One member: absent (refused when required) or stored by field_store(). */
static int field_read(struct json_object *obj, const struct json_field *f, const char *what,
		      char *reason, size_t reason_len)
{
	struct json_object *v;

	if (f->type == JSON_FIELD_OTHERS || f->type == JSON_FIELD_ANY)
		return 0;
	if (!json_object_object_get_ex(obj, f->key, &v))
		return f->required ? json_strict_fail(reason, reason_len, -EINVAL,
						      "%s: '%s' is missing", what, f->key)
				   : 0;
	return field_store(f, v, what, reason, reason_len);
}

int json_strict_fields(struct json_object *obj, const char *what, const struct json_field *fields,
		       size_t n_fields, char *reason, size_t reason_len)
{
	int r;

	if (!json_object_is_type(obj, json_type_object))
		return json_strict_fail(reason, reason_len, -EINVAL, "%s: not a JSON object", what);
	json_object_object_foreach (obj, key, val) {
		(void)val;
		if (!field_find(fields, n_fields, key))
			return json_strict_fail(reason, reason_len, -EINVAL,
						"%s: unknown member '%.64s'", what, key);
	}
	for (size_t i = 0; i < n_fields; i++) {
		r = field_read(obj, &fields[i], what, reason, reason_len);
		if (r < 0)
			return r;
	}
	return 0;
}

int json_strict_get_string(struct json_object *obj, const char *what, const char *key,
			   size_t max_len, const char **out, char *reason, size_t reason_len)
{
	const struct json_field f = JSON_STRING(key, true, 0, max_len, out);

	return field_read(obj, &f, what, reason, reason_len);
}

int json_strict_get_object(struct json_object *obj, const char *what, const char *key,
			   struct json_object **out, char *reason, size_t reason_len)
{
	const struct json_field f = JSON_OBJECT(key, true, out);

	return field_read(obj, &f, what, reason, reason_len);
}
