#include "agent/rtmr.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aael.h"
#include "hexutil.h"
#include "log.h"

#define EVENT_LOG_DIR_MODE 0755
#define EVENT_LOG_MODE	   0644 /* evidence, not a secret: sent to the server as is */

const char *rtmr_outcome_name(enum rtmr_outcome o)
{
	switch (o) {
	case RTMR_RELEASED:
		return "released";
	case RTMR_FALLBACK:
		return "fallback";
	case RTMR_NO_TOKEN:
		return "no-token";
	case RTMR_ERROR:
		return "error";
	case RTMR_RECOVERY:
		return "recovery";
	}
	return "error";
}

const char *rtmr3_path(void)
{
	const char *test_path = getenv(RTMR_TEST_PATH_ENV);

	if (!test_path || !test_path[0])
		return RTMR3_SYSFS_PATH;
	log_warn("rtmr: RTMR3 at %s (test hook " RTMR_TEST_PATH_ENV "), not the kernel's",
		 test_path);
	return test_path;
}

const char *rtmr_event_log_path(void)
{
	const char *test_path = getenv(RTMR_TEST_LOG_ENV);

	return test_path && test_path[0] ? test_path : RTMR_EVENT_LOG;
}

bool rtmr_available(void)
{
	return access(rtmr3_path(), F_OK) == 0;
}

int rtmr_extend(const char *path, const uint8_t digest[RTMR_DIGEST_LEN])
{
	ssize_t k;
	int fd, r = 0;

	/* O_WRONLY without O_CREAT: a missing attribute means an older kernel, never a new file. */
	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return log_error_errno(-EOPNOTSUPP,
					       "rtmr: the kernel offers no %s (needs Linux >= 6.16 "
					       "with the TDX guest driver)",
					       path);
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
	return r;
}

/* RTMR3 before this boot's first event, for the INIT line: the attribute reads as the 48-byte
 * value on kernels that offer it. Where it cannot be read (an emulation), zero is recorded: the
 * log then replays to RTMR3 only if RTMR3 started at zero, which a verifier notices. */
static void rtmr3_read(const char *path, uint8_t out[RTMR_DIGEST_LEN])
{
	uint8_t buf[RTMR_DIGEST_LEN + 1];
	struct stat st;
	ssize_t k = -1;
	int fd;

	memset(out, 0, RTMR_DIGEST_LEN);

	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd >= 0) {
		/* Never read a FIFO (an emulation's write side): that would steal its digests. */
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
			k = read(fd, buf, sizeof(buf));
		close(fd);
	}
	if (k == RTMR_DIGEST_LEN) {
		memcpy(out, buf, RTMR_DIGEST_LEN);
		return;
	}
	log_warn("rtmr: cannot read RTMR3 from %s; the event log starts from zero", path);
}

static int line_record(int log_fd, const char *path, const char *line)
{
	uint8_t digest[RTMR_DIGEST_LEN];
	char buf[AAEL_LINE_MAX + 2];
	size_t len = strlen(line);
	ssize_t k;
	int n, r;

	r = aael_line_digest(line, len, digest);
	if (r < 0)
		return log_error_errno(r, "rtmr: cannot hash the event line");
	r = rtmr_extend(path, digest);
	if (r < 0)
		return r;
	/* One write of line + '\n' (O_APPEND): the log never holds half a line. */
	n = snprintf(buf, sizeof(buf), "%s\n", line);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return log_error_errno(-ENAMETOOLONG, "rtmr: event line too long");
	k = write(log_fd, buf, (size_t)n);
	if (k != n)
		return log_error_errno(k < 0 ? -errno : -EIO,
				       "rtmr: RTMR3 extended but the event log write failed: %m");
	return 0;
}

static int event_log_open(const char *log_path)
{
	char dir[4096];
	const char *slash = strrchr(log_path, '/');
	int fd;

	if (slash && slash != log_path && (size_t)(slash - log_path) < sizeof(dir)) {
		memcpy(dir, log_path, (size_t)(slash - log_path));
		dir[slash - log_path] = '\0';
		if (mkdir(dir, EVENT_LOG_DIR_MODE) < 0 && errno != EEXIST)
			return log_error_errno(-errno, "rtmr: cannot create %s: %m", dir);
	}
	fd = open(log_path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW,
		  EVENT_LOG_MODE);
	if (fd < 0)
		return log_error_errno(-errno, "rtmr: cannot open the event log %s: %m", log_path);
	/* The agent and the guards of several volumes may record at once: one writer at a time, so
	 * the log's order is RTMR3's order. */
	if (flock(fd, LOCK_EX) < 0) {
		int r = log_error_errno(-errno, "rtmr: cannot lock %s: %m", log_path);

		close(fd);
		return r;
	}
	return fd;
}

int rtmr_record(enum rtmr_outcome o, const char *content)
{
	const char *path = rtmr3_path(), *log_path = rtmr_event_log_path();
	char line[AAEL_LINE_MAX + 1], init_line[AAEL_INIT_LEN + 1];
	uint8_t init[RTMR_DIGEST_LEN];
	struct stat st;
	int fd, r;

	r = aael_format_event(AAEL_DOMAIN, rtmr_outcome_name(o), content, line, sizeof(line));
	if (r < 0)
		return log_error_errno(r, "rtmr: '%s' event: content is not an event-log field",
				       rtmr_outcome_name(o));
	if (access(path, F_OK) < 0)
		return log_error_errno(
			-EOPNOTSUPP,
			"rtmr: the kernel offers no %s (needs Linux >= 6.16 with the "
			"TDX guest driver): cannot record '%s'",
			path, line);
	fd = event_log_open(log_path);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0) {
		r = log_error_errno(-errno, "rtmr: cannot stat %s: %m", log_path);
		goto out;
	}
	if (st.st_size == 0) {
		rtmr3_read(path, init);
		r = aael_format_init(init, init_line, sizeof(init_line));
		if (r == 0)
			r = line_record(fd, path, init_line);
		if (r < 0)
			goto out;
	}
	r = line_record(fd, path, line);
	if (r == 0)
		log_info("rtmr: RTMR3 extended with the event '%s' (%s)", line, log_path);
out:
	close(fd); /* releases the lock */
	return r;
}
