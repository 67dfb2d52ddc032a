/* DEPRECATED: only policy.c still uses these; it moves to json_strict_fields() (json_strict.h),
 * then this file goes. Typed field access for keyd's JSON files: each getter checks presence and
 * type and logs "FILE: field 'NAME' PROBLEM" at the point of failure. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parses a whole file strictly (json_strict.h) as one JSON object. */
int keyd_json_load_file(const char *path, size_t max, struct json_object **out);

/* Each returns 0, -ENOENT when absent and !required (out untouched), or -EINVAL logged. */
int keyd_json_get_string(const char *file, struct json_object *o, const char *key, bool required,
			 const char **out);
int keyd_json_get_u64(const char *file, struct json_object *o, const char *key, bool required,
		      uint64_t min, uint64_t max, uint64_t *out);
int keyd_json_get_bool(const char *file, struct json_object *o, const char *key, bool required,
		       bool *out);
int keyd_json_get_object(const char *file, struct json_object *o, const char *key, bool required,
			 struct json_object **out);
int keyd_json_get_array(const char *file, struct json_object *o, const char *key, bool required,
			struct json_object **out);
/* Refuses keys not in the NULL-terminated allowed list (catches typos in config and policy). */
int keyd_json_check_keys(const char *file, const char *where, struct json_object *o,
			 const char *const *allowed);
