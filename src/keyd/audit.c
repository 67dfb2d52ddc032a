#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "escape.h"
#include "hexutil.h"
#include "log.h"

struct audit_log {
	int fd;		  /* -1 = stderr only */
	atomic_bool torn; /* the file ends in part of a record (short write) */
};

int audit_open(const char *path, struct audit_log **out)
{
	struct audit_log *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	a->fd = -1;
	atomic_init(&a->torn, false);
	if (path) {
		a->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
		if (a->fd < 0) {
			int r = -errno;

			free(a);
			return log_error_errno(r, "audit: cannot open %s: %m", path);
		}
	}
	*out = a;
	return 0;
}

void audit_close(struct audit_log *a)
{
	if (!a)
		return;
	if (a->fd >= 0)
		close(a->fd);
	free(a);
}

/* Every string may come from a request or a quote: escaped (escape.h), so that the record is
 * valid UTF-8 and bounded whatever it holds. */
static void add_str(struct json_object *o, const char *k, const char *v)
{
	char esc[512];

	if (v)
		text_escape_str(v, esc, sizeof(esc));
	json_object_object_add(o, k, v ? json_object_new_string(esc) : NULL);
}

static void add_hex(struct json_object *o, const char *k, const uint8_t *v, size_t len)
{
	char hex[2 * TDX_MR_LEN + 1];

	hex_encode(v, len, hex);
	json_object_object_add(o, k, json_object_new_string(hex));
}

/* One write(); *torn is set when only part of buf went out. */
static int write_all(int fd, const char *buf, size_t len, bool *torn)
{
	ssize_t w;

	do {
		w = write(fd, buf, len);
	} while (w < 0 && errno == EINTR);
	if (w < 0)
		return log_error_errno(-errno, "audit: write failed: %m");
	if ((size_t)w != len) {
		if (torn && w > 0)
			*torn = true;
		return log_error_errno(-EIO, "audit: short write");
	}
	return 0;
}

int audit_write(struct audit_log *a, const struct audit_record *rec)
{
	struct json_object *o = json_object_new_object();
	char ts[32];
	struct timespec now;
	struct tm tm;
	const char *line;
	size_t len;
	char *buf;
	int r = -ENOMEM;

	if (!o)
		return -ENOMEM;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + strlen(ts), sizeof(ts) - strlen(ts), ".%03ldZ", now.tv_nsec / 1000000);
	add_str(o, "time", ts);
	add_str(o, "event", rec->event);
	add_str(o, "peer", rec->peer);
	add_str(o, "session", rec->session);
	add_str(o, "resource", rec->resource);
	add_str(o, "policy", rec->policy_id);
	if (rec->body) {
		add_hex(o, "mrtd", rec->body->mrtd, TDX_MR_LEN);
		add_hex(o, "rtmr0", rec->body->rtmr[0], TDX_MR_LEN);
		add_hex(o, "rtmr1", rec->body->rtmr[1], TDX_MR_LEN);
		add_hex(o, "rtmr2", rec->body->rtmr[2], TDX_MR_LEN);
		add_hex(o, "rtmr3", rec->body->rtmr[3], TDX_MR_LEN);
	}
	add_str(o, "tcb_status", rec->tcb_status);
	add_str(o, "verdict", rec->allowed ? "allow" : "deny");
	add_str(o, "reason", rec->reason);

	line = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							 JSON_C_TO_STRING_NOSLASHESCAPE);
	len = strlen(line);
	buf = malloc(len + 3);
	if (buf) {
		bool torn = false;

		buf[0] = '\n';
		memcpy(buf + 1, line, len);
		buf[len + 1] = '\n';
		buf[len + 2] = '\0';
		/* One write() per line: O_APPEND makes it atomic with respect to other writers.
		 * After a short write (disk full) the next record starts on a new line, so that the
		 * fragment does not swallow it. */
		r = 0;
		if (a && a->fd >= 0) {
			bool after_fragment = atomic_exchange(&a->torn, false);

			r = write_all(a->fd, after_fragment ? buf : buf + 1,
				      after_fragment ? len + 2 : len + 1, &torn);
			if (torn || (r < 0 && after_fragment))
				atomic_store(&a->torn, true);
		}
		(void)write_all(STDERR_FILENO, buf + 1, len + 1, NULL);
		free(buf);
	}
	json_object_put(o);
	return r;
}
