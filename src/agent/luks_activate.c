#include "luks_activate.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include <libcryptsetup.h>
#include <libdevmapper.h>

#include "cleanup.h"
#include "fileio.h"
#include "kdf.h"
#include "log.h"
#include "secmem.h"

int luks_default_name(const struct luks_header *h, char *name, size_t name_len)
{
	if ((size_t)snprintf(name, name_len, "luks-%s", h->uuid) >= name_len)
		return log_error_errno(-ENAMETOOLONG, "device name for %s too long", h->device);
	return 0;
}

int luks_passphrase_derive(const uint8_t *secret, size_t secret_len, const struct luks_token *tok,
			   const char *uuid, uint8_t **passphrase, size_t *passphrase_len)
{
	uint8_t *p;
	int r;

	if (!secret || secret_len == 0)
		return log_error_errno(-EINVAL, "passphrase: empty secret");
	p = secmem_alloc(KDF_PASSPHRASE_LEN);
	if (!p)
		return log_error_errno(-ENOMEM, "passphrase: no secure memory");
	r = kdf_luks_passphrase(secret, secret_len, tok->salt, sizeof(tok->salt), uuid,
				(unsigned)tok->keyslot, p);
	if (r < 0) {
		secmem_free(p);
		return log_error_errno(r, "passphrase: derivation failed");
	}
	*passphrase = p;
	*passphrase_len = KDF_PASSPHRASE_LEN;
	return 0;
}

/* Activates keyslot (or CRYPT_ANY_SLOT) of the validated copy as name (NULL: verify only), the
 * data device checked to be the pinned one first. Logs every failure but -EPERM (the wrong
 * passphrase), which the callers word for what they tried; returns the keyslot that opened. */
static int activate_copy(const struct luks_header *h, const char *name, int keyslot,
			 const char *pass, size_t pass_len, uint32_t flags)
{
	int r;

	if (name && (!name[0] || strlen(name) > LUKS_NAME_MAX || strchr(name, '/')))
		return log_error_errno(-EINVAL, "%s: invalid device-mapper name", h->device);
	r = luks_header_pinned(h);
	if (r < 0)
		return r;
	r = crypt_activate_by_passphrase(h->cd, name, keyslot, pass, pass_len, flags);
	if (r == -EEXIST)
		return log_error_errno(r, "%s: a device named %s is already active", h->device,
				       name ? name : "?");
	if (r < 0 && r != -EPERM)
		return log_error_errno(r, "%s: activation as %s failed: %s", h->device,
				       name ? name : "(verification only)", strerror(-r));
	return r;
}

int luks_unlock(const struct luks_header *h, const uint8_t *secret, size_t secret_len,
		const char *name, uint32_t flags)
{
	_cleanup_secmem_ uint8_t *pass = NULL;
	size_t pass_len = 0;
	int r;

	r = luks_passphrase_derive(secret, secret_len, &h->token, h->uuid, &pass, &pass_len);
	if (r < 0)
		return r;
	/* Only our keyslot: the recovery keyslots are for the human at the prompt. */
	r = activate_copy(h, name, h->token.keyslot, (const char *)pass, pass_len, flags);
	if (r == -EPERM)
		return log_error_errno(r, "%s: the released secret does not open keyslot %d",
				       h->device, h->token.keyslot);
	if (r < 0)
		return r;
	if (name)
		log_info("%s: unlocked as /dev/mapper/%s (keyslot %d)", h->device, name,
			 h->token.keyslot);
	else
		log_info("%s: keyslot %d opens with the derived passphrase", h->device,
			 h->token.keyslot);
	return 0;
}

int luks_open_passphrase(const struct luks_header *h, const char *passphrase, size_t len,
			 const char *name, uint32_t flags)
{
	int r;

	/* Any keyslot of the validated copy: the human's recovery passphrase, on the bytes that
	 * were checked, and the data device pinned by its descriptor. */
	r = activate_copy(h, name, CRYPT_ANY_SLOT, passphrase, len, flags);
	if (r == -EPERM)
		return log_error_errno(r, "%s: the passphrase opens no keyslot", h->device);
	if (r < 0)
		return r;
	if (name)
		log_info(
			"%s: unlocked as /dev/mapper/%s with the passphrase (keyslot %d), from the "
			"validated header copy",
			h->device, name, r);
	else
		log_info("%s: the passphrase opens keyslot %d of the validated header copy",
			 h->device, r);
	return 0;
}

#define DM_UUID_MAX 128 /* device-mapper uuid length without its terminator */

/* The first line of dir/entry/file into buf (newline stripped); -errno when unreadable. */
static int sysfs_read_line(const char *dir, const char *entry, const char *file, char *buf,
			   size_t size)
{
	_cleanup_free_ uint8_t *data = NULL;
	char path[PATH_MAX];
	size_t len = 0;
	int r;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s/%s", dir, entry, file) >= sizeof(path))
		return -ENAMETOOLONG;
	r = file_read_all(path, size - 1, &data, &len);
	if (r < 0)
		return r;
	snprintf(buf, size, "%.*s", (int)strcspn((const char *)data, "\n"), (const char *)data);
	return 0;
}

