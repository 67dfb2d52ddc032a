/* Strict parsing of untrusted JSON text with json-c (size and depth bounds, UTF-8 validated, no
 * trailing bytes, duplicate keys refused) and typed member access that names what was wrong. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_STRICT_MAX_DEPTH 16

/* Parses exactly len bytes of text as one JSON value. Refuses (with -EINVAL, or -EMSGSIZE when
 * len > max_len) text that json-c's strict mode rejects, invalid UTF-8, nesting deeper than
 * JSON_STRICT_MAX_DEPTH, bytes other than whitespace after the value, and any object holding the
 * same key twice (json-c itself would silently keep the last one). On failure the reason is logged
 * and, if reason is non-NULL, copied there. */
int json_strict_parse(const char *text, size_t len, size_t max_len, struct json_object **out,
		      char *reason, size_t reason_len);

/* Formats a reason into reason (if non-NULL), logs it at error level and returns r (a negative
 * errno): the one helper the protocol parsers use to fail with a named cause. */
int json_strict_fail(char *reason, size_t reason_len, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

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
