/* JSON object building that reports allocation failures. */
#include <errno.h>

#include "json_build.h"

int json_add_member(struct json_object *obj, const char *key, struct json_object *val)
{
	if (!val)
		return -ENOMEM;
	if (json_object_object_add(obj, key, val) < 0) {
		json_object_put(val);
		return -ENOMEM;
	}
	return 0;
}

int json_add_string(struct json_object *obj, const char *key, const char *val)
{
	if (!val)
		return json_object_object_add(obj, key, NULL) < 0 ? -ENOMEM : 0;
	return json_add_member(obj, key, json_object_new_string(val));
}
