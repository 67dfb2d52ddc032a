/* The LUKS2 metadata allow-list: a pure function of libcryptsetup's JSON export, no device. */
#include "luks_allowlist.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cleanup.h"
#include "json_strict.h"
#include "log.h"

#define DIGEST_ITER_MAX	  4000000 /* libcryptsetup benchmarks ~1/8 s; this bounds a hostile one */
#define LUKS2_MAX_KEYSLOT 32

/* Ciphers a segment or keyslot area may use, with the key sizes (bytes) allowed for each.
 * Everything else is refused, cipher_null first of all (CVE-2025-59054). */
static const struct cipher_allowed {
	const char *spec;
	int key_bytes[2];
} ciphers_allowed[] = {
	{"aes-xts-plain64", {32, 64}},
	{"serpent-xts-plain64", {32, 64}},
	{"twofish-xts-plain64", {32, 64}},
	{"aes-cbc-essiv:sha256", {16, 32}},
};

/* Persistent activation flags that only tune performance or discards. */
static const char *const config_flags_allowed[] = {
	"allow-discards",    "same-cpu-crypt",	   "submit-from-crypt-cpus",
	"no-read-workqueue", "no-write-workqueue",
};

struct refusal {
	char *buf;
	size_t len;
};

#define refuse(rf, ...) luks_refuse(-EBADMSG, (rf)->buf, (rf)->len, __VA_ARGS__)

static const struct cipher_allowed *cipher_lookup(const char *spec)
{
	for (size_t i = 0; i < ARRAY_SIZE(ciphers_allowed); i++)
		if (!strcmp(spec, ciphers_allowed[i].spec))
			return &ciphers_allowed[i];
	return NULL;
}

static bool cipher_key_allowed(const struct cipher_allowed *c, int64_t key_bytes)
{
	return key_bytes == c->key_bytes[0] || key_bytes == c->key_bytes[1];
}

static bool member_in(const char *key, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(key, list[i]))
			return true;
	return false;
}

static int only_members(struct refusal *rf, json_object *o, const char *what,
			const char *const *allowed, size_t n)
{
	json_object_object_foreach (o, key, val) {
		(void)val;
		if (!member_in(key, allowed, n))
			return refuse(rf, "%s: unknown member '%.48s'", what, key);
	}
	return 0;
}

static int get_typed(struct refusal *rf, json_object *o, const char *what, const char *key,
		     json_type type, json_object **out)
{
	if (!json_object_object_get_ex(o, key, out))
		return refuse(rf, "%s: '%s' missing", what, key);
	if (!json_object_is_type(*out, type))
		return refuse(rf, "%s: '%s' has the wrong type", what, key);
	return 0;
}

/* A string or integer member: out is set ("" or 0 on refusal, so callers never read garbage). */
static int get_scalar(struct refusal *rf, json_object *o, const char *what, const char *key,
		      json_type type, void *out)
{
	json_object *v;
	int r = get_typed(rf, o, what, key, type, &v);

	if (type == json_type_string)
		*(const char **)out = r == 0 ? json_object_get_string(v) : "";
	else
		*(int64_t *)out = r == 0 ? json_object_get_int64(v) : 0;
	return r;
}
#define get_str(rf, o, what, key, out) \
	get_scalar(rf, o, what, key, json_type_string, (void *)(1 ? (out) : (const char **)0))
#define get_int(rf, o, what, key, out) \
	get_scalar(rf, o, what, key, json_type_int, (void *)(1 ? (out) : (int64_t *)0))

/* LUKS2 writes 64-bit sizes and offsets as decimal strings. */
static int get_u64_str(struct refusal *rf, json_object *o, const char *what, const char *key,
		       uint64_t *out)
{
	const char *s;
	uint64_t v = 0;
	int r = get_str(rf, o, what, key, &s);

	if (r < 0)
		return r;
	if (!s[0] || strlen(s) > 20)
		return refuse(rf, "%s: '%s' is not a number", what, key);
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
			return refuse(rf, "%s: '%s' is not a number in range", what, key);
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*out = v;
	return 0;
}

