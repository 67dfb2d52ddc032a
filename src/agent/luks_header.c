#define _GNU_SOURCE /* memfd_create, file sealing */
#include "luks_header.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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
#include "json_strict.h"
#include "log.h"

#include "luks_allowlist.h"

/* LUKS2 caps the keyslot area at 128 MiB and each JSON copy at 4 MiB. */
#define AREA_COPY_MAX ((uint64_t)1 << 20) /* > the 256000 bytes of AF stripes of 512-bit key */
#define AF_STRIPES    4000u		  /* LUKS2 "luks1" anti-forensic splitter */
#define COPY_CHUNK    ((size_t)64 << 10)

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

/* Loads the LUKS2 header of cd; on failure says why in reason, in libcryptsetup's own words. */
static int header_load_explained(struct crypt_device *cd, const char *device, char *reason,
				 size_t reason_len)
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
		return luks_refuse(-EBADMSG, reason, reason_len, "%s: not a valid LUKS2 header: %s",
				   device,
				   cap.frozen && cap.debug[0] ? cap.debug
				   : cap.error[0]	      ? cap.error
							      : strerror(-r));
	return 0;
}

void luks_log_attach(struct crypt_device *cd)
{
	crypt_set_log_callback(cd, cryptsetup_log, NULL);
}

