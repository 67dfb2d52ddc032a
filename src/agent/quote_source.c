#include "agent/quote_source.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "cleanup.h"
#include "fileio.h"
#include "hexutil.h"
#include "log.h"

#define CONFIGFS_MOUNT	     "/sys/kernel/config"
#define CONFIGFS_MAGIC_VALUE 0x62656570
#define TSM_ATTR_MAX	     64 /* provider and generation are short text */
#define TSM_ENTRY_TRIES	     8

struct quote_source {
	char *tsm_report_dir;
};

/* ---- bounded read of outblob ---- */

/* The read runs in a worker thread so that a host that never answers cannot stall the boot:
 * on timeout the caller gives up and the worker frees the job whenever the kernel returns. */
struct blob_read_job {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int refs;
	bool done;
	char *path;
	size_t max;
	uint8_t *buf;
	size_t len;
	int r;
};

static void blob_read_job_unref(struct blob_read_job *job)
{
	bool last;

	pthread_mutex_lock(&job->lock);
	last = --job->refs == 0;
	pthread_mutex_unlock(&job->lock);
	if (!last)
		return;
	pthread_cond_destroy(&job->cond);
	pthread_mutex_destroy(&job->lock);
	free(job->path);
	free(job->buf);
	free(job);
}

static void *blob_read_worker(void *arg)
{
	struct blob_read_job *job = arg;
	uint8_t *buf = NULL;
	size_t len = 0;
	int fd, r = 0;

	fd = open(job->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	/* One byte more than allowed tells "exactly max" from "too large". */
	buf = malloc(job->max + 1);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	while (len <= job->max) {
		ssize_t k = read(fd, buf + len, job->max + 1 - len);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out;
		}
		if (k == 0)
			break;
		len += (size_t)k;
	}
	if (len > job->max)
		r = -EFBIG;
out:
	if (fd >= 0)
		close(fd);
	pthread_mutex_lock(&job->lock);
	job->r = r;
	if (r == 0) {
		job->buf = buf;
		job->len = len;
		buf = NULL;
	}
	job->done = true;
	pthread_cond_signal(&job->cond);
	pthread_mutex_unlock(&job->lock);
	free(buf);
	blob_read_job_unref(job);
	return NULL;
}

static int blob_read_bounded(const char *path, size_t max, unsigned timeout_ms, uint8_t **out,
			     size_t *out_len)
{
	struct blob_read_job *job;
	pthread_condattr_t attr;
	struct timespec deadline;
	pthread_t thread;
	int r;

	job = calloc(1, sizeof(*job));
	if (!job)
		return log_error_errno(-ENOMEM, "configfs-tsm: out of memory");
	job->path = strdup(path);
	if (!job->path) {
		free(job);
		return log_error_errno(-ENOMEM, "configfs-tsm: out of memory");
	}
	job->max = max;
	job->refs = 2; /* caller and worker */
	pthread_mutex_init(&job->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&job->cond, &attr);
	pthread_condattr_destroy(&attr);

	r = -pthread_create(&thread, NULL, blob_read_worker, job);
	if (r < 0) {
		job->refs = 1;
		blob_read_job_unref(job);
		return log_error_errno(r, "configfs-tsm: cannot start the outblob reader: %m");
	}
	pthread_detach(thread);

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}

	pthread_mutex_lock(&job->lock);
	while (!job->done) {
		if (pthread_cond_timedwait(&job->cond, &job->lock, &deadline) == ETIMEDOUT &&
		    !job->done)
			break;
	}
	if (!job->done) {
		r = -ETIMEDOUT;
	} else {
		r = job->r;
		if (r == 0) {
			*out = job->buf;
			*out_len = job->len;
			job->buf = NULL;
		}
	}
	pthread_mutex_unlock(&job->lock);
	blob_read_job_unref(job);

	if (r == -ETIMEDOUT)
		return log_error_errno(r, "configfs-tsm: no quote in %s after %u ms", path,
				       timeout_ms);
	if (r == -EFBIG)
		return log_error_errno(-EPROTO, "configfs-tsm: %s is larger than %zu bytes", path,
				       max);
	if (r < 0)
		return log_error_errno(r, "configfs-tsm: cannot read %s: %m", path);
	return 0;
}

/* ---- configfs-tsm attributes ---- */

static int attr_path(char *buf, size_t size, const char *dir, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= size)
		return log_error_errno(-ENAMETOOLONG, "configfs-tsm: path %s/%s too long", dir,
				       name);
	return 0;
}