/* Does a JSON array of decimal strings contain n? */
static bool str_array_has(json_object *arr, int n)
{
	char want[12];

	snprintf(want, sizeof(want), "%d", n);
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *e = json_object_array_get_idx(arr, i);
		if (json_object_is_type(e, json_type_string) &&
		    !strcmp(json_object_get_string(e), want))
			return true;
	}
	return false;
}

int luks_object_id(const char *key)
{
	char *end;
	long v = strtol(key, &end, 10);

	return (*key && !*end && v >= 0 && v < 1024) ? (int)v : -1;
}

struct layout {
	uint64_t areas_start; /* both binary headers + JSON copies end here */
	uint64_t areas_end;   /* end of the keyslot area */
	uint64_t data_offset; /* start of the crypt segment */
	int volume_key_bytes;
};

static int validate_config(struct refusal *rf, json_object *config, struct layout *lay)
{
	static const char *const members[] = {"json_size", "keyslots_size", "flags",
					      "requirements"};
	json_object *v;
	uint64_t json_size = 0, keyslots_size = 0;
	int r;

	if ((r = only_members(rf, config, "config", members, ARRAY_SIZE(members))) < 0)
		return r;
	if ((r = get_u64_str(rf, config, "config", "json_size", &json_size)) < 0 ||
	    (r = get_u64_str(rf, config, "config", "keyslots_size", &keyslots_size)) < 0)
		return r;
	if (json_size > (4u << 20) || keyslots_size > (128u << 20))
		return refuse(rf, "config: header sizes out of range");
	lay->areas_start = 2 * (json_size + 4096);
	lay->areas_end = lay->areas_start + keyslots_size;

	if (json_object_object_get_ex(config, "flags", &v)) {
		if (!json_object_is_type(v, json_type_array))
			return refuse(rf, "config: 'flags' is not an array");
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			json_object *f = json_object_array_get_idx(v, i);
			if (!json_object_is_type(f, json_type_string))
				return refuse(rf, "config: a flag is not a string");
			if (!member_in(json_object_get_string(f), config_flags_allowed,
				       ARRAY_SIZE(config_flags_allowed)))
				return refuse(rf, "config: flag '%.48s' is not allowed",
					      json_object_get_string(f));
		}
	}
	/* Requirements mean reencryption in progress or features we do not know: never unlock. */
	if (json_object_object_get_ex(config, "requirements", &v)) {
		json_object *m;
		if (!json_object_is_type(v, json_type_object))
			return refuse(rf, "config: 'requirements' is not an object");
		json_object_object_foreach (v, key, val) {
			(void)val;
			if (strcmp(key, "mandatory") != 0)
				return refuse(rf, "config: requirement class '%.48s' refused", key);
		}
		if (json_object_object_get_ex(v, "mandatory", &m)) {
			if (!json_object_is_type(m, json_type_array))
				return refuse(rf, "config: 'mandatory' is not an array");
			if (json_object_array_length(m) > 0) {
				json_object *e = json_object_array_get_idx(m, 0);
				return refuse(rf,
					      "config: requirement '%.48s' refused (reencryption "
					      "or unknown feature)",
					      json_object_is_type(e, json_type_string)
						      ? json_object_get_string(e)
						      : "?");
			}
		}
	}
	return 0;
}

