#include "rootkey.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kdf.h"
#include "log.h"
#include "secmem.h"

struct rootkey {
	uint8_t *key; /* secmem, ROOTKEY_LEN */
};

int rootkey_load(const char *path, struct rootkey **out)
{
	struct rootkey *k = NULL;
	struct stat st;
	ssize_t n;
	uint8_t extra;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	if (fd < 0)
		return log_error_errno(-errno, "root key: cannot open %s: %m", path);
	if (fstat(fd, &st) < 0) {
		r = log_error_errno(-errno, "root key: cannot stat %s: %m", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = log_error_errno(-EINVAL, "root key: %s is not a regular file", path);
		goto out;
	}
	if ((st.st_mode & 07777) != 0600) {
		r = log_error_errno(-EPERM,
				    "root key: %s has mode %04o; it must be 0600 (readable by its "
				    "owner only)",
				    path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	/* Whoever owns it can read or replace it: only the user keyd runs as, or root. */
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		r = log_error_errno(-EPERM,
				    "root key: %s is owned by uid %u; it must be owned by the user "
				    "running tdx-keyd (uid %u) or root",
				    path, (unsigned)st.st_uid, (unsigned)geteuid());
		goto out;
	}
	if (st.st_size != ROOTKEY_LEN) {
		r = log_error_errno(-EINVAL, "root key: %s must hold exactly %d bytes, not %lld",
				    path, ROOTKEY_LEN, (long long)st.st_size);
		goto out;
	}
	k = calloc(1, sizeof(*k));
	if (!k || !(k->key = secmem_alloc(ROOTKEY_LEN))) {
		r = -ENOMEM;
		goto out;
	}
	n = read(fd, k->key, ROOTKEY_LEN);
	if (n != ROOTKEY_LEN || read(fd, &extra, 1) != 0) {
		r = log_error_errno(-EIO, "root key: short or changing read of %s", path);
		goto out;
	}
	*out = k;
	k = NULL;
out:
	rootkey_free(k);
	close(fd);
	return r;
}

void rootkey_free(struct rootkey *k)
{
	if (!k)
		return;
	secmem_free(k->key);
	free(k);
}

int rootkey_disk_secret(const struct rootkey *k, const char *policy_id, const char *resource,
			uint32_t key_version, uint8_t *out)
{
	return kdf_disk_secret(k->key, ROOTKEY_LEN, policy_id, resource, key_version, out);
}

int rootkey_subkey(const struct rootkey *k, const char *label, uint8_t out[32])
{
	char msg[128];
	unsigned int len = 0;
	int n;

	n = snprintf(msg, sizeof(msg), "tdx-unlock/%s", label);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return -EINVAL;
	if (!HMAC(EVP_sha256(), k->key, ROOTKEY_LEN, (const uint8_t *)msg, (size_t)n, out, &len) ||
	    len != 32)
		return log_error_errno(-EIO, "root key: HMAC failed");
	return 0;
}
