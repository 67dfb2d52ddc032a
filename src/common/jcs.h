/* RFC 8785 JSON Canonicalization Scheme (JCS) serialisation of a json-c value: the exact bytes that
 * REPORTDATA hashes. */
#pragma once

#include <json-c/json.h>
#include <stddef.h>

/* Serialises v canonically: object members sorted by the UTF-16 code units of their names, no
 * whitespace, strings escaped exactly as RFC 8785 §3.2.2.2 requires, integers in ES6 form.
 * Supported values: objects, arrays, strings (valid UTF-8), booleans, null, and integers with
 * |n| <= 2^53; any other number (fractions, exponents, larger integers) gives -ENOTSUP, invalid
 * UTF-8 -EINVAL. Returns 0 with a malloc'ed NUL-terminated string in *out and its length in
 * *out_len (may be NULL), or a negative errno. */
int jcs_serialize(struct json_object *v, char **out, size_t *out_len);