static int validate_segments(struct refusal *rf, json_object *segments, struct layout *lay)
{
	static const char *const members[] = {"type",	    "offset",	   "size",	"iv_tweak",
					      "encryption", "sector_size", "integrity", "flags"};
	const struct cipher_allowed *c;
	json_object *seg, *v;
	const char *type, *enc;
	uint64_t u;
	int64_t sector;
	int r;

	if (json_object_object_length(segments) != 1 ||
	    !json_object_object_get_ex(segments, "0", &seg))
		return refuse(rf, "segments: exactly one segment \"0\" is required (found %d)",
			      json_object_object_length(segments));
	if (!json_object_is_type(seg, json_type_object))
		return refuse(rf, "segment 0: not an object");
	if ((r = only_members(rf, seg, "segment 0", members, ARRAY_SIZE(members))) < 0)
		return r;
	if ((r = get_str(rf, seg, "segment 0", "type", &type)) < 0)
		return r;
	if (strcmp(type, "crypt") != 0)
		return refuse(rf, "segment 0: type '%.32s' refused (only crypt)", type);
	if ((r = get_str(rf, seg, "segment 0", "encryption", &enc)) < 0)
		return r;
	c = cipher_lookup(enc);
	if (!c)
		return refuse(rf, "segment 0: cipher '%.48s' refused%s", enc,
			      strstr(enc, "null") ? " (plaintext disk, CVE-2025-59054)" : "");
	if (!cipher_key_allowed(c, lay->volume_key_bytes))
		return refuse(rf, "segment 0: key of %d bytes refused for %s",
			      lay->volume_key_bytes, enc);
	if (json_object_object_get_ex(seg, "integrity", &v))
		return refuse(rf, "segment 0: integrity protection is not supported");
	if (json_object_object_get_ex(seg, "flags", &v) &&
	    (!json_object_is_type(v, json_type_array) || json_object_array_length(v) > 0))
		return refuse(rf, "segment 0: segment flags refused (reencryption state)");
	if ((r = get_int(rf, seg, "segment 0", "sector_size", &sector)) < 0)
		return r;
	if (sector != 512 && sector != 1024 && sector != 2048 && sector != 4096)
		return refuse(rf, "segment 0: sector size %" PRId64 " refused", sector);
	if ((r = get_u64_str(rf, seg, "segment 0", "iv_tweak", &u)) < 0)
		return r;
	if ((r = get_u64_str(rf, seg, "segment 0", "offset", &lay->data_offset)) < 0)
		return r;
	if (lay->data_offset < lay->areas_end)
		return refuse(rf,
			      "segment 0: data offset %" PRIu64
			      " lies inside the header/keyslot area (ends at %" PRIu64 ")",
			      lay->data_offset, lay->areas_end);
	if (!json_object_object_get_ex(seg, "size", &v) ||
	    !json_object_is_type(v, json_type_string))
		return refuse(rf, "segment 0: 'size' missing or not a string");
	if (strcmp(json_object_get_string(v), "dynamic") != 0 &&
	    (r = get_u64_str(rf, seg, "segment 0", "size", &u)) < 0)
		return r;
	return 0;
}

struct area {
	uint64_t offset, size;
};

static int validate_keyslot(struct refusal *rf, const char *id, json_object *ks,
			    const struct layout *lay, struct area *area)
{
	const struct cipher_allowed *c;
	json_object *a;
	const char *type, *enc;
	int64_t key_size, area_key;
	uint64_t af_bytes;
	char what[32];
	int r;

	snprintf(what, sizeof(what), "keyslot %.8s", id);
	if (!json_object_is_type(ks, json_type_object))
		return refuse(rf, "%s: not an object", what);
	if ((r = get_str(rf, ks, what, "type", &type)) < 0)
		return r;
	if (strcmp(type, "luks2") != 0)
		return refuse(rf,
			      "%s: type '%.32s' refused (only luks2; reencrypt means "
			      "reencryption in progress)",
			      what, type);
	if ((r = get_int(rf, ks, what, "key_size", &key_size)) < 0)
		return r;
	if (key_size != lay->volume_key_bytes)
		return refuse(rf, "%s: key size %" PRId64 " differs from the volume key size", what,
			      key_size);
	if ((r = get_typed(rf, ks, what, "area", json_type_object, &a)) < 0)
		return r;
	if ((r = get_str(rf, a, what, "type", &type)) < 0)
		return r;
	if (strcmp(type, "raw") != 0)
		return refuse(rf, "%s: area type '%.32s' refused", what, type);
	if ((r = get_str(rf, a, what, "encryption", &enc)) < 0)
		return r;
	c = cipher_lookup(enc);
	if (!c)
		return refuse(rf, "%s: area cipher '%.48s' refused%s", what, enc,
			      strstr(enc, "null") ? " (any passphrase would open it, "
						    "CVE-2025-59054)"
						  : "");
	if ((r = get_int(rf, a, what, "key_size", &area_key)) < 0)
		return r;
	if (!cipher_key_allowed(c, area_key))
		return refuse(rf, "%s: area key of %" PRId64 " bytes refused for %s", what,
			      area_key, enc);
	if ((r = get_u64_str(rf, a, what, "offset", &area->offset)) < 0 ||
	    (r = get_u64_str(rf, a, what, "size", &area->size)) < 0)
		return r;
	if (area->size == 0 || area->offset < lay->areas_start || area->offset > lay->areas_end ||
	    area->size > lay->areas_end - area->offset)
		return refuse(rf,
			      "%s: area [%" PRIu64 ", +%" PRIu64
			      ") lies outside the keyslot area [%" PRIu64 ", %" PRIu64 ")",
			      what, area->offset, area->size, lay->areas_start, lay->areas_end);
	if (area->offset + area->size > lay->data_offset)
		return refuse(rf, "%s: area overlaps the data segment", what);
	/* libcryptsetup reads all 4000 AF stripes, whatever size the area claims. */
	af_bytes = ((uint64_t)key_size * 4000 + 511) / 512 * 512;
	if (area->size < af_bytes)
		return refuse(rf,
			      "%s: area of %" PRIu64 " bytes cannot hold %" PRIu64
			      " bytes of key material",
			      what, area->size, af_bytes);
	return 0;
}

