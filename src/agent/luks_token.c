#include "luks_token.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "b64.h"
#include "cleanup.h"
#include "json_build.h"
#include "json_strict.h"
#include "log.h"

#define SALT_B64_LEN 44 /* standard base64 of 32 bytes, one '=' */

#define refuse(reason, reason_len, ...) luks_refuse(-EINVAL, reason, reason_len, __VA_ARGS__)

char *luks_text_printable(char *s)
{
	for (char *c = s; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return s;
}

static int resource_component_check(const char *s, size_t len)
{
	if (len == 0)
		return -EINVAL;
	if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return -EINVAL;
	}
	return 0;
}

int luks_resource_path_check(const char *path)
{
	const char *p = path;
	size_t n = 0;

	if (!path || strlen(path) > LUKS_TOKEN_RESOURCE_MAX)
		return -EINVAL;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (resource_component_check(p, len) < 0)
			return -EINVAL;
		n++;
		if (!slash)
			break;
		p = slash + 1;
	}
	return n == 3 ? 0 : -EINVAL;
}

/* cryptsetup writes keyslot numbers as decimal strings; accept exactly that form. */
static int keyslot_parse(const char *s, int *out)
{
	long v = 0;

	if (!s[0] || strlen(s) > 2 || (s[0] == '0' && s[1]))
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (*p - '0');
	}
	if (v > 31) /* LUKS2 has keyslots 0..31 */
		return -EINVAL;
	*out = (int)v;
	return 0;
}

int luks_token_parse(const char *json, struct luks_token *out, char *reason, size_t reason_len)
{
	_cleanup_(json_object_putp) json_object *root = NULL;
	json_object *slots = NULL, *slot;
	const char *type = NULL, *resource = NULL, *salt = NULL;
	uint32_t version = 0;
	/* The token may only locate things: a server URL, pin or CA here would let the disk pick
	 * its own key server (disk-swap attack), so every member not in this table is refused. */
	const struct json_field fields[] = {
		JSON_STRING("type", true, 0, 64, &type),
		JSON_U32("version", true, 0, UINT32_MAX, &version),
		JSON_ARRAY("keyslots", true, 0, SIZE_MAX, &slots),
		JSON_STRING("resource", true, 0, LUKS_TOKEN_JSON_MAX, &resource),
		JSON_STRING("salt", true, 0, LUKS_TOKEN_JSON_MAX, &salt),
	};
	char why[200];
	int r;
	struct luks_token t = {0};
	size_t len;

	if (!json)
		return refuse(reason, reason_len, "token: no JSON");
	len = strlen(json);
	if (len > LUKS_TOKEN_JSON_MAX)
		return refuse(reason, reason_len, "token: JSON longer than %d bytes",
			      LUKS_TOKEN_JSON_MAX);

	/* Strict: no trailing bytes, no duplicate members (json-c would keep the last one). */
	r = json_strict_parse(json, len, LUKS_TOKEN_JSON_MAX, &root, why, sizeof(why));
	if (r < 0)
		return refuse(reason, reason_len, "token: not valid JSON (%s)", why);
	if (!json_object_is_type(root, json_type_object))
		return refuse(reason, reason_len, "token: not a JSON object");
	if (json_strict_fields(root, "token", fields, ARRAY_SIZE(fields), reason, reason_len) < 0)
		return -EINVAL;

	if (strcmp(type, LUKS_TOKEN_TYPE) != 0)
		return refuse(reason, reason_len, "token: 'type' is not \"%s\"", LUKS_TOKEN_TYPE);
	if (version != LUKS_TOKEN_VERSION)
		return refuse(reason, reason_len, "token: 'version' %u unsupported (want %d)",
			      version, LUKS_TOKEN_VERSION);
	t.version = version;
	if (json_object_array_length(slots) != 1)
		return refuse(reason, reason_len,
			      "token: 'keyslots' must name exactly one keyslot (has %zu)",
			      json_object_array_length(slots));
	slot = json_object_array_get_idx(slots, 0);
	if (!json_object_is_type(slot, json_type_string))
		return refuse(reason, reason_len, "token: 'keyslots' entry is not a string");
	if (keyslot_parse(json_object_get_string(slot), &t.keyslot) < 0)
		return refuse(reason, reason_len,
			      "token: 'keyslots' entry '%.16s' is not a keyslot number 0..31",
			      json_object_get_string(slot));

	if (luks_resource_path_check(resource) < 0)
		return refuse(reason, reason_len,
			      "token: 'resource' '%.64s' is not a repo/type/tag path", resource);
	snprintf(t.resource, sizeof(t.resource), "%s", resource);

	/* Strict: exactly 32 bytes, one '=', zero unused bits, so one canonical text only. */
	if (b64_decode_exact(B64_STD, salt, strlen(salt), t.salt, LUKS_TOKEN_SALT_LEN) < 0)
		return refuse(reason, reason_len,
			      "token: 'salt' is not the canonical base64 of %d bytes",
			      LUKS_TOKEN_SALT_LEN);

	*out = t;
	return 0;
}

int luks_token_format(const struct luks_token *tok, char **json_out)
{
	_cleanup_(json_object_putp) json_object *root = NULL;
	json_object *slots;
	char slot[4], salt[SALT_B64_LEN + 1];
	const char *text;

	if (tok->keyslot < 0 || tok->keyslot > 31)
		return log_error_errno(-EINVAL, "token: keyslot %d out of range", tok->keyslot);
	if (luks_resource_path_check(tok->resource) < 0)
		return log_error_errno(-EINVAL, "token: resource '%s' is not a repo/type/tag path",
				       tok->resource);
	snprintf(slot, sizeof(slot), "%d", tok->keyslot);
	(void)b64_encode_to(B64_STD, tok->salt, LUKS_TOKEN_SALT_LEN, salt, sizeof(salt));

	root = json_object_new_object();
	slots = json_object_new_array();
	if (!root || !slots || json_object_array_add(slots, json_object_new_string(slot)) < 0 ||
	    !json_object_array_get_idx(slots, 0)) {
		json_object_put(slots);
		return log_error_errno(-ENOMEM, "token: out of memory");
	}
	/* Checked adders: a member lost to an allocation failure fails the token. */
	if (json_add_string(root, "type", LUKS_TOKEN_TYPE) < 0 ||
	    json_add_member(root, "keyslots", slots) < 0 ||
	    json_add_string(root, "resource", tok->resource) < 0 ||
	    json_add_string(root, "salt", salt) < 0 ||
	    json_add_member(root, "version", json_object_new_int(LUKS_TOKEN_VERSION)) < 0)
		return log_error_errno(-ENOMEM, "token: out of memory");

	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
	if (!text || !(*json_out = strdup(text)))
		return log_error_errno(-ENOMEM, "token: out of memory");
	return 0;
}
