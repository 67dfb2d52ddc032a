#include "rootkey.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "kdf.h"
#include "log.h"
#include "p11_hmac_key.h"
#include "pkcs11_uri.h"
#include "secmem.h"

struct rootkey {
	uint8_t *key;		  /* file backend: secmem, ROOTKEY_LEN */
	struct p11_hmac_key *p11; /* token backend */
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

int rootkey_load_pkcs11(const char *uri, struct rootkey **out)
{
	struct pkcs11_uri u;
	struct rootkey *k;
	char reason[256];
	int r;

	r = pkcs11_uri_parse(uri, &u, reason, sizeof(reason));
	if (r < 0)
		return log_error_errno(r, "root key: root_key_pkcs11: %s", reason);
	k = calloc(1, sizeof(*k));
	r = k ? p11_hmac_key_open(&u, &k->p11) : -ENOMEM;
	if (r == 0)
		log_info("root key: key '%s' in a PKCS#11 token (module %s); every derivation "
			 "is an HMAC inside the token",
			 u.object, u.module_path);
	pkcs11_uri_done(&u);
	if (r < 0) {
		free(k);
		return r;
	}
	*out = k;
	return 0;
}

int rootkey_load_config(const struct keyd_config *cfg, struct rootkey **out)
{
	if (cfg->root_key_pkcs11)
		return rootkey_load_pkcs11(cfg->root_key_pkcs11, out);
	return rootkey_load(cfg->root_key_file, out);
}

void rootkey_free(struct rootkey *k)
{
	if (!k)
		return;
	secmem_free(k->key);
	p11_hmac_key_close(k->p11);
	free(k);
}

int rootkey_hmac(const struct rootkey *k, const void *msg, size_t len, uint8_t out[32])
{
	if (k->p11)
		return p11_hmac_key_sign(k->p11, msg, len, out);
	if (kdf_hmac_sha256(k->key, ROOTKEY_LEN, msg, len, out) < 0)
		return log_error_errno(-EIO, "root key: HMAC failed");
	return 0;
}

int rootkey_disk_secret(const struct rootkey *k, const char *policy_id, const char *resource,
			uint32_t key_version, uint8_t *out)
{
	_cleanup_free_ uint8_t *msg = NULL;
	size_t len;
	int r;

	r = kdf_disk_secret_message(policy_id, resource, key_version, &msg, &len);
	if (r < 0)
		return r;
	return rootkey_hmac(k, msg, len, out);
}

int rootkey_subkey(const struct rootkey *k, const char *label, uint8_t out[32])
{
	char msg[128];
	int n;

	n = snprintf(msg, sizeof(msg), "tdx-unlock/%s", label);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return -EINVAL;
	return rootkey_hmac(k, msg, (size_t)n, out);
}

int rootkey_import_pkcs11(const char *key_file, const char *uri)
{
	struct rootkey *k = NULL;
	struct pkcs11_uri u;
	char reason[256];
	int r;

	r = pkcs11_uri_parse(uri, &u, reason, sizeof(reason));
	if (r < 0)
		return log_error_errno(r, "root key: %s", reason);
	r = rootkey_load(key_file, &k);
	if (r == 0 && k)
		r = p11_hmac_key_import(&u, k->key, ROOTKEY_LEN);
	rootkey_free(k);
	pkcs11_uri_done(&u);
	return r;
}
