#include "jcs.h"

#include "cleanup.h"
#include "utf8.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Integers beyond 2^53 have no exact IEEE 754 double, which RFC 8785 numbers are. */
#define JCS_MAX_SAFE_INT ((int64_t)1 << 53)

struct jcs_buf {
	char *data;
	size_t len, cap;
};

static int buf_put(struct jcs_buf *b, const char *s, size_t n)
{
	if (n > SIZE_MAX / 2 - b->len)
		return -ENOMEM;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->data, cap);
		if (!p)
			return -ENOMEM;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static int buf_puts(struct jcs_buf *b, const char *s)
{
	return buf_put(b, s, strlen(s));
}

/* A valid UTF-8 string read as UTF-16 code units. */
struct utf16_reader {
	const uint8_t *s;
	size_t len, i;
	uint16_t pending; /* the low surrogate after a high one */
};

/* The next code unit, or UINT32_MAX at the end. */
static uint32_t utf16_next(struct utf16_reader *r)
{
	int32_t cp;

	if (r->pending) {
		uint32_t unit = r->pending;

		r->pending = 0;
		return unit;
	}
	if (r->i >= r->len)
		return UINT32_MAX;
	cp = utf8_next(r->s, r->len, &r->i);
	if (cp < 0)
		cp = 0xfffd; /* unreachable after validation; keeps the sort total */
	if (cp < 0x10000)
		return (uint32_t)cp;
	r->pending = (uint16_t)(0xdc00 + ((uint32_t)(cp - 0x10000) & 0x3ff));
	return 0xd800 + ((uint32_t)(cp - 0x10000) >> 10);
}

/* Compares two valid UTF-8 strings by their UTF-16 code units (RFC 8785 §3.2.3). */
static int utf16_cmp(const char *a, const char *b)
{
	struct utf16_reader ra = {(const uint8_t *)a, strlen(a), 0, 0},
			    rb = {(const uint8_t *)b, strlen(b), 0, 0};

	for (;;) {
		uint32_t ca = utf16_next(&ra), cb = utf16_next(&rb);

		if (ca == UINT32_MAX && cb == UINT32_MAX)
			return 0;
		if (ca == UINT32_MAX)
			return -1; /* a prefix sorts first */
		if (cb == UINT32_MAX)
			return 1;
		if (ca != cb)
			return ca < cb ? -1 : 1;
	}
}

static int cmp_keys(const void *x, const void *y)
{
	return utf16_cmp(*(const char *const *)x, *(const char *const *)y);
}

static int put_string(struct jcs_buf *b, const char *s, size_t len)
{
	static const char short_from[] = "\"\\\b\f\n\r\t", short_to[] = "\"\\bfnrt";
	size_t i, run = 0;
	int r;

	if (!utf8_valid((const uint8_t *)s, len))
		return -EINVAL;
	r = buf_put(b, "\"", 1);
	for (i = 0; r == 0 && i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *named;
		char esc[8];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		r = buf_put(b, s + run, i - run);
		if (r < 0)
			break;
		run = i + 1;
		/* The two-character escapes where JSON has one, else \u00XX (RFC 8785 §3.2.2.2). */
		named = memchr(short_from, c, sizeof(short_from) - 1);
		if (named)
			snprintf(esc, sizeof(esc), "\\%c", short_to[named - short_from]);
		else
			snprintf(esc, sizeof(esc), "\\u%04x", c);
		r = buf_puts(b, esc);
	}
	if (r == 0)
		r = buf_put(b, s + run, len - run);
	if (r == 0)
		r = buf_put(b, "\"", 1);
	return r;
}

static int put_int(struct jcs_buf *b, int64_t n)
{
	char num[32];

	if (n > JCS_MAX_SAFE_INT || n < -JCS_MAX_SAFE_INT)
		return -ENOTSUP;
	snprintf(num, sizeof(num), "%" PRId64, n);
	return buf_puts(b, num);
}

static int put_value(struct jcs_buf *b, struct json_object *v, unsigned depth);

static int put_object(struct jcs_buf *b, struct json_object *v, unsigned depth)
{
	_cleanup_free_ const char **keys = NULL;
	size_t n = 0, i;
	int r;

	keys = calloc((size_t)json_object_object_length(v) + 1, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	/* keys is _cleanup_free_: clang 14's analyzer does not model the cleanup attribute. */
	json_object_object_foreach (v, key, child) {
		(void)child;
		if (!utf8_valid((const uint8_t *)key, strlen(key)))
			return -EINVAL; /* NOLINT(clang-analyzer-unix.Malloc) */
		keys[n++] = key;
	}
	qsort(keys, n, sizeof(*keys), cmp_keys);

	r = buf_put(b, "{", 1);
	for (i = 0; r == 0 && i < n; i++) {
		if (i > 0)
			r = buf_put(b, ",", 1);
		if (r == 0)
			r = put_string(b, keys[i], strlen(keys[i]));
		if (r == 0)
			r = buf_put(b, ":", 1);
		if (r == 0)
			r = put_value(b, json_object_object_get(v, keys[i]), depth + 1);
	}
	if (r == 0)
		r = buf_put(b, "}", 1);
	return r;
}

static int put_value(struct jcs_buf *b, struct json_object *v, unsigned depth)
{
	size_t i, n;
	double d;
	int r;

	if (depth > 64)
		return -ELOOP;
	switch (json_object_get_type(v)) {
	case json_type_null:
		return buf_puts(b, "null");
	case json_type_boolean:
		return buf_puts(b, json_object_get_boolean(v) ? "true" : "false");
	case json_type_string:
		return put_string(b, json_object_get_string(v),
				  (size_t)json_object_get_string_len(v));
	case json_type_int:
		/* json-c clamps larger literals to INT64_MAX/MIN, which put_int() refuses. */
		return put_int(b, json_object_get_int64(v));
	case json_type_double:
		/* ES6 prints an integral double below 2^53 as a plain integer (1.0 -> "1"). */
		d = json_object_get_double(v);
		if (!(d >= -(double)JCS_MAX_SAFE_INT && d <= (double)JCS_MAX_SAFE_INT) ||
		    (double)(int64_t)d != d)
			return -ENOTSUP; /* NaN fails the range test; no libm needed */
		return put_int(b, (int64_t)d);
	case json_type_array:
		r = buf_put(b, "[", 1);
		n = json_object_array_length(v);
		for (i = 0; r == 0 && i < n; i++) {
			if (i > 0)
				r = buf_put(b, ",", 1);
			if (r == 0)
				r = put_value(b, json_object_array_get_idx(v, i), depth + 1);
		}
		if (r == 0)
			r = buf_put(b, "]", 1);
		return r;
	case json_type_object:
		return put_object(b, v, depth);
	}
	return -EINVAL;
}

int jcs_serialize(struct json_object *v, char **out, size_t *out_len)
{
	struct jcs_buf b = {0};
	int r;

	r = put_value(&b, v, 0);
	if (r == 0 && !b.data)
		r = -EINVAL;
	if (r < 0) {
		free(b.data);
		return r;
	}
	*out = b.data;
	if (out_len)
		*out_len = b.len;
	return 0;
}
