/* The LUKS2 metadata allow-list: a pure function of libcryptsetup's JSON export, no device. The
 * JSON is read strictly and by table (json_strict); every refusal goes through luks_refuse()
 * (or json_strict's, which names the member) with -EBADMSG and the reason for the caller. */
#include "luks_allowlist.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cleanup.h"
#include "json_strict.h"
#include "log.h"

#define DIGEST_ITER_MAX	       4000000 /* libcryptsetup benchmarks ~1/8 s; this bounds a hostile one */
#define LUKS_METADATA_JSON_MAX (4u << 20) /* config.json_size is refused above this too */
#define LUKS2_MAX_KEYSLOT      32

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

/* Longer than any string the allow-list accepts (cipher specs, decimal sizes, base64). */
#define META_STRING_MAX 256

#define refuse(reason, reason_len, ...) luks_refuse(-EBADMSG, reason, reason_len, __VA_ARGS__)

/* Reads obj by json_strict's table (which names and logs what was wrong); a refusal is -EBADMSG
 * like every other refusal of the allow-list. */
static int read_fields(json_object *obj, const char *what, const struct json_field *fields,
		       size_t n_fields, char *reason, size_t reason_len)
{
	return json_strict_fields(obj, what, fields, n_fields, reason, reason_len) < 0 ? -EBADMSG
										       : 0;
}

static const struct cipher_allowed *cipher_lookup(const char *spec)
{
	for (size_t i = 0; i < ARRAY_SIZE(ciphers_allowed); i++)
		if (!strcmp(spec, ciphers_allowed[i].spec))
			return &ciphers_allowed[i];
	return NULL;
}

static bool cipher_key_allowed(const struct cipher_allowed *c, uint64_t key_bytes)
{
	return key_bytes == (uint64_t)c->key_bytes[0] || key_bytes == (uint64_t)c->key_bytes[1];
}

static bool member_in(const char *key, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(key, list[i]))
			return true;
	return false;
}

