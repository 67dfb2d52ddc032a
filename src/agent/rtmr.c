#include "agent/rtmr.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "hexutil.h"
#include "log.h"

const char *rtmr3_path(void)
{
	const char *test_path = getenv(RTMR_TEST_PATH_ENV);

	if (!test_path || !test_path[0])
		return RTMR3_SYSFS_PATH;
	log_warn("rtmr: RTMR3 at %s (test hook " RTMR_TEST_PATH_ENV "), not the kernel's",
		 test_path);
	return test_path;
}

int rtmr_event_digest(const char *const *uuids, size_t n_uuids, uint8_t out[RTMR_DIGEST_LEN])
{
	static const uint8_t sep = 0;
	unsigned int len = 0;
	EVP_MD_CTX *ctx;
	int ok;

	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return log_error_errno(-ENOMEM, "rtmr: out of memory");
	ok = EVP_DigestInit_ex(ctx, EVP_sha384(), NULL) &&
	     EVP_DigestUpdate(ctx, RTMR_EVENT_LABEL, strlen(RTMR_EVENT_LABEL));
	for (size_t i = 0; ok && i < n_uuids; i++)
		ok = EVP_DigestUpdate(ctx, &sep, 1) &&
		     EVP_DigestUpdate(ctx, uuids[i], strlen(uuids[i]));
	ok = ok && EVP_DigestFinal_ex(ctx, out, &len) && len == RTMR_DIGEST_LEN;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return log_error_errno(-EIO, "rtmr: SHA-384 failed");
	return 0;
}

int rtmr_extend(const char *path, const uint8_t digest[RTMR_DIGEST_LEN])
{
	char hex[2 * RTMR_DIGEST_LEN + 1];
	ssize_t k;
	int fd, r = 0;

	if (!path || !path[0]) {
		log_info("rtmr: RTMR3 extension skipped: disabled by configuration (rtmr_path "
			 "\"\")");
		return -EOPNOTSUPP;
	}
	/* O_WRONLY without O_CREAT: a missing attribute means an older kernel, never a new file. */
	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR) {
			log_info("rtmr: RTMR3 extension skipped: the kernel offers no %s (needs "
				 "Linux "
				 ">= 6.16 with the TDX guest driver)",
				 path);
			return -EOPNOTSUPP;
		}
		return log_error_errno(-errno, "rtmr: cannot open %s: %m", path);
	}
	do
		k = write(fd, digest, RTMR_DIGEST_LEN);
	while (k < 0 && errno == EINTR);
	if (k < 0)
		r = log_error_errno(-errno, "rtmr: extending through %s failed: %m", path);
	else if (k != RTMR_DIGEST_LEN)
		r = log_error_errno(-EIO, "rtmr: short write (%zd of %d bytes) to %s", k,
				    RTMR_DIGEST_LEN, path);
	if (close(fd) < 0 && r == 0)
		r = log_error_errno(-errno, "rtmr: extending through %s failed: %m", path);
	if (r == 0) {
		hex_encode(digest, RTMR_DIGEST_LEN, hex);
		log_info("rtmr: extended RTMR3 with the \"unlocked\" event %s", hex);
	}
	return r;
}
