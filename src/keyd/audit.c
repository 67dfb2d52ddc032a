#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "escape.h"
#include "cleanup.h"
#include "hexutil.h"
#include "json_build.h"
#include "json_strict.h"
#include "kdf.h"
#include "log.h"
#include "secmem.h"

#define AUDIT_MAC_MEMBER     ",\"mac\":\""
#define AUDIT_MAC_SUFFIX_LEN (sizeof(AUDIT_MAC_MEMBER) - 1 + 2 * AUDIT_KEY_LEN + 2)
#define AUDIT_LINE_MAX	     (64 * 1024)

struct audit_log {
	char *path;	      /* NULL = stderr only */
	int fd;		      /* -1 = stderr only */
	uint8_t *key;	      /* secmem, AUDIT_KEY_LEN */
	pthread_mutex_t lock; /* orders the chain: MAC, write, advance */
	uint8_t prev[32];     /* MAC of the last record written whole */
	bool have_prev;
	bool torn; /* the file ends in part of a record (short write) */
};

/* Splits a record line (without its newline) into the text its MAC covers, line[0..*covered_len)
 * followed by "}", and the MAC. Returns false when the line does not end in the mac member. */
static bool split_mac(const char *line, size_t len, size_t *covered_len, uint8_t mac[32])
{
	const char *m;

	if (len < AUDIT_MAC_SUFFIX_LEN + 2)
		return false;
	m = line + len - AUDIT_MAC_SUFFIX_LEN;
	if (memcmp(m, AUDIT_MAC_MEMBER, strlen(AUDIT_MAC_MEMBER)) != 0 || line[len - 2] != '"' ||
	    line[len - 1] != '}')
		return false;
	m += strlen(AUDIT_MAC_MEMBER);
	for (size_t i = 0; i < 2 * AUDIT_KEY_LEN; i++)
		if (!((m[i] >= '0' && m[i] <= '9') || (m[i] >= 'a' && m[i] <= 'f')))
			return false;
	if (hex_decode_exact(m, 2 * AUDIT_KEY_LEN, mac, 32) < 0)
		return false;
	*covered_len = len - AUDIT_MAC_SUFFIX_LEN;
	return true;
}

/* HMAC-SHA256(key, prev || text[0..len) || "}"). */
static int chain_mac(const uint8_t *key, const uint8_t prev[32], const char *text, size_t len,
		     uint8_t out[32])
{
	uint8_t *buf = malloc(32 + len + 1);
	bool ok;

	if (!buf)
		return -ENOMEM;
	memcpy(buf, prev, 32);
	memcpy(buf + 32, text, len);
	buf[32 + len] = '}';
	ok = kdf_hmac_sha256(key, AUDIT_KEY_LEN, buf, 32 + len + 1, out) == 0;
	free(buf);
	return ok ? 0 : log_error_errno(-EIO, "audit: HMAC failed");
}

