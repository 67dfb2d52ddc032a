/* Finds the block devices whose LUKS2 header carries a tdx-unlock token. */
#include "luks_discover.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libcryptsetup.h>

#include "cleanup.h"
#include "log.h"
#include "luks_allowlist.h"
#include "luks_header.h"

int luks_device_has_token(const char *device)
{
	static const uint8_t magic[8] = {'L', 'U', 'K', 'S', 0xba, 0xbe, 0x00, 0x02};
	_cleanup_(luks_header_freep) struct luks_header *h = NULL;
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

	/* libcryptsetup sees only the raw header copy: its header "recovery" cannot write here. */
	r = luks_header_load_unchecked(device, &h, NULL, 0);
	if (r < 0)
		return r == -EBADMSG ? 0 : r;
	for (int t = 0; t < LUKS2_MAX_TOKEN; t++) {
		const char *type = NULL;
		crypt_token_info ti = crypt_token_status(h->cd, t, &type);
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

	/* Tests point discovery at a fake tree (docs/testing.md). */
	if (!sys_block_dir)
		sys_block_dir = getenv("TDX_UNLOCK_TEST_SYS_BLOCK") ?: "/sys/class/block";
	if (!dev_dir)
		dev_dir = getenv("TDX_UNLOCK_TEST_DEV_DIR") ?: "/dev";
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
