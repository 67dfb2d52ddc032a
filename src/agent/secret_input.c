#include "secret_input.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"
#include "secmem.h"

#define SECRET_PASSPHRASE_MAX 8192

static int read_full(int fd, uint8_t *buf, size_t cap, size_t *got)
{
	size_t n = 0;

	/* Bounded by cap: at most cap + 1 bytes are ever read. */
	while (n < cap) {
		ssize_t k = read(fd, buf + n, cap - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		n += (size_t)k;
	}
	*got = n;
	return 0;
}

int secret_file_read(const char *path, size_t max, uint8_t **out, size_t *len)
{
	_cleanup_secmem_ uint8_t *buf = NULL;
	struct stat st;
	size_t n = 0;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return log_error_errno(-errno, "%s: cannot open: %m", path);
	if (fstat(fd, &st) < 0) {
		r = log_error_errno(-errno, "%s: %m", path);
		goto out;
	}
	if (S_ISREG(st.st_mode) && (st.st_mode & 0077))
		log_warn("%s: secret file is readable by group or others", path);
	buf = secmem_alloc(max + 1);
	if (!buf) {
		r = log_error_errno(-ENOMEM, "%s: no secure memory", path);
		goto out;
	}
	r = read_full(fd, buf, max + 1, &n);
	if (r < 0) {
		log_error_errno(r, "%s: read failed", path);
		goto out;
	}
	if (n == 0) {
		r = log_error_errno(-EINVAL, "%s: secret file is empty", path);
		goto out;
	}
	if (n > max) {
		r = log_error_errno(-EFBIG, "%s: secret file larger than %zu bytes", path, max);
		goto out;
	}
	*out = buf;
	buf = NULL;
	*len = n;
	r = 0;
out:
	close(fd);
	return r;
}

int secret_tty_read(const char *prompt, size_t max, char **out, size_t *len)
{
	_cleanup_secmem_ char *buf = NULL;
	struct termios old, noecho;
	size_t n = 0;
	bool restore = false;
	int fd, r = 0;

	fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return log_error_errno(-ENXIO, "no terminal to ask for the passphrase "
					       "(use --key-file)");
	buf = secmem_alloc(max + 1);
	if (!buf) {
		r = log_error_errno(-ENOMEM, "no secure memory");
		goto out;
	}
	if (tcgetattr(fd, &old) == 0) {
		noecho = old;
		noecho.c_lflag &= ~(tcflag_t)ECHO;
		noecho.c_lflag |= ECHONL;
		restore = tcsetattr(fd, TCSAFLUSH, &noecho) == 0;
	}
	if (write(fd, prompt, strlen(prompt)) < 0) {
		r = log_error_errno(-errno, "writing the prompt failed: %m");
		goto out;
	}
	/* Byte by byte, so nothing past the newline is consumed or buffered outside secmem. */
	for (;;) {
		char c;
		ssize_t k = read(fd, &c, 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = log_error_errno(-errno, "reading the passphrase failed: %m");
			goto out;
		}
		if (k == 0 || c == '\n')
			break;
		if (n >= max) {
			r = log_error_errno(-EFBIG, "passphrase longer than %zu bytes", max);
			goto out;
		}
		buf[n++] = c;
	}
	if (n == 0) {
		r = log_error_errno(-EINVAL, "empty passphrase");
		goto out;
	}
	buf[n] = '\0';
	*out = buf;
	buf = NULL;
	*len = n;
out:
	if (restore)
		(void)tcsetattr(fd, TCSAFLUSH, &old);
	close(fd);
	return r;
}

int secret_passphrase_get(const char *key_file, char **out, size_t *len)
{
	uint8_t *buf = NULL;
	size_t n = 0;
	int r;

	if (!key_file)
		return secret_tty_read("Existing LUKS passphrase: ", SECRET_PASSPHRASE_MAX, out,
				       len);
	r = secret_file_read(key_file, SECRET_PASSPHRASE_MAX, &buf, &n);
	if (r < 0)
		return r;
	/* secret_file_read leaves one spare zeroed byte: the terminator. */
	*out = (char *)buf;
	*len = n;
	return 0;
}