/* Exactly one slave, and it is the block device dev. */
static bool dm_slave_is(const char *sys_block, const char *dm, dev_t dev)
{
	char slaves[PATH_MAX], entry[PATH_MAX], want[32], got[32] = "";
	size_t n = 0;
	struct dirent *de;
	DIR *d;

	if ((size_t)snprintf(slaves, sizeof(slaves), "%s/%s/slaves", sys_block, dm) >=
	    sizeof(slaves))
		return false;
	d = opendir(slaves);
	if (!d)
		return false;
	while ((de = readdir(d)) && n < 2) {
		if (de->d_name[0] == '.')
			continue;
		n++;
		if ((size_t)snprintf(entry, sizeof(entry), "slaves/%s/dev", de->d_name) >=
			    sizeof(entry) ||
		    sysfs_read_line(sys_block, dm, entry, got, sizeof(got)) < 0)
			got[0] = '\0';
	}
	closedir(d);
	snprintf(want, sizeof(want), "%u:%u", major(dev), minor(dev));
	return n == 1 && !strcmp(got, want);
}

int luks_mapping_owned(const struct luks_header *h, const char *name)
{
	const char *sys_block = getenv("TDX_UNLOCK_TEST_SYS_BLOCK") ?: "/sys/class/block";
	char want[sizeof("CRYPT-LUKS2--") + LUKS_UUID_LEN + LUKS_NAME_MAX], got[256];
	unsigned scanned = 0;
	struct dirent *de;
	size_t w;
	DIR *d;
	int r = 0;

	w = (size_t)snprintf(want, sizeof(want), "CRYPT-LUKS2-");
	for (const char *u = h->uuid; *u && w + 1 < sizeof(want); u++)
		if (*u != '-')
			want[w++] = *u;
	snprintf(want + w, sizeof(want) - w, "-%s", name);
	if (strlen(want) > DM_UUID_MAX)
		want[DM_UUID_MAX] = '\0'; /* libcryptsetup cuts the dm uuid there (long names) */
	d = opendir(sys_block);
	if (!d)
		return 0; /* no sysfs: crypt_status() alone decides (the caller refuses then) */
	/* Bounded: a VM has a handful of block devices. */
	while ((de = readdir(d)) && scanned++ < 4096) {
		if (strncmp(de->d_name, "dm-", 3) != 0 ||
		    sysfs_read_line(sys_block, de->d_name, "dm/name", got, sizeof(got)) < 0 ||
		    strcmp(got, name) != 0)
			continue;
		if (sysfs_read_line(sys_block, de->d_name, "dm/uuid", got, sizeof(got)) < 0 ||
		    strcmp(got, want) != 0 ||
		    (h->data_is_blk && !dm_slave_is(sys_block, de->d_name, h->data_rdev))) {
			r = log_error_errno(
				-EEXIST,
				"%s: /dev/mapper/%s exists but is not this volume's "
				"mapping (%s, dm uuid '%.80s'): not counted as unlocked",
				h->device, name, de->d_name, got);
			break;
		}
		r = 1;
		break;
	}
	closedir(d);
	return r;
}

int luks_mapping_is_crypt(const char *name)
{
	const char *sys_block = getenv("TDX_UNLOCK_TEST_SYS_BLOCK") ?: "/sys/class/block";
	char got[256];
	size_t nlen = strlen(name), glen;
	unsigned scanned = 0;
	struct dirent *de;
	DIR *d;
	int r = 0;

	d = opendir(sys_block);
	if (!d)
		return 0;
	while ((de = readdir(d)) && scanned++ < 4096) {
		if (strncmp(de->d_name, "dm-", 3) != 0 ||
		    sysfs_read_line(sys_block, de->d_name, "dm/name", got, sizeof(got)) < 0 ||
		    strcmp(got, name) != 0)
			continue;
		r = 1;
		if (sysfs_read_line(sys_block, de->d_name, "dm/uuid", got, sizeof(got)) < 0)
			got[0] = '\0';
		glen = strlen(got);
		if (strncmp(got, "CRYPT-LUKS2-", 12) != 0 || glen < 12 + nlen + 2 ||
		    got[glen - nlen - 1] != '-' || strcmp(got + glen - nlen, name) != 0)
			r = log_error_errno(
				-EEXIST,
				"/dev/mapper/%s exists but is no LUKS2 crypt mapping of "
				"that name (%s, dm uuid '%.80s')",
				name, de->d_name, got);
		break;
	}
	closedir(d);
	return r;
}

void luks_activate_prepare(void)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_GET_TARGET_VERSION);

	/* What libcryptsetup asks first when it activates ("dm target-version crypt"). */
	if (dmt && dm_task_set_name(dmt, "crypt") && dm_task_run(dmt))
		log_debug("dm-crypt target ready");
	if (dmt)
		dm_task_destroy(dmt);
}
