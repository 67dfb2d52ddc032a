/* LUKS2 header intake: copy a device's header into sealed memory, validate the copy against an
 * allow-list (CVE-2025-59054 and friends) and keep it for activation, so what was checked is
 * exactly what is used. Also finds the devices that carry a tdx-unlock token. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "luks_token.h"

struct crypt_device;

#define LUKS_UUID_LEN	     36 /* canonical lowercase text form */
#define LUKS_REASON_MAX	     256
#define LUKS_PBKDF2_ITER     1000  /* what enroll writes: the passphrase has 256 bits of entropy */
#define LUKS_PBKDF2_ITER_MAX 10000 /* refused above: a hostile header must not stall the boot */
#define LUKS_DISCOVER_MAX    64

/* A validated header copy bound to its data device. */
struct luks_header {
	char *device; /* data device (or image file) the header was read from */
	/* libcryptsetup context on the sealed copy + the data device. The copy holds the token's
	 * keyslot area only: other keyslots read as zeros and never open from it. */
	struct crypt_device *cd;
	char uuid[LUKS_UUID_LEN + 1];
	int token_id;
	struct luks_token token;
	int copy_fd;	/* sealed memfd holding the header copy */
	char *copy_dir; /* without /proc only: private directory holding the copy instead */
};

/* What the validation requires of the tdx-unlock token. */
enum luks_token_need {
	LUKS_TOKEN_REQUIRED, /* unlock/check: exactly one valid tdx-unlock token */
	LUKS_TOKEN_ABSENT,   /* enroll: no tdx-unlock token yet */
	LUKS_TOKEN_ANY,	     /* rotate/unenroll: at most one (validated when present) */
};

/* Copies device's LUKS2 header (binary headers, JSON areas, the token keyslot's area; the rest
 * of the keyslot area is a hole) into a sealed memfd, loads it with libcryptsetup as a detached
 * header for device, and validates it (luks_header_validate, LUKS_TOKEN_REQUIRED).
 * Returns 0, -ENOENT (no tdx-unlock token), -EBADMSG (header refused: reason says why), or another
 * negative errno (I/O, not LUKS2). reason may be NULL. */
int luks_header_load(const char *device, struct luks_header **out, char *reason, size_t reason_len);
/* Same copy and allow-list as luks_header_load, but a tdx-unlock token is optional (validated
 * when present; token_id -1 when absent). What the initramfs guard requires of every LUKS device
 * before anything, a passphrase prompt included, may open it. Returns 0, -EBADMSG (refused: reason
 * says why), or another negative errno (-ENODEV: cannot be opened). */
int luks_header_load_any(const char *device, struct luks_header **out, char *reason,
			 size_t reason_len);
void luks_header_free(struct luks_header *h);

/* Checks a loaded LUKS2 context against the allow-list: LUKS2; one crypt segment with an allowed
 * cipher and key size, no integrity, no flags, offset after the keyslot area; every keyslot of type
 * luks2 with an allowed area cipher/key size, inside the keyslot area and large enough for its AF
 * stripes, no overlaps; one PBKDF2 digest covering segment 0 and every keyslot, with a known hash,
 * a 32-byte salt and a digest of the hash's size (what libcryptsetup 2.6.1 would otherwise
 * "verify" without comparing); no requirements (reencryption) and only known flags; tdx-unlock
 * tokens per need (ids 0..31); the token's keyslot exists,
 * is bound to the segment and uses PBKDF2-SHA256 with LUKS_PBKDF2_ITER..LUKS_PBKDF2_ITER_MAX.
 * On success fills uuid/token_id/token (token_id -1 when absent). Returns 0, -ENOENT (token
 * required but absent) or -EBADMSG with reason set. */
int luks_header_validate(struct crypt_device *cd, enum luks_token_need need,
			 char uuid[LUKS_UUID_LEN + 1], int *token_id, struct luks_token *token,
			 char *reason, size_t reason_len);

/* Routes libcryptsetup's messages for cd into our log (debug level). */
void luks_log_attach(struct crypt_device *cd);

/* 1 if device is LUKS2 with at least one tdx-unlock token, 0 if not, negative errno on error. */
int luks_device_has_token(const char *device);

/* Lists /dev/<name> for every block device in sys_block_dir (default "/sys/class/block") whose
 * header carries a tdx-unlock token; dev_dir defaults to "/dev". At most LUKS_DISCOVER_MAX.
 * *devices is a NULL-terminated malloc'ed array (free with luks_device_list_free). */
int luks_discover(const char *sys_block_dir, const char *dev_dir, char ***devices, size_t *n);
void luks_device_list_free(char **devices);
