#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "escape.h"

static const char *log_ident = "tdx-unlock";
static enum log_target log_target_cur = LOG_TARGET_STDERR;
static enum log_level log_max = LOG_LVL_INFO;
static bool log_to_journal;

/* systemd sets JOURNAL_STREAM to "<dev>:<inode>" of the stream it connected to stdout/stderr;
 * only when stderr is still that stream does journald read our lines (see systemd.exec(5)). */
static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	char *end;
	struct stat st;

	if (!e || fstat(STDERR_FILENO, &st) < 0)
		return false;
	dev = strtoull(e, &end, 10);
	if (end == e || *end != ':')
		return false;
	e = end + 1;
	ino = strtoull(e, &end, 10);
	if (end == e || *end)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_setup(const char *ident, enum log_target target, enum log_level max_level)
{
	if (ident)
		log_ident = ident;
	log_target_cur = target;
	log_max = max_level;
	log_to_journal = stderr_is_journal();
}

static void log_write(enum log_level level, const char *fmt, va_list ap)
{
	char msg[1024], line[1024];
	int n, fd;

	if (level > log_max)
		return;
	/* Messages carry text from requests, quotes and certificates: one line each, valid
	 * UTF-8, no control characters, whatever a client sent. */
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_target_cur == LOG_TARGET_KMSG) {
		n = snprintf(line, sizeof(line), "<%d>%s: ", level, log_ident);
		if (n < 0 || (size_t)n >= sizeof(line))
			return;
		text_escape_str(msg, line + n, sizeof(line) - (size_t)n);
		fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY);
		if (fd >= 0) {
			ssize_t w = write(fd, line, strlen(line));
			(void)w;
			close(fd);
			return;
		}
		/* No /dev/kmsg: fall through to stderr so the reason is never lost. */
	}
	/* journald takes the priority from a "<N>" prefix and adds the ident itself. */
	if (log_to_journal)
		n = snprintf(line, sizeof(line), "<%d>", level);
	else
		n = snprintf(line, sizeof(line), "%s: ", log_ident);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	text_escape_str(msg, line + n, sizeof(line) - (size_t)n);
	fprintf(stderr, "%s\n", line);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_write(level, fmt, ap);
	va_end(ap);
	errno = saved;
}

int log_errno(enum log_level level, int r, const char *fmt, ...)
{
	va_list ap;

	/* Let "%m" in fmt print the error being returned. */
	errno = r < 0 ? -r : r;
	va_start(ap, fmt);
	log_write(level, fmt, ap);
	va_end(ap);
	return r;
}

int log_refusal_va(enum log_level level, int r, const char *prefix, char *reason, size_t reason_len,
		   const char *fmt, va_list ap)
{
	char raw[512], msg[512];

	vsnprintf(raw, sizeof(raw), fmt, ap);
	/* A refusal quotes what it refused, often the sender's bytes: escaped (escape.h) before
	 * the caller puts it anywhere. */
	text_escape_str(raw, msg, sizeof(msg));
	if (reason && reason_len)
		snprintf(reason, reason_len, "%s", msg);
	return log_errno(level, r, "%s%s", prefix, msg);
}

int log_refusal(enum log_level level, int r, const char *prefix, char *reason, size_t reason_len,
		const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	r = log_refusal_va(level, r, prefix, reason, reason_len, fmt, ap);
	va_end(ap);
	return r;
}
