/* The LUKS2 metadata allow-list (CVE-2025-59054 and friends): a pure check of the JSON metadata
 * libcryptsetup exports (crypt_dump_json), so it can be tested and fuzzed without a device. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "luks_token.h"

#define LUKS_REASON_MAX	     256
#define LUKS_PBKDF2_ITER     1000  /* what enroll writes: the passphrase has 256 bits of entropy */
#define LUKS_PBKDF2_ITER_MAX 10000 /* refused above: a hostile header must not stall the boot */
#define LUKS2_MAX_TOKEN	     32	   /* libcryptsetup's token calls see ids 0..31 only */

/* What the validation requires of the tdx-unlock token. */
enum luks_token_need {
	LUKS_TOKEN_REQUIRED, /* unlock/check: exactly one valid tdx-unlock token */
	LUKS_TOKEN_ABSENT,   /* enroll: no tdx-unlock token yet */
	LUKS_TOKEN_ANY,	     /* rotate/unenroll: at most one (validated when present) */
};

/* Checks LUKS2 metadata JSON against the allow-list: only known members; one crypt segment with
 * an allowed cipher and a key of volume_key_bytes, no integrity, no flags, offset after the
 * keyslot area; every keyslot of type luks2 with an allowed area cipher/key size, inside the
 * keyslot area and large enough for its AF stripes, no overlaps; one PBKDF2 digest covering
 * segment 0 and every keyslot, with a known hash, a 32-byte salt and a digest of the hash's size
 * (what libcryptsetup 2.6.1 would otherwise "verify" without comparing); no requirements and only
 * known flags; tdx-unlock tokens per need (ids 0..31); the token's keyslot exists and uses
 * PBKDF2-SHA256 with LUKS_PBKDF2_ITER..LUKS_PBKDF2_ITER_MAX.
 * Sets *token_id (-1 when absent) and *token once the tokens are reached. Returns 0, -ENOENT
 * (token required but absent), -EEXIST (token present but need is LUKS_TOKEN_ABSENT) or
 * -EBADMSG, with reason set. */
int luks_allowlist_check(const char *metadata_json, int volume_key_bytes, enum luks_token_need need,
			 int *token_id, struct luks_token *token, char *reason, size_t reason_len);

/* A keyslot or token id (an object key of decimal digits) as a number; -1 when it is not one. */
int luks_object_id(const char *key);