/* Reads a short text attribute without its trailing newline. */
static int attr_read_text(const char *dir, const char *name, char *out, size_t size)
{
	_cleanup_free_ uint8_t *buf = NULL;
	char path[4200];
	size_t len = 0;
	int r;

	out[0] = '\0';
	r = attr_path(path, sizeof(path), dir, name);
	if (r < 0)
		return r;
	r = file_read_all(path, TSM_ATTR_MAX, &buf, &len);
	if (r < 0)
		return log_error_errno(r, "configfs-tsm: cannot read '%s'", name);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		len--;
	if (len >= size || strlen((const char *)buf) < len)
		return log_error_errno(-EPROTO, "configfs-tsm: '%s' is not short text", name);
	memcpy(out, buf, len);
	out[len] = '\0';
	return 0;
}

static int attr_read_generation(const char *dir, unsigned long *out)
{
	char text[TSM_ATTR_MAX + 1], *end;
	int r;

	r = attr_read_text(dir, "generation", text, sizeof(text));
	if (r < 0)
		return r;
	errno = 0;
	*out = strtoul(text, &end, 10);
	if (!text[0] || text[0] == '-' || *end || errno)
		return log_error_errno(-EPROTO, "configfs-tsm: 'generation' is not a number: '%s'",
				       text);
	return 0;
}

static int attr_write_inblob(const char *dir, const uint8_t data[QUOTE_REPORT_DATA_LEN])
{
	char path[4200];
	size_t done = 0;
	int fd, r;

	r = attr_path(path, sizeof(path), dir, "inblob");
	if (r < 0)
		return r;
	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return log_error_errno(-errno, "configfs-tsm: cannot open %s: %m", path);
	while (done < QUOTE_REPORT_DATA_LEN) {
		ssize_t k = write(fd, data + done, QUOTE_REPORT_DATA_LEN - done);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			r = log_error_errno(-errno, "configfs-tsm: cannot write %s: %m", path);
			close(fd);
			return r;
		}
		done += (size_t)k;
	}
	/* configfs commits a binary attribute when it is closed. */
	if (close(fd) < 0)
		return log_error_errno(-errno, "configfs-tsm: cannot commit %s: %m", path);
	return 0;
}

int tsm_entry_quote(const char *entry_dir, const uint8_t report_data[QUOTE_REPORT_DATA_LEN],
		    unsigned timeout_ms, uint8_t **quote, size_t *quote_len)
{
	char provider[TSM_ATTR_MAX + 1], path[4200];
	unsigned long gen_before, gen_after;
	uint8_t *blob = NULL;
	size_t blob_len = 0;
	int r;

	r = attr_read_text(entry_dir, "provider", provider, sizeof(provider));
	if (r < 0)
		return r;
	if (strcmp(provider, TSM_PROVIDER_TDX) != 0)
		return log_error_errno(-EPROTO,
				       "configfs-tsm: provider is '%s', not '" TSM_PROVIDER_TDX
				       "': this is not a TDX guest",
				       provider);
	r = attr_read_generation(entry_dir, &gen_before);
	if (r < 0)
		return r;
	r = attr_write_inblob(entry_dir, report_data);
	if (r < 0)
		return r;
	r = attr_path(path, sizeof(path), entry_dir, "outblob");
	if (r < 0)
		return r;
	r = blob_read_bounded(path, QUOTE_MAX_LEN, timeout_ms, &blob, &blob_len);
	if (r < 0)
		return r;
	if (blob_len == 0) {
		r = log_error_errno(-EPROTO, "configfs-tsm: outblob is empty (no quote from the "
					     "host's quoting service)");
		goto out;
	}
	r = attr_read_generation(entry_dir, &gen_after);
	if (r < 0)
		goto out;
	/* Exactly our one write: anything else means another writer raced us on this entry. */
	if (gen_after != gen_before + 1) {
		r = log_error_errno(-EPROTO,
				    "configfs-tsm: generation went from %lu to %lu, expected %lu: "
				    "the report entry was changed concurrently",
				    gen_before, gen_after, gen_before + 1);
		goto out;
	}
	*quote = TAKE_PTR(blob);
	*quote_len = blob_len;
out:
	free(blob);
	return r;
}

static bool configfs_mounted(void)
{
	struct statfs sfs;

	return statfs(CONFIGFS_MOUNT, &sfs) == 0 &&
	       (unsigned long)sfs.f_type == CONFIGFS_MAGIC_VALUE;
}

