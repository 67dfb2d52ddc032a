/* Discovery: the block devices whose LUKS2 header carries a tdx-unlock token. */
#pragma once

#include <stddef.h>

#define LUKS_DISCOVER_MAX 64

/* 1 if device is LUKS2 with at least one tdx-unlock token, 0 if not, negative errno on error. */
int luks_device_has_token(const char *device);

/* Lists /dev/<name> for every block device in sys_block_dir whose header carries a tdx-unlock
 * token. NULL directories mean "/sys/class/block" and "/dev", or in tests
 * $TDX_UNLOCK_TEST_SYS_BLOCK and $TDX_UNLOCK_TEST_DEV_DIR (docs/testing.md). At most
 * LUKS_DISCOVER_MAX.
 * *devices is a NULL-terminated malloc'ed array (free with luks_device_list_free). */
int luks_discover(const char *sys_block_dir, const char *dev_dir, char ***devices, size_t *n);
void luks_device_list_free(char **devices);