/* Our keyslot holds a machine key: PBKDF2-SHA256 with a small, bounded iteration count. */
static int validate_our_keyslot(struct refusal *rf, json_object *ks, int slot)
{
	static const char *const members[] = {"type", "key_size", "af", "area", "kdf", "priority"};
	static const char *const kdf_members[] = {"type", "hash", "iterations", "salt"};
	json_object *kdf, *af;
	const char *s;
	int64_t it;
	char what[32];
	int r;

	snprintf(what, sizeof(what), "keyslot %d", slot);
	if ((r = only_members(rf, ks, what, members, ARRAY_SIZE(members))) < 0)
		return r;
	if ((r = get_typed(rf, ks, what, "kdf", json_type_object, &kdf)) < 0)
		return r;
	if ((r = get_str(rf, kdf, what, "type", &s)) < 0)
		return r;
	if (strcmp(s, "pbkdf2") != 0)
		return refuse(rf,
			      "%s: kdf '%.32s' refused for the tdx-unlock keyslot (want pbkdf2)",
			      what, s);
	if ((r = only_members(rf, kdf, what, kdf_members, ARRAY_SIZE(kdf_members))) < 0)
		return r;
	if ((r = get_str(rf, kdf, what, "hash", &s)) < 0)
		return r;
	if (strcmp(s, "sha256") != 0)
		return refuse(rf, "%s: pbkdf2 hash '%.32s' refused (want sha256)", what, s);
	if ((r = get_int(rf, kdf, what, "iterations", &it)) < 0)
		return r;
	if (it < LUKS_PBKDF2_ITER || it > LUKS_PBKDF2_ITER_MAX)
		return refuse(rf, "%s: %" PRId64 " pbkdf2 iterations out of range [%d, %d]", what,
			      it, LUKS_PBKDF2_ITER, LUKS_PBKDF2_ITER_MAX);
	if ((r = get_typed(rf, ks, what, "af", json_type_object, &af)) < 0)
		return r;
	if ((r = get_str(rf, af, what, "type", &s)) < 0)
		return r;
	if (strcmp(s, "luks1") != 0)
		return refuse(rf, "%s: anti-forensic splitter '%.32s' refused", what, s);
	if ((r = get_int(rf, af, what, "stripes", &it)) < 0)
		return r;
	if (it != 4000)
		return refuse(rf, "%s: %" PRId64 " AF stripes refused (want 4000)", what, it);
	if ((r = get_str(rf, af, what, "hash", &s)) < 0)
		return r;
	if (strcmp(s, "sha256") != 0)
		return refuse(rf, "%s: AF hash '%.32s' refused (want sha256)", what, s);
	return 0;
}

