/* Unlocking a validated LUKS2 header copy: derive the keyslot passphrase from the released
 * secret and open exactly the token's keyslot, or open any keyslot with a human's passphrase;
 * always on the data device pinned when the header was read (luks_header_pinned()). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "luks_header.h"

#define LUKS_NAME_MAX 127 /* device-mapper name length limit */

/* The name systemd-cryptsetup and cryptroot use by default: "luks-<UUID>". */
int luks_default_name(const struct luks_header *h, char *name, size_t name_len);

/* passphrase = HKDF-SHA256(secret, salt = token salt, info = "tdx-unlock/v1" || UUID || keyslot),
 * into secure memory (*passphrase from secmem_alloc, free with secmem_free). */
int luks_passphrase_derive(const uint8_t *secret, size_t secret_len, const struct luks_token *tok,
			   const char *uuid, uint8_t **passphrase, size_t *passphrase_len);

/* Derives the passphrase and opens the token's keyslot of the validated copy. name NULL only
 * verifies the passphrase (no device-mapper device; what `--test-passphrase` does); otherwise the
 * device is activated as name (flags: CRYPT_ACTIVATE_*). Returns 0, -EPERM (the passphrase does
 * not open the keyslot), -EEXIST (a mapping of that name exists already) or another negative
 * errno (activation failed). */
int luks_unlock(const struct luks_header *h, const uint8_t *secret, size_t secret_len,
		const char *name, uint32_t flags);

/* Optional, ahead of the first activation: asks device-mapper for its crypt target, which makes
 * the kernel load dm-crypt (a modprobe it would otherwise run inside the activation). Opens no
 * device; a failure is left to the activation to report. */
void luks_activate_prepare(void);

/* Opens any keyslot of the validated copy with a typed passphrase (len bytes) and activates the
 * pinned data device as name (NULL: verify only). Returns 0, -EPERM (no keyslot opens), -EEXIST,
 * -ESTALE (the data device changed), or another negative errno (activation failed). */
int luks_open_passphrase(const struct luks_header *h, const char *passphrase, size_t len,
			 const char *name, uint32_t flags);

/* Whether device-mapper device name is the crypt mapping of h, as the kernel's sysfs tells
 * (TDX_UNLOCK_TEST_SYS_BLOCK: a fake /sys/class/block for tests): dm/uuid is
 * CRYPT-LUKS2-<h's UUID without dashes>-name and, for a block device, its one slave is the pinned
 * data device. Reads no disk. Returns 1 (ours), 0 (no mapping of that name in sysfs) or -EEXIST
 * (a mapping of that name that is not ours: an LVM volume, another disk's mapping; logged). */
int luks_mapping_owned(const struct luks_header *h, const char *name);

/* For the guard, before it reads a header: whether the device-mapper device name (sysfs) is a
 * LUKS2 crypt mapping of that name (dm/uuid CRYPT-LUKS2-<uuid>-name), as only the agent and the
 * guard create in the initramfs; whose it is, luks_mapping_owned() tells. Returns 1 (it is), 0 (no
 * mapping of that name in sysfs) or -EEXIST (a mapping of that name that is something else: an
 * LVM volume; logged). */
int luks_mapping_is_crypt(const char *name);
