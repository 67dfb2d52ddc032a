#define _GNU_SOURCE /* memfd_create, file sealing */
#include "luks_header.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <json-c/json.h>
#include <libcryptsetup.h>

#include "cleanup.h"
#include "log.h"

/* LUKS2 caps the keyslot area at 128 MiB and each JSON copy at 4 MiB. */
#define AREA_COPY_MAX	  ((uint64_t)1 << 20) /* > the 256000 bytes of AF stripes of 512-bit key */
#define COPY_CHUNK	  ((size_t)64 << 10)
#define DIGEST_ITER_MAX	  4000000 /* libcryptsetup benchmarks ~1/8 s; this bounds a hostile one */
#define LUKS2_MAX_KEYSLOT 32
#define LUKS2_MAX_TOKEN	  32 /* libcryptsetup's token calls see ids 0..31 only */

DEFINE_CLEANUP_FUNC(json_object, json_object_put)
DEFINE_CLEANUP_FUNC(struct crypt_device, crypt_free)

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

static int refuse(struct refusal *rf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Every refusal names its cause: logged, and handed to the caller for check and the tests. */
static int refuse(struct refusal *rf, const char *fmt, ...)
{
	char msg[LUKS_REASON_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Names taken from the header are attacker-chosen: no control characters into the logs. */
	luks_text_printable(msg);
	if (rf->buf && rf->len)
		snprintf(rf->buf, rf->len, "%s", msg);
	return log_error_errno(-EBADMSG, "LUKS2 header refused: %s", msg);
}

/* What libcryptsetup said while loading a header: its validation failures are debug messages. */
struct load_capture {
	char error[LUKS_REASON_MAX];
	char debug[LUKS_REASON_MAX];
	bool frozen; /* the message before the first validation failure is the one that matters */
};

static void cryptsetup_log(int level, const char *msg, void *usrptr)
{
	struct load_capture *cap = usrptr;
	size_t n = strcspn(msg, "\n");

	if (level == CRYPT_LOG_DEBUG_JSON)
		return;
	if (level == CRYPT_LOG_DEBUG) {
		if (!cap || cap->frozen)
			return;
		if (!strncmp(msg, "ERROR:", 6) || !strncmp(msg, "Repairing JSON", 14))
			cap->frozen = true;
		else
			snprintf(cap->debug, sizeof(cap->debug), "%.*s", (int)n, msg);
		return;
	}
	if (level == CRYPT_LOG_ERROR && cap && !cap->error[0])
		snprintf(cap->error, sizeof(cap->error), "%.*s", (int)n, msg);
	log_debug("libcryptsetup: %.*s", (int)n, msg);
}

/* Loads the LUKS2 header of cd; on failure says why in rf, in libcryptsetup's own words. */
static int header_load_explained(struct crypt_device *cd, const char *device, struct refusal *rf)
{
	struct load_capture cap = {0};
	int r;

	crypt_set_log_callback(cd, cryptsetup_log, &cap);
	/* Debug level is process-wide in libcryptsetup; only raised for this one call. */
	crypt_set_debug_level(CRYPT_DEBUG_ALL);
	r = crypt_load(cd, CRYPT_LUKS2, NULL);
	crypt_set_debug_level(CRYPT_DEBUG_NONE);
	crypt_set_log_callback(cd, cryptsetup_log, NULL);
	if (r < 0)
		return refuse(rf, "%s: not a valid LUKS2 header: %s", device,
			      cap.frozen && cap.debug[0] ? cap.debug
			      : cap.error[0]		 ? cap.error
							 : strerror(-r));
	return 0;
}

void luks_log_attach(struct crypt_device *cd)
{
	crypt_set_log_callback(cd, cryptsetup_log, NULL);
}

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

static int get_str(struct refusal *rf, json_object *o, const char *what, const char *key,
		   const char **out)
{
	json_object *v;
	int r = get_typed(rf, o, what, key, json_type_string, &v);

	*out = "";
	if (r == 0)
		*out = json_object_get_string(v);
	return r;
}

static int get_int(struct refusal *rf, json_object *o, const char *what, const char *key,
		   int64_t *out)
{
	json_object *v;
	int r = get_typed(rf, o, what, key, json_type_int, &v);

	*out = 0;
	if (r == 0)
		*out = json_object_get_int64(v);
	return r;
}

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

static bool uuid_canonical(const char *u)
{
	if (!u || strlen(u) != LUKS_UUID_LEN)
		return false;
	for (int i = 0; i < LUKS_UUID_LEN; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		char c = u[i];
		if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
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

/* Keyslot and token ids are object keys libcryptsetup has already checked to be numbers. */
static int object_id(const char *key)
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
		found = object_id(key);
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

int luks_header_validate(struct crypt_device *cd, enum luks_token_need need,
			 char uuid[LUKS_UUID_LEN + 1], int *token_id, struct luks_token *token,
			 char *reason, size_t reason_len)
{
	static const char *const top[] = {"keyslots", "tokens", "segments", "digests", "config"};
	struct refusal rf = {reason, reason_len};
	_cleanup_(json_object_putp) json_object *root = NULL;
	json_object *keyslots, *tokens, *segments, *digests, *config, *bound = NULL;
	struct area areas[LUKS2_MAX_KEYSLOT] = {0};
	struct layout lay = {0};
	const char *json, *type, *u;
	uint32_t req = 0;
	size_t n_areas = 0;
	int r, tid = -1;

	if (reason && reason_len)
		reason[0] = '\0';
	type = crypt_get_type(cd);
	if (!type || strcmp(type, CRYPT_LUKS2) != 0)
		return refuse(&rf, "not LUKS2 (%s)", type ? type : "no header");
	u = crypt_get_uuid(cd);
	if (!uuid_canonical(u))
		return refuse(&rf, "UUID '%.40s' is not in canonical lowercase form", u ? u : "");
	lay.volume_key_bytes = crypt_get_volume_key_size(cd);

	r = crypt_dump_json(cd, &json, 0);
	if (r < 0)
		return refuse(&rf, "libcryptsetup could not export the metadata (%d)", r);
	root = json_tokener_parse(json);
	if (!root || !json_object_is_type(root, json_type_object))
		return refuse(&rf, "metadata is not a JSON object");
	if ((r = only_members(&rf, root, "metadata", top, ARRAY_SIZE(top))) < 0 ||
	    (r = get_typed(&rf, root, "metadata", "config", json_type_object, &config)) < 0 ||
	    (r = get_typed(&rf, root, "metadata", "segments", json_type_object, &segments)) < 0 ||
	    (r = get_typed(&rf, root, "metadata", "keyslots", json_type_object, &keyslots)) < 0 ||
	    (r = get_typed(&rf, root, "metadata", "digests", json_type_object, &digests)) < 0 ||
	    (r = get_typed(&rf, root, "metadata", "tokens", json_type_object, &tokens)) < 0)
		return r;

	if ((r = validate_config(&rf, config, &lay)) < 0)
		return r;
	/* libcryptsetup's own view, in case its JSON export ever hides something. */
	if (crypt_reencrypt_status(cd, NULL) != CRYPT_REENCRYPT_NONE)
		return refuse(&rf, "reencryption in progress or unknown requirement");
	r = crypt_persistent_flags_get(cd, CRYPT_FLAGS_REQUIREMENTS, &req);
	if (r < 0 || req)
		return refuse(&rf, "requirement flags 0x%x set (reencryption or unknown feature)",
			      req);
	if ((r = validate_segments(&rf, segments, &lay)) < 0 ||
	    (r = validate_digests(&rf, digests, &bound)) < 0)
		return r;

	json_object_object_foreach (keyslots, id, ks) {
		if (n_areas >= ARRAY_SIZE(areas))
			return refuse(&rf, "too many keyslots");
		if ((r = validate_keyslot(&rf, id, ks, &lay, &areas[n_areas])) < 0)
			return r;
		if (!str_array_has(bound, object_id(id)))
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
		crypt_keyslot_info st;

		snprintf(slot, sizeof(slot), "%d", token->keyslot);
		if (!json_object_object_get_ex(keyslots, slot, &slot_obj))
			return refuse(&rf, "token %d names keyslot %d, which does not exist", tid,
				      token->keyslot);
		st = crypt_keyslot_status(cd, token->keyslot);
		if (st != CRYPT_SLOT_ACTIVE && st != CRYPT_SLOT_ACTIVE_LAST)
			return refuse(&rf, "token %d: keyslot %d is not active", tid,
				      token->keyslot);
		if ((r = validate_our_keyslot(&rf, slot_obj, token->keyslot)) < 0)
			return r;
	}

	if (uuid)
		snprintf(uuid, LUKS_UUID_LEN + 1, "%s", u);
	if (token_id)
		*token_id = tid;
	return 0;
}

/* The keyslot the device's tdx-unlock token names, as the device's own header says; -1 when
 * there is no such token, or more than one (validation of the copy then refuses). */
static int token_keyslot(struct crypt_device *cd)
{
	int slot = -1;

	for (int t = 0; t < LUKS2_MAX_TOKEN; t++) {
		_cleanup_(json_object_putp) json_object *o = NULL;
		json_object *type, *slots;
		const char *json;

		if (crypt_token_json_get(cd, t, &json) < 0)
			continue;
		o = json_tokener_parse(json);
		if (!o || !json_object_object_get_ex(o, "type", &type) ||
		    !json_object_is_type(type, json_type_string) ||
		    strcmp(json_object_get_string(type), LUKS_TOKEN_TYPE) != 0)
			continue;
		if (slot >= 0 || !json_object_object_get_ex(o, "keyslots", &slots) ||
		    !json_object_is_type(slots, json_type_array) ||
		    json_object_array_length(slots) != 1 ||
		    !json_object_is_type(json_object_array_get_idx(slots, 0), json_type_string))
			return -1;
		slot = object_id(json_object_get_string(json_object_array_get_idx(slots, 0)));
	}
	return slot;
}

static int copy_range(int in, int out, uint64_t offset, uint64_t len)
{
	uint8_t *buf = malloc(COPY_CHUNK);
	int r = 0;

	if (!buf)
		return -ENOMEM;
	while (r == 0 && len > 0) {
		size_t want = len < COPY_CHUNK ? (size_t)len : COPY_CHUNK;
		ssize_t n = pread(in, buf, want, (off_t)offset), done = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO; /* EIO: the device is shorter than its header */
			break;
		}
		while (r == 0 && done < n) {
			ssize_t w =
				pwrite(out, buf + done, (size_t)(n - done), (off_t)offset + done);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				r = w < 0 ? -errno : -EIO;
			else
				done += w;
		}
		offset += (uint64_t)n;
		len -= (uint64_t)n;
	}
	free(buf);
	return r;
}

/* Copies what validation and activation read: both binary headers with their JSON areas, and
 * the area of the keyslot the token names, at their offsets in a file as long as header plus
 * keyslot area. The rest stays a hole that reads as zeros and takes no memory, so a hostile
 * 128 MiB keyslot area on each of many disks cannot exhaust the TD's memory. The copy is a
 * sealed memfd. Without /proc (a bare chroot) a memfd has no path libcryptsetup could open: the
 * copy then is a read-only file in a private 0700 directory on a tmpfs until
 * luks_header_free(). copy_path receives the path libcryptsetup is to use. */
static int header_copy(struct crypt_device *src, struct luks_header *h, char *copy_path,
		       size_t copy_path_len)
{
	static const char *const bases[] = {"/run", "/dev/shm", "/tmp"};
	char dir[64] = "", path[80] = "";
	uint64_t hdr_size = 0, keyslots_size = 0, total, area_off = 0, area_len = 0;
	bool no_proc = access("/proc/self/fd", X_OK) < 0;
	int in = -1, fd = -1, slot, r;

	r = crypt_get_metadata_size(src, &hdr_size, &keyslots_size);
	if (r < 0 || hdr_size < 4096 || hdr_size > (4u << 20) + 4096 ||
	    keyslots_size > (128u << 20)) {
		r = log_error_errno(-EFBIG, "%s: LUKS2 header sizes out of range", h->device);
		goto out;
	}
	total = 2 * hdr_size + keyslots_size;
	slot = token_keyslot(src);
	if (slot >= 0 && crypt_keyslot_area(src, slot, &area_off, &area_len) == 0 &&
	    area_off >= 2 * hdr_size && area_off < total) {
		/* libcryptsetup reads only the AF stripes at the start of the area. */
		uint64_t room = total - area_off;
		if (area_len > AREA_COPY_MAX)
			area_len = AREA_COPY_MAX;
		if (area_len > room)
			area_len = room;
	} else {
		area_len = 0;
	}

	in = open(h->device, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		r = log_error_errno(-errno, "%s: cannot open: %m", h->device);
		goto out;
	}
	if (no_proc) {
		/* A RAM-backed place first (the copy must not touch a disk), then anything
		 * writable. */
		for (int pass = 0; pass < 2 && !dir[0]; pass++)
			for (size_t i = 0; i < ARRAY_SIZE(bases) && !dir[0]; i++) {
				struct statfs sf;
				if (pass == 0 &&
				    (statfs(bases[i], &sf) < 0 ||
				     (sf.f_type != TMPFS_MAGIC && sf.f_type != RAMFS_MAGIC)))
					continue;
				snprintf(dir, sizeof(dir), "%s/tdx-unlock.XXXXXX", bases[i]);
				if (!mkdtemp(dir))
					dir[0] = '\0';
			}
		if (!dir[0]) {
			r = log_error_errno(-errno,
					    "header copy: no private temporary directory: %m");
			goto out;
		}
		snprintf(path, sizeof(path), "%s/header", dir);
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	} else {
		fd = memfd_create("tdx-unlock-luks-header", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	}
	if (fd < 0) {
		r = log_error_errno(-errno, "header copy: %m");
		goto out;
	}
	if (ftruncate(fd, (off_t)total) < 0) {
		r = log_error_errno(-errno, "header copy: %m");
		goto out;
	}
	r = copy_range(in, fd, 0, 2 * hdr_size);
	if (r == 0)
		r = copy_range(in, fd, area_off, area_len);
	if (r < 0) {
		log_error_errno(r, "%s: copying the LUKS2 header failed: %s", h->device,
				strerror(-r));
		goto out;
	}
	if (no_proc) {
		if (fchmod(fd, 0400) < 0 || !(h->copy_dir = strdup(dir))) {
			r = log_error_errno(-errno, "header copy: %m");
			goto out;
		}
		log_debug("%s: no /proc, header copy kept in %s", h->device, path);
		snprintf(copy_path, copy_path_len, "%s", path);
		dir[0] = path[0] = '\0'; /* removed by luks_header_free() */
		r = 0;
		goto out;
	}
	/* From here on nobody can change the bytes we validate and activate from. */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		r = log_error_errno(-errno, "header copy: sealing: %m");
		goto out;
	}
	snprintf(copy_path, copy_path_len, "/proc/self/fd/%d", fd);
	h->copy_fd = fd;
	fd = -1;
	r = 0;
out:
	if (in >= 0)
		close(in);
	if (fd >= 0)
		close(fd);
	if (path[0])
		(void)unlink(path);
	if (dir[0])
		(void)rmdir(dir);
	return r;
}

void luks_header_free(struct luks_header *h)
{
	if (!h)
		return;
	crypt_free(h->cd);
	if (h->copy_fd >= 0)
		close(h->copy_fd);
	if (h->copy_dir) {
		char path[80];
		snprintf(path, sizeof(path), "%s/header", h->copy_dir);
		(void)unlink(path);
		(void)rmdir(h->copy_dir);
		free(h->copy_dir);
	}
	free(h->device);
	free(h);
}

/* The one intake path of unlock, check and check-header: copy, load the copy, validate it. */
static int header_load_validated(const char *device, enum luks_token_need need,
				 struct luks_header **out, char *reason, size_t reason_len)
{
	_cleanup_(crypt_freep) struct crypt_device *src = NULL;
	struct luks_header *h = NULL;
	struct refusal rf = {reason, reason_len};
	char copy_path[96];
	int r;

	if (reason && reason_len)
		reason[0] = '\0';
	r = crypt_init(&src, device);
	if (r < 0) {
		if (reason && reason_len)
			snprintf(reason, reason_len, "cannot open %s", device);
		return log_error_errno(-ENODEV, "%s: cannot open device (%d)", device, r);
	}
	r = header_load_explained(src, device, &rf);
	if (r < 0)
		return r;

	h = calloc(1, sizeof(*h));
	if (!h)
		return log_error_errno(-ENOMEM, "out of memory");
	h->copy_fd = -1;
	h->device = strdup(device);
	if (!h->device) {
		r = log_error_errno(-ENOMEM, "out of memory");
		goto out;
	}
	r = header_copy(src, h, copy_path, sizeof(copy_path));
	if (r < 0) {
		if (reason && reason_len)
			snprintf(reason, reason_len, "could not copy the header of %s", device);
		goto out;
	}
	crypt_free(TAKE_PTR(src));

	r = crypt_init_data_device(&h->cd, copy_path, device);
	if (r < 0) {
		if (reason && reason_len)
			snprintf(reason, reason_len, "cannot use the header copy");
		log_error_errno(r, "%s: libcryptsetup cannot use the header copy", device);
		goto out;
	}
	r = header_load_explained(h->cd, device, &rf);
	if (r < 0)
		goto out;

	r = luks_header_validate(h->cd, need, h->uuid, &h->token_id, &h->token, reason, reason_len);
	if (r == -ENOENT)
		log_debug_errno(r, "%s: no tdx-unlock token", device);
	if (r < 0)
		goto out;
	*out = h;
	h = NULL;
out:
	luks_header_free(h);
	return r;
}

int luks_header_load(const char *device, struct luks_header **out, char *reason, size_t reason_len)
{
	return header_load_validated(device, LUKS_TOKEN_REQUIRED, out, reason, reason_len);
}

int luks_header_load_any(const char *device, struct luks_header **out, char *reason,
			 size_t reason_len)
{
	return header_load_validated(device, LUKS_TOKEN_ANY, out, reason, reason_len);
}

int luks_device_has_token(const char *device)
{
	static const uint8_t magic[8] = {'L', 'U', 'K', 'S', 0xba, 0xbe, 0x00, 0x02};
	_cleanup_(crypt_freep) struct crypt_device *cd = NULL;
	uint8_t head[8];
	ssize_t n;
	int fd, r;

	/* Cheap probe first: most block devices are not LUKS2 at all. */
	fd = open(device, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	n = pread(fd, head, sizeof(head), 0);
	close(fd);
	if (n != (ssize_t)sizeof(head) || memcmp(head, magic, sizeof(magic)) != 0)
		return 0;

	r = crypt_init(&cd, device);
	if (r < 0)
		return r;
	luks_log_attach(cd);
	if (crypt_load(cd, CRYPT_LUKS2, NULL) < 0)
		return 0;
	for (int t = 0; t < LUKS2_MAX_KEYSLOT; t++) {
		const char *type = NULL;
		crypt_token_info ti = crypt_token_status(cd, t, &type);
		if (ti == CRYPT_TOKEN_INVALID)
			break;
		if (ti != CRYPT_TOKEN_INACTIVE && type && !strcmp(type, LUKS_TOKEN_TYPE))
			return 1;
	}
	return 0;
}

void luks_device_list_free(char **devices)
{
	if (!devices)
		return;
	for (char **p = devices; *p; p++)
		free(*p);
	free(devices);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int luks_discover(const char *sys_block_dir, const char *dev_dir, char ***devices, size_t *n)
{
	char **list = NULL;
	size_t count = 0;
	DIR *d;
	struct dirent *de;
	unsigned scanned = 0;
	int r = 0;

	sys_block_dir = sys_block_dir ? sys_block_dir : "/sys/class/block";
	dev_dir = dev_dir ? dev_dir : "/dev";
	list = calloc(LUKS_DISCOVER_MAX + 1, sizeof(*list));
	if (!list)
		return log_error_errno(-ENOMEM, "out of memory");
	d = opendir(sys_block_dir);
	if (!d) {
		r = log_error_errno(-errno, "discover: cannot read %s: %m", sys_block_dir);
		goto out;
	}
	/* Bounded: a VM has a handful of block devices, never thousands. */
	while ((de = readdir(d)) && scanned++ < 4096 && count < LUKS_DISCOVER_MAX) {
		char path[512];
		int has;

		if (de->d_name[0] == '.' || !strncmp(de->d_name, "dm-", 3) ||
		    !strncmp(de->d_name, "ram", 3) || !strncmp(de->d_name, "zram", 4))
			continue; /* dm devices are already opened volumes */
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dev_dir, de->d_name) >=
		    sizeof(path))
			continue;
		has = luks_device_has_token(path);
		if (has < 0)
			log_debug_errno(has, "discover: %s: skipped", path);
		if (has <= 0)
			continue;
		list[count] = strdup(path);
		if (!list[count]) {
			r = log_error_errno(-ENOMEM, "out of memory");
			goto out;
		}
		count++;
	}
	qsort(list, count, sizeof(*list), name_cmp);
	*devices = list;
	*n = count;
	list = NULL;
out:
	if (d)
		closedir(d);
	luks_device_list_free(list);
	return r;
}