/* Is s the canonical padded base64 of exactly n bytes? Then libcryptsetup decodes n bytes. */
static bool base64_of_len(const char *s, size_t n)
{
	size_t len = 4 * ((n + 2) / 3), pad = (3 - n % 3) % 3;

	if (strlen(s) != len)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			     (c >= '0' && c <= '9') || c == '+' || c == '/';
		if (i < len - pad ? !alpha : c != '=')
			return false;
	}
	return true;
}

/* Hashes cryptsetup writes digests with, and their sizes. */
static const struct digest_hash {
	const char *name;
	size_t size;
} digest_hashes[] = {{"sha1", 20}, {"sha256", 32}, {"sha384", 48}, {"sha512", 64}};

static int validate_digests(struct refusal *rf, json_object *digests, json_object **bound_slots)
{
	static const char *const members[] = {"type",	    "keyslots", "segments", "hash",
					      "iterations", "salt",	"digest"};
	const struct digest_hash *dh = NULL;
	json_object *d = NULL, *v;
	const char *type, *s;
	int64_t it;
	int r;

	if (json_object_object_length(digests) != 1)
		return refuse(rf, "digests: exactly one digest is required (found %d)",
			      json_object_object_length(digests));
	json_object_object_foreach (digests, key, val) {
		(void)key;
		d = val;
	}
	if (!json_object_is_type(d, json_type_object))
		return refuse(rf, "digest: not an object");
	if ((r = only_members(rf, d, "digest", members, ARRAY_SIZE(members))) < 0)
		return r;
	if ((r = get_str(rf, d, "digest", "type", &type)) < 0)
		return r;
	if (strcmp(type, "pbkdf2") != 0)
		return refuse(rf, "digest: type '%.32s' refused", type);
	/* libcryptsetup 2.6.1 returns "verified" without comparing anything when the digest salt
	 * is not 32 bytes or the digest length is neither 20 nor the hash's size: any passphrase
	 * would then open any keyslot, and the volume would be activated with a garbage key. */
	if ((r = get_str(rf, d, "digest", "hash", &s)) < 0)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(digest_hashes); i++)
		if (!strcmp(s, digest_hashes[i].name))
			dh = &digest_hashes[i];
	if (!dh)
		return refuse(rf, "digest: hash '%.32s' refused", s);
	if ((r = get_str(rf, d, "digest", "salt", &s)) < 0)
		return r;
	if (!base64_of_len(s, 32))
		return refuse(rf, "digest: 'salt' is not the base64 of 32 bytes");
	if ((r = get_str(rf, d, "digest", "digest", &s)) < 0)
		return r;
	if (!base64_of_len(s, dh->size) && !base64_of_len(s, 20))
		return refuse(rf, "digest: 'digest' is not the base64 of the %zu bytes of %s",
			      dh->size, dh->name);
	if ((r = get_int(rf, d, "digest", "iterations", &it)) < 0)
		return r;
	if (it < 1000 || it > DIGEST_ITER_MAX)
		return refuse(rf, "digest: %" PRId64 " iterations out of range", it);
	if ((r = get_typed(rf, d, "digest", "segments", json_type_array, &v)) < 0)
		return r;
	if (json_object_array_length(v) != 1 || !str_array_has(v, 0))
		return refuse(rf, "digest: must cover exactly segment 0");
	return get_typed(rf, d, "digest", "keyslots", json_type_array, bound_slots);
}

