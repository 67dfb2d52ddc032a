/* Building JSON objects with json-c without losing an allocation failure: each adder returns
 * -ENOMEM instead of silently leaving a member out. */
#pragma once

#include <json-c/json.h>

/* Adds val (a new reference, taken over even on failure) as member key of obj; a NULL val (its
 * allocation failed) gives -ENOMEM. */
int json_add_member(struct json_object *obj, const char *key, struct json_object *val);

/* Adds the string val as member key of obj; a NULL val adds null. */
int json_add_string(struct json_object *obj, const char *key, const char *val);
