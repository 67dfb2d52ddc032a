/* LUKS2 header intake: copy a device's header into sealed memory, validate the copy against the
 * allow-list (luks_allowlist.h) and keep it for activation, so what was checked is exactly what
 * is used. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <libcryptsetup.h>

#include "cleanup.h"
#include "luks_allowlist.h"

/* The one cleanup for libcryptsetup contexts: _cleanup_(crypt_freep). */
DEFINE_CLEANUP_FUNC(struct crypt_device, crypt_free)

#define LUKS_UUID_LEN	   36 /* canonical lowercase text form */
#define LUKS_DATA_PATH_MAX 4096

/* A validated header copy bound to its data device. */
struct luks_header {
	char *device; /* data device (or image file) the header was read from, for messages */
	/* The data device, opened once: the header copy was read from this descriptor, and
	 * libcryptsetup reaches the device only through it (data_path = /proc/self/fd/N), so a node
	 * or symlink swapped after validation changes nothing. data_rdev/data_ino: what fstat()
	 * said when the header was read (luks_header_pinned() checks it again before activation).
	 */
	int data_fd;
	bool data_is_blk;
	dev_t data_rdev; /* block device: st_rdev; image file: st_dev */
	ino_t data_ino;
	char data_path[LUKS_DATA_PATH_MAX];
	/* libcryptsetup context on the sealed copy + the data device. The copy holds the areas of
	 * the active keyslots (each bounded), so a passphrase opens from it as the token does. */
	struct crypt_device *cd;
	char uuid[LUKS_UUID_LEN + 1];
	int token_id;
	struct luks_token token;
	int copy_fd;	/* sealed memfd holding the header copy */
	char *copy_dir; /* without /proc only: private directory holding the copy instead */
};

/* Opens device once (a block device or an image file) and copies its LUKS2 header from that
 * descriptor (binary headers, JSON areas, the areas of the active keyslots; the rest of the
 * keyslot area is a hole) into a sealed memfd, loads it with libcryptsetup as a detached
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
/* The same raw copy, loaded by libcryptsetup, without the allow-list: for commands that only
 * read metadata (list, discovery, the guard's look at an active mapping). uuid is filled only
 * when canonical (else empty); token_id (-1) and token are not filled; read h->cd. The
 * device is never written. Returns 0, -EBADMSG (not a LUKS2 header: reason says why), -ENODEV. */
int luks_header_load_unchecked(const char *device, struct luks_header **out, char *reason,
			       size_t reason_len);
void luks_header_free(struct luks_header *h);
DEFINE_CLEANUP_FUNC(struct luks_header, luks_header_free)

/* 0 when h's data descriptor is still the device (or file) whose header was validated: same
 * st_rdev (st_dev and inode for a file), and /proc/self/fd/N resolves to it; else -ESTALE
 * (logged). Called right before every activation. */
int luks_header_pinned(const struct luks_header *h);

/* Checks a loaded LUKS2 context: LUKS2 with a canonical lowercase UUID, its metadata passes
 * luks_allowlist_check(), libcryptsetup sees no reencryption or requirement flags, and the
 * token's keyslot is active. On success fills uuid/token_id/token (token_id -1 when absent).
 * Returns 0, -ENOENT (token required but absent), -EEXIST or -EBADMSG with reason set. */
int luks_header_validate(struct crypt_device *cd, enum luks_token_need need,
			 char uuid[LUKS_UUID_LEN + 1], int *token_id, struct luks_token *token,
			 char *reason, size_t reason_len);

/* Routes libcryptsetup's messages for cd into our log (debug level); cd NULL: for every context
 * created afterwards, and for crypt_init()'s own messages. */
void luks_log_attach(struct crypt_device *cd);

/* Logs "<device>: cannot open: <cause>" for a failed crypt_init() (r) and returns the cause as a
 * negative errno (ENOENT, EACCES, ... when the path itself is the problem). */
int luks_open_error(const char *device, int r);