/* The initramfs may not have configfs mounted yet; only the real path is ever mounted. */
static int tsm_report_dir_ensure(const char *report_dir)
{
	struct stat st;

	if (stat(report_dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return log_error_errno(-ENOTDIR, "configfs-tsm: %s is not a directory",
					       report_dir);
		return 0;
	}
	if (errno != ENOENT)
		return log_error_errno(-errno, "configfs-tsm: cannot access %s: %m", report_dir);
	if (strncmp(report_dir, CONFIGFS_MOUNT "/", strlen(CONFIGFS_MOUNT) + 1) == 0 &&
	    !configfs_mounted()) {
		if (mount("configfs", CONFIGFS_MOUNT, "configfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  NULL) < 0)
			return log_error_errno(-errno,
					       "configfs-tsm: cannot mount configfs on "
					       "%s: %m",
					       CONFIGFS_MOUNT);
		log_info("configfs-tsm: mounted configfs on %s", CONFIGFS_MOUNT);
		if (stat(report_dir, &st) == 0 && S_ISDIR(st.st_mode))
			return 0;
	}
	return log_error_errno(-ENODEV,
			       "configfs-tsm: %s does not exist (kernel older than 6.7, or no "
			       "TDX guest driver)",
			       report_dir);
}

#define TSM_EMULATION_WAIT_MS 2000

static void tsm_entry_wait(const char *entry, unsigned timeout_ms)
{
	unsigned bound = timeout_ms < TSM_EMULATION_WAIT_MS ? timeout_ms : TSM_EMULATION_WAIT_MS;
	char path[4200];

	if (attr_path(path, sizeof(path), entry, "provider") < 0)
		return;
	for (unsigned waited = 0; waited < bound && access(path, F_OK) < 0; waited += 5) {
		struct timespec ts = {0, 5 * 1000000L};

		nanosleep(&ts, NULL);
	}
}

int tsm_report_quote(const char *report_dir, const uint8_t report_data[QUOTE_REPORT_DATA_LEN],
		     unsigned timeout_ms, uint8_t **quote, size_t *quote_len)
{
	char entry[4200];
	int r;

	r = tsm_report_dir_ensure(report_dir);
	if (r < 0)
		return r;
	/* A fresh entry of our own: nobody else can have left options or an inblob in it. */
	for (int i = 0;; i++) {
		uint8_t rnd[8];
		char hex[2 * sizeof(rnd) + 1];
		int n;

		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			return log_error_errno(-EIO,
					       "configfs-tsm: no randomness for an entry name");
		hex_encode(rnd, sizeof(rnd), hex);
		n = snprintf(entry, sizeof(entry), "%s/tdx-unlock-%d-%s", report_dir, (int)getpid(),
			     hex);
		if (n < 0 || (size_t)n >= sizeof(entry))
			return log_error_errno(-ENAMETOOLONG, "configfs-tsm: %s: path too long",
					       report_dir);
		if (mkdir(entry, 0700) == 0)
			break;
		if (errno != EEXIST || i + 1 == TSM_ENTRY_TRIES)
			return log_error_errno(-errno, "configfs-tsm: cannot create %s: %m", entry);
	}
	/* configfs has an entry's attributes the moment mkdir() returns; a user-space emulation
	 * (tests: QUOTE_TEST_TSM_DIR_ENV) adds them a moment later. */
	if (strcmp(report_dir, AGENT_TSM_REPORT_PATH) != 0)
		tsm_entry_wait(entry, timeout_ms);
	r = tsm_entry_quote(entry, report_data, timeout_ms, quote, quote_len);
	if (rmdir(entry) < 0)
		log_warn("configfs-tsm: cannot remove %s: %m", entry);
	return r;
}

/* ---- the source ---- */

int quote_source_open(const struct agent_config *c, struct quote_source **out)
{
	const char *test_dir = getenv(QUOTE_TEST_TSM_DIR_ENV);
	struct quote_source *qs;

	(void)c;
	qs = calloc(1, sizeof(*qs));
	if (!qs)
		return log_error_errno(-ENOMEM, "quote source: out of memory");
	/* Tests point it at an emulation (tdx-tsm-sim, docs/testing.md); never quietly. */
	if (test_dir && test_dir[0])
		log_warn("quote source: configfs-tsm at %s (test hook " QUOTE_TEST_TSM_DIR_ENV
			 "), not the kernel's",
			 test_dir);
	else
		test_dir = NULL;
	qs->tsm_report_dir = strdup(test_dir ?: AGENT_TSM_REPORT_PATH);
	if (!qs->tsm_report_dir) {
		free(qs);
		return log_error_errno(-ENOMEM, "quote source: out of memory");
	}
	*out = qs;
	return 0;
}

void quote_source_free(struct quote_source *qs)
{
	if (!qs)
		return;
	free(qs->tsm_report_dir);
	free(qs);
}

const char *quote_source_describe(const struct quote_source *qs)
{
	(void)qs;
	return "configfs-tsm";
}

int quote_source_get(struct quote_source *qs, const uint8_t report_data[QUOTE_REPORT_DATA_LEN],
		     unsigned timeout_ms, uint8_t **quote, size_t *quote_len)
{
	if (timeout_ms == 0 || timeout_ms > QUOTE_TIMEOUT_MS)
		timeout_ms = QUOTE_TIMEOUT_MS;
	return tsm_report_quote(qs->tsm_report_dir, report_data, timeout_ms, quote, quote_len);
}