/* LUKS2 writes 64-bit sizes and offsets as decimal strings (read by table, 1..20 characters). */
static int decimal_u64(const char *s, const char *what, const char *key, uint64_t *out,
		       char *reason, size_t reason_len)
{
	uint64_t v = 0;

	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
			return refuse(reason, reason_len, "%s: '%s' is not a number in range", what,
				      key);
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

static int validate_config(json_object *config, struct layout *lay, char *reason, size_t reason_len)
{
	const char *json_size_s = NULL, *keyslots_size_s = NULL;
	json_object *flags = NULL, *requirements = NULL, *mandatory = NULL;
	const struct json_field fields[] = {
		JSON_STRING("json_size", true, 1, 20, &json_size_s),
		JSON_STRING("keyslots_size", true, 1, 20, &keyslots_size_s),
		JSON_ARRAY("flags", false, 0, SIZE_MAX, &flags),
		JSON_OBJECT("requirements", false, &requirements),
	};
	/* Requirements mean reencryption in progress or features we do not know: never unlock. */
	const struct json_field requirement_fields[] = {
		JSON_ARRAY("mandatory", false, 0, SIZE_MAX, &mandatory),
	};
	uint64_t json_size = 0, keyslots_size = 0;
	int r;

	if ((r = read_fields(config, "config", fields, ARRAY_SIZE(fields), reason, reason_len)) <
		    0 ||
	    (r = decimal_u64(json_size_s, "config", "json_size", &json_size, reason, reason_len)) <
		    0 ||
	    (r = decimal_u64(keyslots_size_s, "config", "keyslots_size", &keyslots_size, reason,
			     reason_len)) < 0)
		return r;
	if (json_size > (4u << 20) || keyslots_size > (128u << 20))
		return refuse(reason, reason_len, "config: header sizes out of range");
	lay->areas_start = 2 * (json_size + 4096);
	lay->areas_end = lay->areas_start + keyslots_size;

	for (size_t i = 0; flags && i < json_object_array_length(flags); i++) {
		json_object *f = json_object_array_get_idx(flags, i);

		if (!json_object_is_type(f, json_type_string))
			return refuse(reason, reason_len, "config: a flag is not a string");
		if (!member_in(json_object_get_string(f), config_flags_allowed,
			       ARRAY_SIZE(config_flags_allowed)))
			return refuse(reason, reason_len, "config: flag '%.48s' is not allowed",
				      json_object_get_string(f));
	}
	if (requirements &&
	    (r = read_fields(requirements, "config: requirements", requirement_fields,
			     ARRAY_SIZE(requirement_fields), reason, reason_len)) < 0)
		return r;
	if (mandatory && json_object_array_length(mandatory) > 0) {
		json_object *e = json_object_array_get_idx(mandatory, 0);

		return refuse(
			reason, reason_len,
			"config: requirement '%.48s' refused (reencryption or unknown feature)",
			json_object_is_type(e, json_type_string) ? json_object_get_string(e) : "?");
	}
	return 0;
}

static int validate_segments(json_object *segments, struct layout *lay, char *reason,
			     size_t reason_len)
{
	const char *type = NULL, *enc = NULL, *offset = NULL, *size = NULL, *iv_tweak = NULL;
	json_object *seg = NULL, *integrity = NULL, *flags = NULL;
	uint64_t sector = 0, u;
	const struct json_field segment_ids[] = {
		JSON_OBJECT("0", true, &seg),
	};
	const struct json_field fields[] = {
		JSON_STRING("type", true, 0, META_STRING_MAX, &type),
		JSON_STRING("encryption", true, 0, META_STRING_MAX, &enc),
		JSON_STRING("offset", true, 1, 20, &offset),
		JSON_STRING("size", true, 1, 20, &size), /* or "dynamic" */
		JSON_STRING("iv_tweak", true, 1, 20, &iv_tweak),
		JSON_U64("sector_size", true, 0, UINT64_MAX, &sector),
		JSON_OBJECT("integrity", false, &integrity),
		JSON_ARRAY("flags", false, 0, SIZE_MAX, &flags),
	};
	const struct cipher_allowed *c;
	int r;

	if (json_object_object_length(segments) != 1)
		return refuse(reason, reason_len,
			      "segments: exactly one segment \"0\" is required (found %d)",
			      json_object_object_length(segments));
	if ((r = read_fields(segments, "segments", segment_ids, ARRAY_SIZE(segment_ids), reason,
			     reason_len)) < 0 ||
	    (r = read_fields(seg, "segment 0", fields, ARRAY_SIZE(fields), reason, reason_len)) < 0)
		return r;
	if (strcmp(type, "crypt") != 0)
		return refuse(reason, reason_len, "segment 0: type '%.32s' refused (only crypt)",
			      type);
	c = cipher_lookup(enc);
	if (!c)
		return refuse(reason, reason_len, "segment 0: cipher '%.48s' refused%s", enc,
			      strstr(enc, "null") ? " (plaintext disk, CVE-2025-59054)" : "");
	if (!cipher_key_allowed(c, (uint64_t)lay->volume_key_bytes))
		return refuse(reason, reason_len, "segment 0: key of %d bytes refused for %s",
			      lay->volume_key_bytes, enc);
	if (integrity)
		return refuse(reason, reason_len,
			      "segment 0: integrity protection is not supported");
	if (flags && json_object_array_length(flags) > 0)
		return refuse(reason, reason_len,
			      "segment 0: segment flags refused (reencryption state)");
	if (sector != 512 && sector != 1024 && sector != 2048 && sector != 4096)
		return refuse(reason, reason_len, "segment 0: sector size %" PRIu64 " refused",
			      sector);
	if ((r = decimal_u64(iv_tweak, "segment 0", "iv_tweak", &u, reason, reason_len)) < 0 ||
	    (r = decimal_u64(offset, "segment 0", "offset", &lay->data_offset, reason,
			     reason_len)) < 0)
		return r;
	if (lay->data_offset < lay->areas_end)
		return refuse(reason, reason_len,
			      "segment 0: data offset %" PRIu64
			      " lies inside the header/keyslot area (ends at %" PRIu64 ")",
			      lay->data_offset, lay->areas_end);
	if (strcmp(size, "dynamic") != 0 &&
	    (r = decimal_u64(size, "segment 0", "size", &u, reason, reason_len)) < 0)
		return r;
	return 0;
}

struct area {
	uint64_t offset, size;
};

/* Any keyslot: its type and where its key material lies. How it derives its key (kdf, af) is
 * judged only for the tdx-unlock keyslot (validate_our_keyslot). */
static int validate_keyslot(const char *id, json_object *ks, const struct layout *lay,
			    struct area *area, char *reason, size_t reason_len)
{
	const char *type = NULL, *area_type = NULL, *enc = NULL, *offset = NULL, *size = NULL;
	json_object *a = NULL;
	uint64_t key_size = 0, area_key = 0, af_bytes;
	const struct json_field fields[] = {
		JSON_STRING("type", true, 0, META_STRING_MAX, &type),
		JSON_U64("key_size", true, 0, UINT64_MAX, &key_size),
		JSON_OBJECT("area", true, &a),
		JSON_OTHERS_ALLOWED,
	};
	const struct json_field area_fields[] = {
		JSON_STRING("type", true, 0, META_STRING_MAX, &area_type),
		JSON_STRING("encryption", true, 0, META_STRING_MAX, &enc),
		JSON_U64("key_size", true, 0, UINT64_MAX, &area_key),
		JSON_STRING("offset", true, 1, 20, &offset),
		JSON_STRING("size", true, 1, 20, &size),
		JSON_OTHERS_ALLOWED,
	};
	const struct cipher_allowed *c;
	char what[32];
	int r;

	snprintf(what, sizeof(what), "keyslot %.8s", id);
	if ((r = read_fields(ks, what, fields, ARRAY_SIZE(fields), reason, reason_len)) < 0)
		return r;
	if (strcmp(type, "luks2") != 0)
		return refuse(reason, reason_len,
			      "%s: type '%.32s' refused (only luks2; reencrypt means "
			      "reencryption in progress)",
			      what, type);
	if (key_size != (uint64_t)lay->volume_key_bytes)
		return refuse(reason, reason_len,
			      "%s: key size %" PRIu64 " differs from the volume key size", what,
			      key_size);
	if ((r = read_fields(a, what, area_fields, ARRAY_SIZE(area_fields), reason, reason_len)) <
	    0)
		return r;
	if (strcmp(area_type, "raw") != 0)
		return refuse(reason, reason_len, "%s: area type '%.32s' refused", what, area_type);
	c = cipher_lookup(enc);
	if (!c)
		return refuse(reason, reason_len, "%s: area cipher '%.48s' refused%s", what, enc,
			      strstr(enc, "null") ? " (any passphrase would open it, "
						    "CVE-2025-59054)"
						  : "");
	if (!cipher_key_allowed(c, area_key))
		return refuse(reason, reason_len,
			      "%s: area key of %" PRIu64 " bytes refused for %s", what, area_key,
			      enc);
	if ((r = decimal_u64(offset, what, "offset", &area->offset, reason, reason_len)) < 0 ||
	    (r = decimal_u64(size, what, "size", &area->size, reason, reason_len)) < 0)
		return r;
	if (area->size == 0 || area->offset < lay->areas_start || area->offset > lay->areas_end ||
	    area->size > lay->areas_end - area->offset)
		return refuse(reason, reason_len,
			      "%s: area [%" PRIu64 ", +%" PRIu64
			      ") lies outside the keyslot area [%" PRIu64 ", %" PRIu64 ")",
			      what, area->offset, area->size, lay->areas_start, lay->areas_end);
	if (area->offset + area->size > lay->data_offset)
		return refuse(reason, reason_len, "%s: area overlaps the data segment", what);
	/* libcryptsetup reads all 4000 AF stripes, whatever size the area claims. */
	af_bytes = (key_size * 4000 + 511) / 512 * 512;
	if (area->size < af_bytes)
		return refuse(reason, reason_len,
			      "%s: area of %" PRIu64 " bytes cannot hold %" PRIu64
			      " bytes of key material",
			      what, area->size, af_bytes);
	return 0;
}

/* Our keyslot holds a machine key: PBKDF2-SHA256 with a small, bounded iteration count. */
static int validate_our_keyslot(json_object *ks, int slot, char *reason, size_t reason_len)
{
	const char *type = NULL, *kdf_type = NULL, *hash = NULL, *af_type = NULL, *af_hash = NULL;
	json_object *kdf = NULL, *af = NULL, *area = NULL;
	uint64_t key_size = 0, iterations = 0, stripes = 0;
	const struct json_field fields[] = {
		JSON_STRING("type", true, 0, META_STRING_MAX, &type),
		JSON_U64("key_size", true, 0, UINT64_MAX, &key_size),
		JSON_OBJECT("af", true, &af),
		JSON_OBJECT("area", true, &area),
		JSON_OBJECT("kdf", true, &kdf),
		JSON_ALLOWED("priority"),
	};
	/* The kdf's type first: another kdf (argon2id) has other members, and is refused as such.
	 */
	const struct json_field kdf_type_field[] = {
		JSON_STRING("type", true, 0, META_STRING_MAX, &kdf_type),
		JSON_OTHERS_ALLOWED,
	};
	const struct json_field kdf_fields[] = {
		JSON_STRING("type", true, 0, META_STRING_MAX, &kdf_type),
		JSON_STRING("hash", true, 0, META_STRING_MAX, &hash),
		JSON_U64("iterations", true, 0, UINT64_MAX, &iterations),
		JSON_ALLOWED("salt"), /* libcryptsetup's to judge */
	};
	const struct json_field af_fields[] = {
		JSON_STRING("type", true, 0, META_STRING_MAX, &af_type),
		JSON_U64("stripes", true, 0, UINT64_MAX, &stripes),
		JSON_STRING("hash", true, 0, META_STRING_MAX, &af_hash),
		JSON_OTHERS_ALLOWED,
	};
	char what[32];
	int r;

	snprintf(what, sizeof(what), "keyslot %d", slot);
	if ((r = read_fields(ks, what, fields, ARRAY_SIZE(fields), reason, reason_len)) < 0 ||
	    (r = read_fields(kdf, what, kdf_type_field, ARRAY_SIZE(kdf_type_field), reason,
			     reason_len)) < 0)
		return r;
	if (strcmp(kdf_type, "pbkdf2") != 0)
		return refuse(reason, reason_len,
			      "%s: kdf '%.32s' refused for the tdx-unlock keyslot (want pbkdf2)",
			      what, kdf_type);
	if ((r = read_fields(kdf, what, kdf_fields, ARRAY_SIZE(kdf_fields), reason, reason_len)) <
	    0)
		return r;
	if (strcmp(hash, "sha256") != 0)
		return refuse(reason, reason_len, "%s: pbkdf2 hash '%.32s' refused (want sha256)",
			      what, hash);
	if (iterations < LUKS_PBKDF2_ITER || iterations > LUKS_PBKDF2_ITER_MAX)
		return refuse(reason, reason_len,
			      "%s: %" PRIu64 " pbkdf2 iterations out of range [%d, %d]", what,
			      iterations, LUKS_PBKDF2_ITER, LUKS_PBKDF2_ITER_MAX);
	if ((r = read_fields(af, what, af_fields, ARRAY_SIZE(af_fields), reason, reason_len)) < 0)
		return r;
	if (strcmp(af_type, "luks1") != 0)
		return refuse(reason, reason_len, "%s: anti-forensic splitter '%.32s' refused",
			      what, af_type);
	if (stripes != 4000)
		return refuse(reason, reason_len, "%s: %" PRIu64 " AF stripes refused (want 4000)",
			      what, stripes);
	if (strcmp(af_hash, "sha256") != 0)
		return refuse(reason, reason_len, "%s: AF hash '%.32s' refused (want sha256)", what,
			      af_hash);
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

static int validate_digests(json_object *digests, json_object **bound_slots, char *reason,
			    size_t reason_len)
{
	const char *type = NULL, *hash = NULL, *salt = NULL, *digest = NULL;
	json_object *d = NULL, *segments = NULL;
	uint64_t iterations = 0;
	const struct json_field fields[] = {
		JSON_STRING("type", true, 0, META_STRING_MAX, &type),
		JSON_ARRAY("keyslots", true, 0, SIZE_MAX, bound_slots),
		JSON_ARRAY("segments", true, 0, SIZE_MAX, &segments),
		JSON_STRING("hash", true, 0, META_STRING_MAX, &hash),
		JSON_U64("iterations", true, 0, UINT64_MAX, &iterations),
		JSON_STRING("salt", true, 0, META_STRING_MAX, &salt),
		JSON_STRING("digest", true, 0, META_STRING_MAX, &digest),
	};
	const struct digest_hash *dh = NULL;
	int r;

	if (json_object_object_length(digests) != 1)
		return refuse(reason, reason_len,
			      "digests: exactly one digest is required (found %d)",
			      json_object_object_length(digests));
	json_object_object_foreach (digests, key, val) {
		(void)key;
		d = val;
	}
	if ((r = read_fields(d, "digest", fields, ARRAY_SIZE(fields), reason, reason_len)) < 0)
		return r;
	if (strcmp(type, "pbkdf2") != 0)
		return refuse(reason, reason_len, "digest: type '%.32s' refused", type);
	/* libcryptsetup 2.6.1 returns "verified" without comparing anything when the digest salt
	 * is not 32 bytes or the digest length is neither 20 nor the hash's size: any passphrase
	 * would then open any keyslot, and the volume would be activated with a garbage key. */
	for (size_t i = 0; i < ARRAY_SIZE(digest_hashes); i++)
		if (!strcmp(hash, digest_hashes[i].name))
			dh = &digest_hashes[i];
	if (!dh)
		return refuse(reason, reason_len, "digest: hash '%.32s' refused", hash);
	if (!base64_of_len(salt, 32))
		return refuse(reason, reason_len, "digest: 'salt' is not the base64 of 32 bytes");
	if (!base64_of_len(digest, dh->size) && !base64_of_len(digest, 20))
		return refuse(reason, reason_len,
			      "digest: 'digest' is not the base64 of the %zu bytes of %s", dh->size,
			      dh->name);
	if (iterations < 1000 || iterations > DIGEST_ITER_MAX)
		return refuse(reason, reason_len, "digest: %" PRIu64 " iterations out of range",
			      iterations);
	if (json_object_array_length(segments) != 1 || !str_array_has(segments, 0))
		return refuse(reason, reason_len, "digest: must cover exactly segment 0");
	return 0;
}

static int validate_tokens(json_object *tokens, enum luks_token_need need, int *token_id,
			   struct luks_token *token, char *reason, size_t reason_len)
{
	char why[LUKS_REASON_MAX];
	int found = -1;
	int r;

	json_object_object_foreach (tokens, key, val) {
		const char *type = NULL;
		/* Other tokens (systemd-fido2, ...) are not ours to judge beyond their type. */
		const struct json_field fields[] = {
			JSON_STRING("type", true, 0, META_STRING_MAX, &type),
			JSON_OTHERS_ALLOWED,
		};
		char what[32];

		snprintf(what, sizeof(what), "token %.8s", key);
		if ((r = read_fields(val, what, fields, ARRAY_SIZE(fields), reason, reason_len)) <
		    0)
			return r;
		if (strcmp(type, LUKS_TOKEN_TYPE) != 0)
			continue;
		if (found >= 0)
			return refuse(reason, reason_len,
				      "a second tdx-unlock token (%d and %.8s) refused: which one "
				      "to use would be the attacker's choice",
				      found, key);
		found = luks_object_id(key);
		if (found < 0 || found >= LUKS2_MAX_TOKEN)
			return refuse(reason, reason_len, "token %.8s: id out of range (0..%d)",
				      key, LUKS2_MAX_TOKEN - 1);
		r = luks_token_parse(json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN),
				     token, why, sizeof(why));
		if (r < 0)
			return refuse(reason, reason_len, "token %.8s: %s", key, why);
	}
	*token_id = found;
	if (found < 0 && need == LUKS_TOKEN_REQUIRED) {
		if (reason && reason_len)
			snprintf(reason, reason_len, "no tdx-unlock token");
		return -ENOENT;
	}
	if (found >= 0 && need == LUKS_TOKEN_ABSENT) {
		if (reason && reason_len)
			snprintf(reason, reason_len, "already enrolled (tdx-unlock token %d)",
				 found);
		return -EEXIST; /* the caller says what to do about it */
	}
	return 0;
}

/* The token's keyslot must exist and be one the token may use. */
static int validate_token_keyslot(json_object *keyslots, int tid, int slot, char *reason,
				  size_t reason_len)
{
	json_object *ks = NULL;
	char id[12];
	const struct json_field fields[] = {
		JSON_OBJECT(id, false, &ks),
		JSON_OTHERS_ALLOWED,
	};
	int r;

	snprintf(id, sizeof(id), "%d", slot);
	if ((r = read_fields(keyslots, "keyslots", fields, ARRAY_SIZE(fields), reason,
			     reason_len)) < 0)
		return r;
	if (!ks)
		return refuse(reason, reason_len, "token %d names keyslot %d, which does not exist",
			      tid, slot);
	return validate_our_keyslot(ks, slot, reason, reason_len);
}

int luks_allowlist_check(const char *metadata_json, int volume_key_bytes, enum luks_token_need need,
			 int *token_id, struct luks_token *token, char *reason, size_t reason_len)
{
	_cleanup_(json_object_putp) json_object *root = NULL;
	json_object *keyslots = NULL, *tokens = NULL, *segments = NULL, *digests = NULL,
		    *config = NULL, *bound = NULL;
	const struct json_field top[] = {
		JSON_OBJECT("config", true, &config),	  JSON_OBJECT("segments", true, &segments),
		JSON_OBJECT("keyslots", true, &keyslots), JSON_OBJECT("digests", true, &digests),
		JSON_OBJECT("tokens", true, &tokens),
	};
	struct area areas[LUKS2_MAX_KEYSLOT] = {0};
	struct layout lay = {.volume_key_bytes = volume_key_bytes};
	size_t n_areas = 0;
	int r, tid = -1;

	if (reason && reason_len)
		reason[0] = '\0';
	/* The same strict reader as every other JSON input (no duplicate members, bounded). */
	if (json_strict_parse(metadata_json, strlen(metadata_json), LUKS_METADATA_JSON_MAX, &root,
			      reason, reason_len) < 0)
		return -EBADMSG;
	if ((r = read_fields(root, "metadata", top, ARRAY_SIZE(top), reason, reason_len)) < 0)
		return r;

	if ((r = validate_config(config, &lay, reason, reason_len)) < 0 ||
	    (r = validate_segments(segments, &lay, reason, reason_len)) < 0 ||
	    (r = validate_digests(digests, &bound, reason, reason_len)) < 0)
		return r;

	json_object_object_foreach (keyslots, id, ks) {
		if (n_areas >= ARRAY_SIZE(areas))
			return refuse(reason, reason_len, "too many keyslots");
		if ((r = validate_keyslot(id, ks, &lay, &areas[n_areas], reason, reason_len)) < 0)
			return r;
		if (!str_array_has(bound, luks_object_id(id)))
			return refuse(reason, reason_len,
				      "keyslot %.8s is not bound to the data segment", id);
		for (size_t i = 0; i < n_areas; i++)
			if (areas[n_areas].offset < areas[i].offset + areas[i].size &&
			    areas[i].offset < areas[n_areas].offset + areas[n_areas].size)
				return refuse(reason, reason_len,
					      "keyslot %.8s: area overlaps another keyslot", id);
		n_areas++;
	}

	r = validate_tokens(tokens, need, &tid, token, reason, reason_len);
	if (token_id)
		*token_id = tid;
	if (r < 0)
		return r;
	if (tid >= 0)
		return validate_token_keyslot(keyslots, tid, token->keyslot, reason, reason_len);
	return 0;
}