int luks_open_error(const char *device, int r)
{
	/* libcryptsetup reports a path that does not exist as ENOTBLK; the path's own error is
	 * the cause an operator can act on. */
	if (access(device, F_OK) < 0)
		r = -errno;
	return log_error_errno(r, "%s: cannot open: %m", device);
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

int luks_header_validate(struct crypt_device *cd, enum luks_token_need need,
			 char uuid[LUKS_UUID_LEN + 1], int *token_id, struct luks_token *token,
			 char *reason, size_t reason_len)
{
	const char *json, *type, *u;
	uint32_t req = 0;
	int r, tid = -1, *tidp = token_id ? token_id : &tid;

	if (reason && reason_len)
		reason[0] = '\0';
	type = crypt_get_type(cd);
	if (!type || strcmp(type, CRYPT_LUKS2) != 0)
		return luks_refuse(-EBADMSG, reason, reason_len, "not LUKS2 (%s)",
				   type ? type : "no header");
	u = crypt_get_uuid(cd);
	if (!uuid_canonical(u))
		return luks_refuse(-EBADMSG, reason, reason_len,
				   "UUID '%.40s' is not in canonical lowercase form", u ? u : "");
	r = crypt_dump_json(cd, &json, 0);
	if (r < 0)
		return luks_refuse(-EBADMSG, reason, reason_len,
				   "libcryptsetup could not export the metadata (%d)", r);
	r = luks_allowlist_check(json, crypt_get_volume_key_size(cd), need, tidp, token, reason,
				 reason_len);
	if (r < 0)
		return r;

	/* libcryptsetup's own view, in case its JSON export ever hides something. */
	if (crypt_reencrypt_status(cd, NULL) != CRYPT_REENCRYPT_NONE)
		return luks_refuse(-EBADMSG, reason, reason_len,
				   "reencryption in progress or unknown requirement");
	r = crypt_persistent_flags_get(cd, CRYPT_FLAGS_REQUIREMENTS, &req);
	if (r < 0 || req)
		return luks_refuse(-EBADMSG, reason, reason_len,
				   "requirement flags 0x%x set (reencryption or unknown feature)",
				   req);
	if (*tidp >= 0) {
		crypt_keyslot_info st = crypt_keyslot_status(cd, token->keyslot);

		if (st != CRYPT_SLOT_ACTIVE && st != CRYPT_SLOT_ACTIVE_LAST)
			return luks_refuse(-EBADMSG, reason, reason_len,
					   "token %d: keyslot %d is not active", *tidp,
					   token->keyslot);
	}
	if (uuid)
		snprintf(uuid, LUKS_UUID_LEN + 1, "%s", u);
	return 0;
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
 * the AF stripes of every active keyslot (at most 32, each bounded by its key size), at their
 * offsets in a file as long as header plus keyslot area. The rest stays a hole that reads as
 * zeros and takes no memory, so a hostile 128 MiB keyslot area on each of many disks cannot
 * exhaust the TD's memory. The copy is a
 * sealed memfd. Without /proc (a bare chroot) a memfd has no path libcryptsetup could open: the
 * copy then is a read-only file in a private 0700 directory on a tmpfs until
 * luks_header_free(). copy_path receives the path libcryptsetup is to use. */
/* The primary binary header's size, read raw: libcryptsetup never sees the device itself, so its
 * header "recovery" (crypt_load() rewriting a header whose checksum fails) cannot write to it. */
#define KEYSLOTS_SIZE_MAX (128u << 20)

static int raw_header_size(int in, const char *device, uint64_t *hdr_size, char *reason,
			   size_t reason_len)
{
	uint8_t b[16];
	uint64_t size = 0;
	ssize_t n;

	do
		n = pread(in, b, sizeof(b), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(b) || memcmp(b, "LUKS\xba\xbe", 6) != 0 || b[6] != 0 || b[7] != 2)
		return luks_refuse(-EBADMSG, reason, reason_len,
				   "%s: not a valid LUKS2 header: no LUKS2 primary header at "
				   "offset 0",
				   device);
	for (int i = 8; i < 16; i++)
		size = size << 8 | b[i];
	/* LUKS2 header sizes: 16 KiB .. 4 MiB, powers of two. */
	if (size < (16u << 10) || size > (4u << 20) || (size & (size - 1)))
		return luks_refuse(-EBADMSG, reason, reason_len,
				   "%s: not a valid LUKS2 header: header size %llu out of range",
				   device, (unsigned long long)size);
	*hdr_size = size;
	return 0;
}

static int header_copy(struct luks_header *h, char *copy_path, size_t copy_path_len, char *reason,
		       size_t reason_len)
{
	static const char *const bases[] = {"/run", "/dev/shm", "/tmp"};
	_cleanup_(crypt_freep) struct crypt_device *src = NULL;
	char dir[64] = "", path[80] = "", probe[96];
	uint64_t hdr_size = 0, keyslots_size = 0, total, area_off = 0, area_len = 0, raw_size = 0;
	bool no_proc = access("/proc/self/fd", X_OK) < 0;
	int in = h->data_fd, fd = -1, r;

	r = raw_header_size(in, h->device, &raw_size, reason, reason_len);
	if (r < 0)
		goto out;
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
	/* Both binary headers first, raw; libcryptsetup reads (and may "repair") only this copy.
	 * It wants room for the largest keyslot area allowed: a hole, no memory. */
	if (ftruncate(fd, (off_t)(2 * raw_size + KEYSLOTS_SIZE_MAX)) < 0) {
		r = log_error_errno(-errno, "header copy: %m");
		goto out;
	}
	r = copy_range(in, fd, 0, 2 * raw_size);
	if (r < 0) {
		log_error_errno(r, "%s: copying the LUKS2 header failed: %s", h->device,
				strerror(-r));
		goto out;
	}
	if (no_proc)
		snprintf(probe, sizeof(probe), "%s", path);
	else
		snprintf(probe, sizeof(probe), "/proc/self/fd/%d", fd);
	r = crypt_init_data_device(&src, probe, h->data_path);
	if (r < 0) {
		log_error_errno(r, "%s: libcryptsetup cannot use the header copy", h->device);
		goto out;
	}
	r = header_load_explained(src, h->device, reason, reason_len);
	if (r < 0)
		goto out;
	r = crypt_get_metadata_size(src, &hdr_size, &keyslots_size);
	if (r < 0 || hdr_size != raw_size || keyslots_size > KEYSLOTS_SIZE_MAX) {
		r = log_error_errno(-EFBIG, "%s: LUKS2 header sizes out of range", h->device);
		goto out;
	}
	total = 2 * hdr_size + keyslots_size;
	if (ftruncate(fd, (off_t)total) < 0) {
		r = log_error_errno(-errno, "header copy: %m");
		goto out;
	}
	/* Every active keyslot's AF stripes (what libcryptsetup reads of its area), so the token's
	 * keyslot and a human's passphrase both open from this copy and nothing is read later. */
	for (int slot = 0; slot < crypt_keyslot_max(CRYPT_LUKS2); slot++) {
		crypt_keyslot_info st = crypt_keyslot_status(src, slot);
		int key_size = crypt_keyslot_get_key_size(src, slot);

		if ((st != CRYPT_SLOT_ACTIVE && st != CRYPT_SLOT_ACTIVE_LAST) || key_size <= 0 ||
		    crypt_keyslot_area(src, slot, &area_off, &area_len) < 0 ||
		    area_off < 2 * hdr_size || area_off >= total)
			continue;
		if (area_len > ((uint64_t)key_size * AF_STRIPES + 4095) / 4096 * 4096)
			area_len = ((uint64_t)key_size * AF_STRIPES + 4095) / 4096 * 4096;
		if (area_len > AREA_COPY_MAX)
			area_len = AREA_COPY_MAX;
		if (area_len > total - area_off)
			area_len = total - area_off;
		r = copy_range(in, fd, area_off, area_len);
		if (r < 0) {
			log_error_errno(r, "%s: copying keyslot %d's area failed: %s", h->device,
					slot, strerror(-r));
			goto out;
		}
	}
	crypt_free(TAKE_PTR(src));
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
	if (fd >= 0)
		close(fd);
	if (path[0])
		(void)unlink(path);
	if (dir[0])
		(void)rmdir(dir);
	return r;
}

/* The one open of the data device: every later read (the header copy) and libcryptsetup's use
 * (activation, through /proc/self/fd/N) go through this descriptor. -ENODEV: cannot be opened or
 * is neither a block device nor a regular file (reason says why). */
static int data_device_open(struct luks_header *h, char *reason, size_t reason_len)
{
	struct stat st;
	int r;

	h->data_fd = open(h->device, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (h->data_fd < 0) {
		r = luks_open_error(h->device, -errno);
		if (reason && reason_len)
			snprintf(reason, reason_len, "cannot open %s: %s", h->device, strerror(-r));
		return -ENODEV;
	}
	if (fstat(h->data_fd, &st) < 0 || !(S_ISBLK(st.st_mode) || S_ISREG(st.st_mode))) {
		log_error("%s: neither a block device nor an image file", h->device);
		if (reason && reason_len)
			snprintf(reason, reason_len, "%s is neither a block device nor a file",
				 h->device);
		return -ENODEV;
	}
	h->data_is_blk = S_ISBLK(st.st_mode);
	h->data_rdev = h->data_is_blk ? st.st_rdev : st.st_dev;
	h->data_ino = st.st_ino;
	/* Without /proc (a bare chroot: tests, admin commands) the path is all there is. */
	if (access("/proc/self/fd", X_OK) == 0) {
		snprintf(h->data_path, sizeof(h->data_path), "/proc/self/fd/%d", h->data_fd);
	} else {
		log_debug("%s: no /proc: libcryptsetup gets the path, not the pinned descriptor",
			  h->device);
		if ((size_t)snprintf(h->data_path, sizeof(h->data_path), "%s", h->device) >=
		    sizeof(h->data_path))
			return log_error_errno(-ENAMETOOLONG, "%s: path too long", h->device);
	}
	return 0;
}

static bool stat_is_pinned(const struct luks_header *h, const struct stat *st)
{
	if (h->data_is_blk)
		return S_ISBLK(st->st_mode) && st->st_rdev == h->data_rdev;
	return S_ISREG(st->st_mode) && st->st_dev == h->data_rdev && st->st_ino == h->data_ino;
}

int luks_header_pinned(const struct luks_header *h)
{
	struct stat st;

	if (h->data_fd < 0 || fstat(h->data_fd, &st) < 0 || !stat_is_pinned(h, &st) ||
	    stat(h->data_path, &st) < 0 || !stat_is_pinned(h, &st))
		return log_error_errno(-ESTALE,
				       "%s: the data device is no longer the one whose header was "
				       "validated; not activated",
				       h->device);
	return 0;
}

void luks_header_free(struct luks_header *h)
{
	if (!h)
		return;
	crypt_free(h->cd);
	if (h->copy_fd >= 0)
		close(h->copy_fd);
	if (h->data_fd >= 0)
		close(h->data_fd);
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

/* The one intake path of unlock, check, check-header, list and discovery: copy, load the copy,
 * validate it (validate false: list and discovery only read the copy's metadata). */
static int header_load_copy(const char *device, bool validate, enum luks_token_need need,
			    struct luks_header **out, char *reason, size_t reason_len)
{
	struct luks_header *h = NULL;
	char copy_path[96];
	int r;

	if (reason && reason_len)
		reason[0] = '\0';
	h = calloc(1, sizeof(*h));
	if (!h)
		return log_error_errno(-ENOMEM, "out of memory");
	h->copy_fd = -1;
	h->data_fd = -1;
	h->device = strdup(device);
	if (!h->device) {
		free(h);
		return log_error_errno(-ENOMEM, "out of memory");
	}
	r = data_device_open(h, reason, reason_len);
	if (r < 0)
		goto out;
	r = header_copy(h, copy_path, sizeof(copy_path), reason, reason_len);
	if (r < 0) {
		if (reason && reason_len && !reason[0])
			snprintf(reason, reason_len, "could not copy the header of %s", device);
		goto out;
	}

	r = crypt_init_data_device(&h->cd, copy_path, h->data_path);
	if (r < 0) {
		if (reason && reason_len)
			snprintf(reason, reason_len, "cannot use the header copy");
		log_error_errno(r, "%s: libcryptsetup cannot use the header copy", device);
		goto out;
	}
	r = header_load_explained(h->cd, device, reason, reason_len);
	if (r < 0)
		goto out;

	h->token_id = -1;
	if (validate)
		r = luks_header_validate(h->cd, need, h->uuid, &h->token_id, &h->token, reason,
					 reason_len);
	else if (uuid_canonical(crypt_get_uuid(h->cd)))
		snprintf(h->uuid, sizeof(h->uuid), "%s", crypt_get_uuid(h->cd));
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
	return header_load_copy(device, true, LUKS_TOKEN_REQUIRED, out, reason, reason_len);
}

int luks_header_load_any(const char *device, struct luks_header **out, char *reason,
			 size_t reason_len)
{
	return header_load_copy(device, true, LUKS_TOKEN_ANY, out, reason, reason_len);
}

int luks_header_load_unchecked(const char *device, struct luks_header **out, char *reason,
			       size_t reason_len)
{
	return header_load_copy(device, false, LUKS_TOKEN_ANY, out, reason, reason_len);
}
