/* Strict parsing of untrusted JSON text with json-c (size and depth bounds, UTF-8 validated, no
 * trailing bytes, duplicate keys refused) and typed member access that names what was wrong: the
 * one JSON access layer of the project. Objects with a fixed set of members are read by table
 * (json_strict_fields); the single getters below serve the protocol parsers. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cleanup.h"
#include "log.h"

#define JSON_STRICT_MAX_DEPTH 16

DEFINE_CLEANUP_FUNC(json_object, json_object_put)

/* Parses exactly len bytes of text as one JSON value. Refuses (with -EINVAL, or -EMSGSIZE when
 * len > max_len) text that json-c's strict mode rejects, invalid UTF-8, nesting deeper than
 * JSON_STRICT_MAX_DEPTH, bytes other than whitespace after the value, and any object holding the
 * same key twice (json-c itself would silently keep the last one). On failure the reason is logged
 * and, if reason is non-NULL, copied there. */
int json_strict_parse(const char *text, size_t len, size_t max_len, struct json_object **out,
		      char *reason, size_t reason_len);

/* Formats a reason into reason (if non-NULL), logs it at error level and returns r (a negative
 * errno): the one helper the protocol parsers use to fail with a named cause. */
#define json_strict_fail(reason, reason_len, r, ...) \
	log_refusal(LOG_LVL_ERR, r, "", reason, reason_len, __VA_ARGS__)

/* Member getters for parsers of untrusted messages. `what` names the object in messages
 * (e.g. "attest request"). Absent or mistyped members give -EINVAL with the reason filled in;
 * strings longer than max_len characters, or with an embedded NUL, are refused too. */
int json_strict_get_string(struct json_object *obj, const char *what, const char *key,
			   size_t max_len, const char **out, char *reason, size_t reason_len);
int json_strict_get_object(struct json_object *obj, const char *what, const char *key,
			   struct json_object **out, char *reason, size_t reason_len);
/* A base64url string member (at most 64 characters) that decodes to exactly len bytes. */
int json_strict_get_b64url_exact(struct json_object *obj, const char *what, const char *key,
				 uint8_t *out, size_t len, char *reason, size_t reason_len);
/* Refuses any member whose name is not in the NULL-terminated list allowed. */
int json_strict_only_members(struct json_object *obj, const char *what, const char *const *allowed,
			     char *reason, size_t reason_len);

/* Parses the file at path strictly (json_strict_parse, at most max_len bytes) as one JSON object.
 * Refusals are logged once, as "PATH: reason". */
int json_strict_load_file(const char *path, size_t max_len, struct json_object **out);

/* One member of an object read by json_strict_fields(). */
enum json_field_type {
	JSON_FIELD_STRING, /* out: const char **; bounds: length in characters, no NUL inside */
	JSON_FIELD_U64,	   /* out: uint64_t *; bounds: the value (an integer, never negative) */
	JSON_FIELD_U32,	   /* out: uint32_t * (unsigned *); bounds: the value */
	JSON_FIELD_BOOL,   /* out: bool * */
	JSON_FIELD_OBJECT, /* out: struct json_object ** (borrowed from the parent) */
	JSON_FIELD_ARRAY,  /* out: struct json_object ** (borrowed); bounds: the element count */
	JSON_FIELD_OTHERS, /* no member: the table's other members are allowed (and not read) */
	JSON_FIELD_ANY,	   /* a member allowed with any value, not read (no out) */
};

struct json_field {
	const char *key;
	enum json_field_type type;
	bool required;
	uint64_t min, max;
	void *out;
};

/* Table entries; the conditional expressions make the compiler check the type of out. */
#define JSON_STRING(k, req, lo, hi, p)                                                 \
	{                                                                              \
		.key = (k), .type = JSON_FIELD_STRING, .required = (req), .min = (lo), \
		.max = (hi), .out = (void *)(1 ? (p) : (const char **)0)               \
	}
#define JSON_U64(k, req, lo, hi, p)                                                              \
	{                                                                                        \
		.key = (k), .type = JSON_FIELD_U64, .required = (req), .min = (lo), .max = (hi), \
		.out = (void *)(1 ? (p) : (uint64_t *)0)                                         \
	}
#define JSON_U32(k, req, lo, hi, p)                                                              \
	{                                                                                        \
		.key = (k), .type = JSON_FIELD_U32, .required = (req), .min = (lo), .max = (hi), \
		.out = (void *)(1 ? (p) : (uint32_t *)0)                                         \
	}
#define JSON_BOOL(k, req, p)                                            \
	{                                                               \
		.key = (k), .type = JSON_FIELD_BOOL, .required = (req), \
		.out = (void *)(1 ? (p) : (bool *)0)                    \
	}
#define JSON_OBJECT(k, req, p)                                            \
	{                                                                 \
		.key = (k), .type = JSON_FIELD_OBJECT, .required = (req), \
		.out = (void *)(1 ? (p) : (struct json_object **)0)       \
	}
#define JSON_ARRAY(k, req, lo, hi, p)                                                              \
	{                                                                                          \
		.key = (k), .type = JSON_FIELD_ARRAY, .required = (req), .min = (lo), .max = (hi), \
		.out = (void *)(1 ? (p) : (struct json_object **)0)                                \
	}

/* A member another program judges (libcryptsetup's keyslot priority): allowed, never read. */
#define JSON_ALLOWED(k)                                               \
	{                                                             \
		.key = (k), .type = JSON_FIELD_ANY, .required = false \
	}

/* For formats that grow, which must not break on a member added later (Intel's collateral). */
#define JSON_OTHERS_ALLOWED                            \
	{                                              \
		.key = NULL, .type = JSON_FIELD_OTHERS \
	}

/* Reads obj by table: refuses a member the table does not name (unless it has
 * JSON_OTHERS_ALLOWED), a required member that is
 * missing, and a member of another type (null included) or outside its bounds, with -EINVAL
 * (-ERANGE for a number out of bounds) and the reason "WHAT: 'KEY' ..." logged once and copied to
 * reason. Stores each present member through its out pointer; absent optional members leave
 * theirs untouched (so defaults set before the call stay). */
int json_strict_fields(struct json_object *obj, const char *what, const struct json_field *fields,
		       size_t n_fields, char *reason, size_t reason_len);