static int validate_tokens(struct refusal *rf, json_object *tokens, enum luks_token_need need,
			   int *token_id, struct luks_token *token)
{
	char why[LUKS_REASON_MAX];
	int found = -1;
	int r;

	json_object_object_foreach (tokens, key, val) {
		json_object *t;
		if (!json_object_is_type(val, json_type_object) ||
		    !json_object_object_get_ex(val, "type", &t) ||
		    !json_object_is_type(t, json_type_string))
			return refuse(rf, "token %.8s: no type", key);
		if (strcmp(json_object_get_string(t), LUKS_TOKEN_TYPE) != 0)
			continue; /* other tokens (systemd-fido2, ...) are not ours to judge */
		if (found >= 0)
			return refuse(rf,
				      "a second tdx-unlock token (%d and %.8s) refused: which one "
				      "to use would be the attacker's choice",
				      found, key);
		found = luks_object_id(key);
		if (found < 0 || found >= LUKS2_MAX_TOKEN)
			return refuse(rf, "token %.8s: id out of range (0..%d)", key,
				      LUKS2_MAX_TOKEN - 1);
		r = luks_token_parse(json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN),
				     token, why, sizeof(why));
		if (r < 0)
			return refuse(rf, "token %.8s: %s", key, why);
	}
	*token_id = found;
	if (found < 0 && need == LUKS_TOKEN_REQUIRED) {
		if (rf->buf && rf->len)
			snprintf(rf->buf, rf->len, "no tdx-unlock token");
		return -ENOENT;
	}
	if (found >= 0 && need == LUKS_TOKEN_ABSENT) {
		if (rf->buf && rf->len)
			snprintf(rf->buf, rf->len, "already enrolled (tdx-unlock token %d)", found);
		return -EEXIST; /* the caller says what to do about it */
	}
	return 0;
}

int luks_allowlist_check(const char *metadata_json, int volume_key_bytes, enum luks_token_need need,
			 int *token_id, struct luks_token *token, char *reason, size_t reason_len)
{
	static const char *const top[] = {"keyslots", "tokens", "segments", "digests", "config"};
	struct refusal rf = {reason, reason_len};
	_cleanup_(json_object_putp) json_object *root = NULL;
	json_object *keyslots, *tokens, *segments, *digests, *config, *bound = NULL;
	struct area areas[LUKS2_MAX_KEYSLOT] = {0};
	struct layout lay = {.volume_key_bytes = volume_key_bytes};
	size_t n_areas = 0;
	int r, tid = -1;

	if (reason && reason_len)
		reason[0] = '\0';
	root = json_tokener_parse(metadata_json);
	if (!root || !json_object_is_type(root, json_type_object))
		return refuse(&rf, "metadata is not a JSON object");
	if ((r = only_members(&rf, root, "metadata", top, ARRAY_SIZE(top))) < 0 ||
	    (r = get_typed(&rf, root, "metadata", "config", json_type_object, &config)) < 0 ||
	    (r = get_typed(&rf, root, "metadata", "segments", json_type_object, &segments)) < 0 ||
	    (r = get_typed(&rf, root, "metadata", "keyslots", json_type_object, &keyslots)) < 0 ||
	    (r = get_typed(&rf, root, "metadata", "digests", json_type_object, &digests)) < 0 ||
	    (r = get_typed(&rf, root, "metadata", "tokens", json_type_object, &tokens)) < 0)
		return r;

	if ((r = validate_config(&rf, config, &lay)) < 0 ||
	    (r = validate_segments(&rf, segments, &lay)) < 0 ||
	    (r = validate_digests(&rf, digests, &bound)) < 0)
		return r;

	json_object_object_foreach (keyslots, id, ks) {
		if (n_areas >= ARRAY_SIZE(areas))
			return refuse(&rf, "too many keyslots");
		if ((r = validate_keyslot(&rf, id, ks, &lay, &areas[n_areas])) < 0)
			return r;
		if (!str_array_has(bound, luks_object_id(id)))
			return refuse(&rf, "keyslot %.8s is not bound to the data segment", id);
		for (size_t i = 0; i < n_areas; i++)
			if (areas[n_areas].offset < areas[i].offset + areas[i].size &&
			    areas[i].offset < areas[n_areas].offset + areas[n_areas].size)
				return refuse(&rf, "keyslot %.8s: area overlaps another keyslot",
					      id);
		n_areas++;
	}

	r = validate_tokens(&rf, tokens, need, &tid, token);
	if (token_id)
		*token_id = tid;
	if (r < 0)
		return r;
	if (tid >= 0) {
		char slot[12];
		json_object *slot_obj;

		snprintf(slot, sizeof(slot), "%d", token->keyslot);
		if (!json_object_object_get_ex(keyslots, slot, &slot_obj))
			return refuse(&rf, "token %d names keyslot %d, which does not exist", tid,
				      token->keyslot);
		if ((r = validate_our_keyslot(&rf, slot_obj, token->keyslot)) < 0)
			return r;
	}
	return 0;
}
