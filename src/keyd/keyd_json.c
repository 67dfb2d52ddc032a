#include "keyd_json.h"

#include <errno.h>
#include <string.h>

#include "cleanup.h"
#include "fileio.h"
#include "json_strict.h"
#include "log.h"

int keyd_json_load_file(const char *path, size_t max, struct json_object **out)
{
	_cleanup_free_ uint8_t *buf = NULL;
	char why[256];
	size_t len;
	int r;

	r = file_read_all(path, max, &buf, &len);
	if (r < 0)
		return r;
	r = json_strict_parse((const char *)buf, len, max, out, why, sizeof(why));
	if (r < 0)
		return log_error_errno(r, "%s: %s", path, why);
	if (!json_object_is_type(*out, json_type_object)) {
		json_object_put(*out);
		*out = NULL;
		return log_error_errno(-EINVAL, "%s: top level is not a JSON object", path);
	}
	return 0;
}

static int get_typed(const char *file, struct json_object *o, const char *key, bool required,
		     enum json_type type, const char *tname, struct json_object **v)
{
	if (!json_object_object_get_ex(o, key, v) || json_object_is_type(*v, json_type_null)) {
		if (required)
			return log_error_errno(-EINVAL, "%s: field '%s' is missing", file, key);
		return -ENOENT;
	}
	if (!json_object_is_type(*v, type))
		return log_error_errno(-EINVAL, "%s: field '%s' is not %s", file, key, tname);
	return 0;
}

int keyd_json_get_string(const char *file, struct json_object *o, const char *key, bool required,
			 const char **out)
{
	struct json_object *v;
	int r = get_typed(file, o, key, required, json_type_string, "a string", &v);

	if (r < 0)
		return r;
	if (json_object_get_string_len(v) == 0)
		return log_error_errno(-EINVAL, "%s: field '%s' is empty", file, key);
	*out = json_object_get_string(v);
	return 0;
}

int keyd_json_get_u64(const char *file, struct json_object *o, const char *key, bool required,
		      uint64_t min, uint64_t max, uint64_t *out)
{
	struct json_object *v;
	int64_t i;
	int r = get_typed(file, o, key, required, json_type_int, "an integer", &v);

	if (r < 0)
		return r;
	i = json_object_get_int64(v);
	if (i < 0 || (uint64_t)i < min || (uint64_t)i > max)
		return log_error_errno(-EINVAL, "%s: field '%s' must be in [%llu, %llu]", file, key,
				       (unsigned long long)min, (unsigned long long)max);
	*out = (uint64_t)i;
	return 0;
}

int keyd_json_get_bool(const char *file, struct json_object *o, const char *key, bool required,
		       bool *out)
{
	struct json_object *v;
	int r = get_typed(file, o, key, required, json_type_boolean, "a boolean", &v);

	if (r < 0)
		return r;
	*out = json_object_get_boolean(v);
	return 0;
}

int keyd_json_get_object(const char *file, struct json_object *o, const char *key, bool required,
			 struct json_object **out)
{
	return get_typed(file, o, key, required, json_type_object, "an object", out);
}

int keyd_json_get_array(const char *file, struct json_object *o, const char *key, bool required,
			struct json_object **out)
{
	return get_typed(file, o, key, required, json_type_array, "an array", out);
}

int keyd_json_check_keys(const char *file, const char *where, struct json_object *o,
			 const char *const *allowed)
{
	json_object_object_foreach (o, k, v) {
		bool ok = false;

		(void)v;
		for (size_t i = 0; allowed[i]; i++)
			if (!strcmp(k, allowed[i]))
				ok = true;
		if (!ok)
			return log_error_errno(-EINVAL, "%s: unknown field '%s' in %s", file, k,
					       where);
	}
	return 0;
}
