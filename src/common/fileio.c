#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

int file_read_all(const char *path, size_t max, uint8_t **out, size_t *len)
{
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return log_error_errno(-errno, "cannot open %s: %m", path);
	for (;;) {
		ssize_t k;

		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 8192;
			uint8_t *nb;

			if (cap > max) {
				r = log_error_errno(-EFBIG, "%s: larger than %zu bytes", path, max);
				goto out;
			}
			nb = realloc(buf, ncap + 1);
			if (!nb) {
				r = -ENOMEM;
				goto out;
			}
			buf = nb;
			cap = ncap;
		}
		k = read(fd, buf + n, cap - n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			r = log_error_errno(-errno, "cannot read %s: %m", path);
			goto out;
		}
		if (k == 0)
			break;
		n += (size_t)k;
		if (n > max) {
			r = log_error_errno(-EFBIG, "%s: larger than %zu bytes", path, max);
			goto out;
		}
	}
	if (!buf) {
		buf = malloc(1);
		if (!buf) {
			r = -ENOMEM;
			goto out;
		}
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return r;
}

int file_write_private(const char *path, const void *data, size_t len, int overwrite)
{
	const uint8_t *p = data;
	int fd, r = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY | (overwrite ? O_TRUNC : O_EXCL),
		  0600);
	if (fd < 0)
		return log_error_errno(-errno, "cannot create %s: %m", path);
	if (fchmod(fd, 0600) < 0) {
		r = log_error_errno(-errno, "cannot set mode 0600 on %s: %m", path);
		goto out;
	}
	while (len > 0) {
		ssize_t k = write(fd, p, len);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			r = log_error_errno(-errno, "cannot write %s: %m", path);
			goto out;
		}
		p += k;
		len -= (size_t)k;
	}
	if (fsync(fd) < 0)
		r = log_error_errno(-errno, "cannot sync %s: %m", path);
out:
	if (close(fd) < 0 && r == 0)
		r = log_error_errno(-errno, "cannot close %s: %m", path);
	return r;
}