/* The MAC of the file's last whole record, which the chain continues from. */
static void read_tail(struct audit_log *a)
{
	char buf[AUDIT_LINE_MAX];
	struct stat st;
	size_t n, end, start;
	ssize_t k;

	a->have_prev = false;
	a->torn = false;
	if (fstat(a->fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
		return;
	n = st.st_size < (off_t)sizeof(buf) ? (size_t)st.st_size : sizeof(buf);
	k = pread(a->fd, buf, n, st.st_size - (off_t)n);
	if (k != (ssize_t)n)
		return;
	end = n;
	if (buf[end - 1] != '\n') {
		a->torn = true; /* a fragment: the next record starts on a line of its own */
		while (end > 0 && buf[end - 1] != '\n')
			end--;
		if (end == 0)
			return;
	}
	end--; /* the newline */
	start = end;
	while (start > 0 && buf[start - 1] != '\n')
		start--;
	{
		size_t covered;

		a->have_prev = split_mac(buf + start, end - start, &covered, a->prev);
	}
	if (!a->have_prev)
		log_warn(
			"audit: the last line of %s is not a chained record (a log from before the "
			"HMAC chain?): rotate it, or audit-verify will report it",
			a->path);
}

/* Every string may come from a request or a quote: escaped (escape.h), so that the record is
 * valid UTF-8 and bounded whatever it holds. */
static int add_str(struct json_object *o, const char *k, const char *v)
{
	char esc[512];

	if (!v)
		return json_add_string(o, k, NULL);
	text_escape_str(v, esc, sizeof(esc));
	return json_add_string(o, k, esc);
}

static int add_hex(struct json_object *o, const char *k, const uint8_t *v, size_t len)
{
	char hex[2 * TDX_MR_LEN + 1];

	hex_encode(v, len, hex);
	return json_add_string(o, k, hex);
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

static struct json_object *record_new(const char *event)
{
	struct json_object *o = json_object_new_object();
	struct timespec now;
	struct tm tm;
	char ts[32];

	if (!o)
		return NULL;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + strlen(ts), sizeof(ts) - strlen(ts), ".%03ldZ", now.tv_nsec / 1000000);
	if (add_str(o, "time", ts) < 0 || add_str(o, "event", event) < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* Appends o with its chain MAC: one line, one write(). The chain advances only over records
 * written whole, so a fragment left by a failed write is outside the chain (and reported by
 * audit_verify()). Called with a->lock held; *copy receives the line for stderr. */
static int emit_locked(struct audit_log *a, struct json_object *o, char **copy, size_t *copy_len)
{
	static const uint8_t zero[32];
	const char *text = json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t len = text ? strlen(text) : 0, n;
	uint8_t mac[32];
	char *buf;
	bool torn = false;
	int r;

	if (len < 2 || text[len - 1] != '}')
		return -EINVAL;
	r = chain_mac(a->key, a->have_prev ? a->prev : zero, text, len - 1, mac);
	if (r < 0)
		return r;
	/* "\n" (used after a fragment) + text without "}" + ,"mac":"<hex>"} + "\n" */
	buf = malloc(1 + len - 1 + AUDIT_MAC_SUFFIX_LEN + 2);
	if (!buf)
		return -ENOMEM;
	buf[0] = '\n';
	memcpy(buf + 1, text, len - 1);
	n = len;
	memcpy(buf + n, AUDIT_MAC_MEMBER, sizeof(AUDIT_MAC_MEMBER) - 1);
	n += sizeof(AUDIT_MAC_MEMBER) - 1;
	hex_encode(mac, 32, buf + n);
	n += 2 * AUDIT_KEY_LEN;
	buf[n++] = '"';
	buf[n++] = '}';
	buf[n++] = '\n';
	if (a->fd >= 0) {
		bool after_fragment = a->torn;

		/* O_APPEND, one write() per line. After a short write (disk full) the next record
		 * starts on a new line, so that the fragment does not swallow it. */
		r = write_all(a->fd, after_fragment ? buf : buf + 1, after_fragment ? n : n - 1,
			      &torn);
		a->torn = torn || (r < 0 && after_fragment);
	}
	if (r == 0) {
		memcpy(a->prev, mac, 32);
		a->have_prev = true;
	}
	*copy = buf;
	*copy_len = n;
	return r;
}

/* Writes a line from emit_locked() to stderr (the journal's copy), outside the lock. */
static void copy_to_stderr(char *buf, size_t n)
{
	if (buf)
		(void)write_all(STDERR_FILENO, buf + 1, n - 1, NULL);
	free(buf);
}

static int chain_start_locked(struct audit_log *a, const char *why, char **copy, size_t *copy_len)
{
	struct json_object *o = record_new("chain-start");
	char hex[65] = "";
	int r;

	if (!o)
		return -ENOMEM;
	/* The members every record has (null here: not a decision), then the link. */
	if (a->have_prev)
		hex_encode(a->prev, 32, hex);
	if (add_str(o, "peer", NULL) < 0 || add_str(o, "session", NULL) < 0 ||
	    add_str(o, "resource", NULL) < 0 || add_str(o, "policy", NULL) < 0 ||
	    add_str(o, "tcb_status", NULL) < 0 || add_str(o, "verdict", NULL) < 0 ||
	    json_add_string(o, "prev_mac", a->have_prev ? hex : NULL) < 0 ||
	    add_str(o, "reason", why) < 0)
		r = -ENOMEM;
	else
		r = emit_locked(a, o, copy, copy_len);
	json_object_put(o);
	return r;
}

/* Read access too, for the tail: where the file is write-only to keyd, the chain restarts. */
static int open_file(const char *path)
{
	int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);

	if (fd < 0 && (errno == EACCES || errno == EISDIR || errno == EINVAL))
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
	if (fd < 0)
		return log_error_errno(-errno, "audit: cannot open %s: %m", path);
	return fd;
}

void audit_close(struct audit_log *a)
{
	if (!a)
		return;
	if (a->fd >= 0)
		close(a->fd);
	secmem_free(a->key);
	free(a->path);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

int audit_open(const char *path, const uint8_t key[AUDIT_KEY_LEN], struct audit_log **out)
{
	struct audit_log *a = calloc(1, sizeof(*a));
	char *copy = NULL;
	size_t n = 0;

	if (!a)
		return -ENOMEM;
	a->fd = -1;
	pthread_mutex_init(&a->lock, NULL);
	a->key = secmem_dup(key, AUDIT_KEY_LEN);
	if (!a->key || (path && !(a->path = strdup(path)))) {
		audit_close(a);
		return -ENOMEM;
	}
	if (path) {
		int fd = open_file(path);

		if (fd < 0) {
			audit_close(a);
			return fd;
		}
		a->fd = fd;
		read_tail(a);
	}
	/* A failed write here (disk full) does not stop keyd: releases are refused while the audit
	 * file cannot be written, and the next start names the chain's end again. */
	(void)chain_start_locked(a, "keyd started", &copy, &n);
	copy_to_stderr(copy, n);
	*out = a;
	return 0;
}

int audit_reopen(struct audit_log *a)
{
	struct stat old_st, new_st;
	char *copy = NULL;
	size_t n = 0;
	int fd, r = 0;

	if (!a || !a->path)
		return 0;
	fd = open_file(a->path);
	if (fd < 0)
		return fd;
	pthread_mutex_lock(&a->lock);
	if (fstat(a->fd, &old_st) == 0 && fstat(fd, &new_st) == 0 &&
	    old_st.st_ino == new_st.st_ino && old_st.st_dev == new_st.st_dev) {
		close(fd); /* not rotated */
	} else {
		close(a->fd);
		a->fd = fd;
		a->torn = false;
		/* A non-empty file someone put at our path: its own end is what we continue. */
		if (fstat(fd, &new_st) == 0 && new_st.st_size > 0)
			read_tail(a);
		r = chain_start_locked(a, "log file rotated", &copy, &n);
		if (r == 0)
			log_info(
				"audit: reopened %s; its chain-start names the old file's last MAC",
				a->path);
	}
	pthread_mutex_unlock(&a->lock);
	copy_to_stderr(copy, n);
	return r;
}

/* A decision's members after "time" and "event"; -ENOMEM when one could not be added. */
static int record_fill(struct json_object *o, const struct audit_record *rec)
{
	static const char *const rtmr_names[] = {"rtmr0", "rtmr1", "rtmr2", "rtmr3"};

	if (add_str(o, "peer", rec->peer) < 0 ||
	    (rec->client && add_str(o, "client", rec->client) < 0) ||
	    add_str(o, "session", rec->session) < 0 || add_str(o, "resource", rec->resource) < 0 ||
	    add_str(o, "policy", rec->policy_id) < 0)
		return -ENOMEM;
	if (rec->body) {
		if (add_hex(o, "mrtd", rec->body->mrtd, TDX_MR_LEN) < 0)
			return -ENOMEM;
		for (size_t i = 0; i < 4; i++)
			if (add_hex(o, rtmr_names[i], rec->body->rtmr[i], TDX_MR_LEN) < 0)
				return -ENOMEM;
	}
	if (add_str(o, "tcb_status", rec->tcb_status) < 0 ||
	    add_str(o, "verdict", rec->allowed ? "allow" : "deny") < 0 ||
	    add_str(o, "reason", rec->reason) < 0)
		return -ENOMEM;
	return 0;
}

int audit_write(struct audit_log *a, const struct audit_record *rec)
{
	struct json_object *o;
	char *copy = NULL;
	size_t n = 0;
	int r;

	if (!a)
		return -EINVAL;
	o = record_new(rec->event);
	if (!o)
		return -ENOMEM;
	r = record_fill(o, rec);
	if (r == 0) {
		pthread_mutex_lock(&a->lock);
		r = emit_locked(a, o, &copy, &n);
		pthread_mutex_unlock(&a->lock);
	}
	copy_to_stderr(copy, n);
	json_object_put(o);
	return r;
}

/* Verification: the chain so far while reading the files in order. */
struct chain {
	const uint8_t *key;
	uint8_t prev[32];
	bool have_prev;
};

static int bad(char *reason, size_t reason_len, const char *path, unsigned line, const char *fmt,
	       ...) __attribute__((format(printf, 5, 6)));
static int bad(char *reason, size_t reason_len, const char *path, unsigned line, const char *fmt,
	       ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(reason, reason_len, "%s: line %u: %s", path, line, msg);
	return -EBADMSG;
}

/* One record line (newline removed) against the chain so far. */
static int verify_line(struct chain *c, const char *path, unsigned no, const char *line, size_t len,
		       char *reason, size_t reason_len)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	struct json_object *v;
	uint8_t mac[32], want[32], named[32];
	const char *event;
	size_t covered;
	char *text;
	int r;

	if (!split_mac(line, len, &covered, mac))
		return bad(reason, reason_len, path, no,
			   "no \"mac\" member at its end: not a record of the chain");
	text = malloc(covered + 2);
	if (!text)
		return -ENOMEM;
	memcpy(text, line, covered);
	memcpy(text + covered, "}", 2);
	r = json_strict_parse(text, covered + 1, AUDIT_LINE_MAX, &o, NULL, 0);
	free(text);
	if (r < 0 || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "event", &v) || !json_object_is_type(v, json_type_string))
		return bad(reason, reason_len, path, no, "not a JSON audit record");
	event = json_object_get_string(v);
	if (!strcmp(event, "chain-start")) {
		bool has = json_object_object_get_ex(o, "prev_mac", &v) && v;

		if (has && (!json_object_is_type(v, json_type_string) ||
			    json_object_get_string_len(v) != 64 ||
			    hex_decode_exact(json_object_get_string(v), 64, named, 32) < 0))
			return bad(reason, reason_len, path, no, "chain-start: malformed prev_mac");
		if (c->have_prev && (!has || CRYPTO_memcmp(named, c->prev, 32) != 0))
			return bad(reason, reason_len, path, no,
				   "chain-start does not name the MAC of the record before it "
				   "(records removed or reordered before it, or a file missing)");
		if (!c->have_prev && has) {
			char hex[17];

			hex_encode(named, 8, hex);
			printf("%s: continues a chain ending in MAC %s... (an earlier file)\n",
			       path, hex);
			memcpy(c->prev, named, 32);
			c->have_prev = true;
		}
	} else if (!c->have_prev) {
		return bad(reason, reason_len, path, no,
			   "the file does not start with a chain-start record");
	}
	if (!c->have_prev)
		memset(c->prev, 0, 32);
	r = chain_mac(c->key, c->prev, line, covered, want);
	if (r < 0)
		return r;
	if (CRYPTO_memcmp(want, mac, 32) != 0)
		return bad(reason, reason_len, path, no,
			   "MAC does not verify: this record was edited, or a record before it "
			   "was removed, inserted or reordered");
	memcpy(c->prev, mac, 32);
	c->have_prev = true;
	return 0;
}

static int verify_file(struct chain *c, const char *path, char *reason, size_t reason_len)
{
	FILE *f = fopen(path, "re");
	char *line = NULL, hex[17];
	size_t cap = 0;
	unsigned no = 0;
	ssize_t len;
	int r = 0;

	if (!f) {
		r = -errno;
		snprintf(reason, reason_len, "%s: cannot open: %s", path, strerror(-r));
		return r;
	}
	while ((len = getline(&line, &cap, f)) >= 0) {
		no++;
		if (len == 0 || line[len - 1] != '\n') {
			r = bad(reason, reason_len, path, no,
				"a record cut short (no end of line): a failed write or a "
				"truncated file");
			break;
		}
		if (len > AUDIT_LINE_MAX) {
			r = bad(reason, reason_len, path, no, "longer than %d bytes",
				AUDIT_LINE_MAX);
			break;
		}
		r = verify_line(c, path, no, line, (size_t)len - 1, reason, reason_len);
		if (r < 0)
			break;
	}
	free(line);
	fclose(f);
	if (r == 0) {
		hex_encode(c->prev, 8, hex);
		printf("%s: %u records, chain intact%s%s%s\n", path, no,
		       c->have_prev ? ", last MAC " : "", c->have_prev ? hex : "",
		       c->have_prev ? "..." : "");
	}
	return r;
}

int audit_verify(const uint8_t key[AUDIT_KEY_LEN], const char *const *paths, size_t n, char *reason,
		 size_t reason_len)
{
	struct chain c = {.key = key};
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++)
		r = verify_file(&c, paths[i], reason, reason_len);
	return r;
}
