/* tdx-tsm-sim: test-only emulation of the two kernel interfaces the agent uses, so that the
 * production agent (configfs-tsm only) runs unchanged in tests and in the QEMU test initramfs:
 *
 *   DIR/report/          a configfs-tsm report directory (TDX_UNLOCK_TEST_TSM_DIR): every entry
 *                        the agent creates gets provider, generation, inblob and outblob; reading
 *                        outblob yields a quote from the quote simulator (tests/sim/quotesim.h)
 *                        over the 64-byte inblob, carrying the emulated RTMR3
 *   DIR/rtmr3:sha384     a FIFO standing for the RTMR3 sysfs attribute (TDX_UNLOCK_TEST_RTMR_PATH):
 *                        each 48-byte record written extends the emulated RTMR3
 *   DIR/rtmr3            the current RTMR3 (96 hex digits and a newline), rewritten atomically
 *   DIR/extensions       every extension digest, one hex line each, in order
 *   DIR/ready            written once all of the above exist
 *   SIGHUP               a new emulated boot: RTMR3 back to its boot value, DIR/extensions
 *                        emptied, DIR/rtmr3.log removed, then DIR/boots = the boot count
 *
 * The quote fields come from the simulator directory's defaults (reloaded for every quote, so a
 * test can change them with tdx-quotegen defaults); RTMR3 starts at --rtmr3 or the defaults' RTMR3.
 * Runs until SIGTERM or SIGINT. Never part of a shipped image (docs/agent.md, "Tests"). */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cleanup.h"
#include "fileio.h"
#include "hexutil.h"
#include "log.h"
#include "quotesim.h"

#define RTMR_LEN	     TDX_MR_LEN
#define INBLOB_LEN	     TDX_REPORT_DATA_LEN
#define ENTRY_STEP_TIMEOUT_S 60 /* an agent that never reads an entry does not pin a thread */
#define PATH_MAX_SIM	     4096

struct sim {
	const char *ca_dir;
	const char *dir;
	pthread_mutex_t lock; /* rtmr3 and the files that mirror it */
	/* The RTMR3 FIFO and a partly read digest: drained by the event loop and, before every
	 * quote, by the entry thread (fifo_lock), so a quote carries every extension written
	 * before it was asked for, as with the kernel's synchronous write. */
	pthread_mutex_t fifo_lock;
	int rtmr_fd;
	uint8_t pending[RTMR_LEN];
	size_t n_pending;
	uint8_t rtmr3[RTMR_LEN];
	uint8_t rtmr3_boot[RTMR_LEN]; /* the value at (emulated) boot */
	unsigned long boots;
	unsigned long quotes;
};

struct entry_job {
	struct sim *sim;
	char dir[PATH_MAX_SIM];
};

static int path_join(char *buf, size_t size, const char *dir, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= size)
		return log_error_errno(-ENAMETOOLONG, "tsm-sim: %s/%s: path too long", dir, name);
	return 0;
}

/* Writes name in dir through a temporary file and rename(), so a reader never sees it partial. */
static int write_atomic(const char *dir, const char *name, const void *data, size_t len)
{
	char path[PATH_MAX_SIM], tmp[PATH_MAX_SIM + 8];
	int r;

	r = path_join(path, sizeof(path), dir, name);
	if (r < 0)
		return r;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	r = file_write_private(tmp, data, len, 1);
	if (r < 0)
		return r;
	if (rename(tmp, path) < 0)
		return log_error_errno(-errno, "tsm-sim: cannot rename %s: %m", tmp);
	return 0;
}

static int rtmr3_publish(const struct sim *s)
{
	char hex[2 * RTMR_LEN + 2];

	hex_encode(s->rtmr3, RTMR_LEN, hex);
	strcat(hex, "\n");
	return write_atomic(s->dir, "rtmr3", hex, strlen(hex));
}

/* RTMR3 := SHA-384(RTMR3 || digest), as TDG.MR.RTMR.EXTEND does. */
static int rtmr3_extend(struct sim *s, const uint8_t digest[RTMR_LEN])
{
	char hex[2 * RTMR_LEN + 2], path[PATH_MAX_SIM];
	uint8_t buf[2 * RTMR_LEN];
	unsigned len = 0;
	FILE *f;
	int r;

	pthread_mutex_lock(&s->lock);
	memcpy(buf, s->rtmr3, RTMR_LEN);
	memcpy(buf + RTMR_LEN, digest, RTMR_LEN);
	if (EVP_Digest(buf, sizeof(buf), s->rtmr3, &len, EVP_sha384(), NULL) != 1 ||
	    len != RTMR_LEN) {
		pthread_mutex_unlock(&s->lock);
		return log_error_errno(-EIO, "tsm-sim: SHA-384 failed");
	}
	r = rtmr3_publish(s);
	hex_encode(digest, RTMR_LEN, hex);
	if (r == 0 && path_join(path, sizeof(path), s->dir, "extensions") == 0) {
		f = fopen(path, "ae");
		if (!f || fprintf(f, "%s\n", hex) < 0 || fclose(f) != 0)
			r = log_error_errno(-EIO, "tsm-sim: cannot append to %s", path);
	}
	pthread_mutex_unlock(&s->lock);
	log_info("tsm-sim: RTMR3 extended with %s", hex);
	return r;
}

/* Reads whole 48-byte records from the RTMR FIFO (held open read-write, so it never sees EOF). */
static int rtmr_fifo_drain(struct sim *s)
{
	int r = 0;

	pthread_mutex_lock(&s->fifo_lock);
	for (;;) {
		ssize_t k = read(s->rtmr_fd, s->pending + s->n_pending, RTMR_LEN - s->n_pending);

		if (k < 0) {
			r = errno == EAGAIN || errno == EINTR ? 0 : -errno;
			break;
		}
		if (k == 0)
			break;
		s->n_pending += (size_t)k;
		if (s->n_pending == RTMR_LEN) {
			s->n_pending = 0;
			if (rtmr3_extend(s, s->pending) < 0) {
				r = -EIO;
				break;
			}
		}
	}
	pthread_mutex_unlock(&s->fifo_lock);
	return r;
}

/* Opens the FIFO for writing once a reader has it open (the agent reading the attribute), or
 * gives up after ENTRY_STEP_TIMEOUT_S. */
static int fifo_open_writer(const char *path)
{
	struct timespec pause = {0, 2 * 1000000L};
	time_t deadline = time(NULL) + ENTRY_STEP_TIMEOUT_S;
	int fd;

	for (;;) {
		fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0)
			break;
		if (errno != ENXIO)
			return log_error_errno(-errno, "tsm-sim: cannot open %s: %m", path);
		if (time(NULL) > deadline)
			return log_error_errno(-ETIMEDOUT, "tsm-sim: nobody read %s", path);
		nanosleep(&pause, NULL);
	}
	if (fcntl(fd, F_SETFL, 0) < 0) {
		int r = -errno;

		close(fd);
		return log_error_errno(r, "tsm-sim: %s: %m", path);
	}
	return fd;
}

/* fifo_open_writer() on the entry's attribute dir/name. */
static int entry_fifo_open(const char *dir, const char *name)
{
	char path[PATH_MAX_SIM];

	if (path_join(path, sizeof(path), dir, name) < 0)
		return -ENAMETOOLONG;
	return fifo_open_writer(path);
}

static int write_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len > 0) {
		ssize_t k = write(fd, p, len);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

static int fifo_serve(const char *path, const void *data, size_t len)
{
	int fd = fifo_open_writer(path), r;

	if (fd < 0)
		return fd;
	r = write_all(fd, data, len);
	close(fd);
	if (r < 0)
		return log_error_errno(r, "tsm-sim: writing %s: %m", path);
	return 0;
}

static int quote_make(struct sim *s, const uint8_t report_data[INBLOB_LEN], uint8_t **quote,
		      size_t *quote_len)
{
	struct quotesim_quote_opts o;
	struct quotesim *qs = NULL;
	int r;

	r = quotesim_load(s->ca_dir, &qs);
	if (r < 0)
		return log_error_errno(r, "tsm-sim: cannot load the simulator from %s", s->ca_dir);
	quotesim_quote_opts_init(qs, &o);
	/* Extensions the agent wrote before it asked for this quote are in the FIFO by now. */
	(void)rtmr_fifo_drain(s);
	pthread_mutex_lock(&s->lock);
	memcpy(o.body.rtmr[3], s->rtmr3, RTMR_LEN);
	s->quotes++;
	pthread_mutex_unlock(&s->lock);
	r = quotesim_quote(qs, &o, report_data, quote, quote_len);
	quotesim_free(qs);
	if (r < 0)
		return log_error_errno(r, "tsm-sim: the quote simulator failed");
	return 0;
}

static void entry_files_remove(const char *dir)
{
	static const char *const names[] = {"provider", "generation", "inblob", "outblob"};
	char path[PATH_MAX_SIM];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (path_join(path, sizeof(path), dir, names[i]) == 0)
			unlink(path);
}

/* One report entry, in the order the agent uses it: generation, inblob, outblob, generation. The
 * last read of generation is the agent's last access: the attributes are gone by the time it
 * returns, so the agent's rmdir() succeeds as on configfs. */
static int entry_serve(struct sim *s, const char *dir)
{
	_cleanup_free_ uint8_t *inblob = NULL, *quote = NULL;
	char path[PATH_MAX_SIM];
	size_t in_len = 0, quote_len = 0;
	int fd, r;

	if (path_join(path, sizeof(path), dir, "inblob") < 0)
		return -ENAMETOOLONG;
	r = file_write_private(path, "", 0, 1);
	if (r < 0)
		return r;
	if (path_join(path, sizeof(path), dir, "outblob") < 0 || mkfifo(path, 0600) < 0)
		return log_error_errno(-errno, "tsm-sim: cannot create %s: %m", path);
	if (path_join(path, sizeof(path), dir, "generation") < 0 || mkfifo(path, 0600) < 0)
		return log_error_errno(-errno, "tsm-sim: cannot create %s: %m", path);
	/* provider last: its presence tells the agent the entry is complete. */
	r = write_atomic(dir, "provider", "tdx_guest\n", 10);
	if (r < 0)
		return r;

	r = fifo_serve(path, "0\n", 2);
	if (r < 0)
		return r;

	fd = entry_fifo_open(dir, "outblob");
	if (fd < 0)
		return fd;
	/* The agent closed inblob (configfs commits it then) before opening outblob. */
	if (path_join(path, sizeof(path), dir, "inblob") == 0 &&
	    file_read_all(path, INBLOB_LEN, &inblob, &in_len) == 0 && in_len == INBLOB_LEN)
		r = quote_make(s, inblob, &quote, &quote_len);
	else
		r = log_error_errno(-EINVAL, "tsm-sim: %s: inblob is not %d bytes", dir,
				    INBLOB_LEN);
	if (r == 0)
		r = write_all(fd, quote, quote_len);
	close(fd); /* an empty outblob is what configfs gives when the quote fails */
	if (r < 0)
		return r;

	fd = entry_fifo_open(dir, "generation");
	if (fd < 0)
		return fd;
	entry_files_remove(dir);
	r = write_all(fd, "1\n", 2);
	close(fd);
	log_info("tsm-sim: quote of %zu bytes served in %s", quote_len, dir);
	return r;
}

static void *entry_thread(void *arg)
{
	struct entry_job *job = arg;

	if (entry_serve(job->sim, job->dir) < 0) {
		entry_files_remove(job->dir);
		rmdir(job->dir);
	}
	free(job);
	return NULL;
}

static void entry_start(struct sim *s, const char *report_dir, const char *name)
{
	struct entry_job *job = calloc(1, sizeof(*job));
	pthread_t t;

	if (!job || path_join(job->dir, sizeof(job->dir), report_dir, name) < 0) {
		free(job);
		return;
	}
	job->sim = s;
	if (pthread_create(&t, NULL, entry_thread, job) != 0) {
		log_error("tsm-sim: cannot start a thread for %s", job->dir);
		free(job);
		return;
	}
	pthread_detach(t);
}

static int usage(void)
{
	fputs("usage: tdx-tsm-sim --ca QUOTESIM_DIR --dir DIR [--rtmr3 HEX] [--background]\n"
	      "Test only: emulates configfs-tsm (DIR/report) and the RTMR3 attribute\n"
	      "(DIR/rtmr3:sha384) for the agent; see docs/agent.md.\n",
	      stderr);
	return 2;
}

static int sim_setup(struct sim *s, const char *rtmr3_hex)
{
	struct quotesim_quote_opts o;
	struct quotesim *qs = NULL;
	char path[PATH_MAX_SIM];
	int r;

	/* A directory that cannot make quotes yet still gets its entries: each quote then fails
	 * as configfs does (empty outblob), which is what tests of that path want. */
	if (quotesim_load(s->ca_dir, &qs) < 0)
		log_warn("tsm-sim: %s cannot make quotes; RTMR3 starts at the built-in default",
			 s->ca_dir);
	quotesim_quote_opts_init(qs, &o);
	if (qs)
		quotesim_free(qs);
	memcpy(s->rtmr3, o.body.rtmr[3], RTMR_LEN);
	if (rtmr3_hex && hex_decode_exact(rtmr3_hex, strlen(rtmr3_hex), s->rtmr3, RTMR_LEN) < 0)
		return log_error_errno(-EINVAL, "tsm-sim: --rtmr3 needs %d hex digits",
				       2 * RTMR_LEN);
	memcpy(s->rtmr3_boot, s->rtmr3, RTMR_LEN);

	if (mkdir(s->dir, 0700) < 0 && errno != EEXIST)
		return log_error_errno(-errno, "tsm-sim: cannot create %s: %m", s->dir);
	if (path_join(path, sizeof(path), s->dir, "report") < 0)
		return -ENAMETOOLONG;
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return log_error_errno(-errno, "tsm-sim: cannot create %s: %m", path);
	if (path_join(path, sizeof(path), s->dir, "rtmr3:sha384") < 0)
		return -ENAMETOOLONG;
	unlink(path);
	if (mkfifo(path, 0600) < 0)
		return log_error_errno(-errno, "tsm-sim: cannot create %s: %m", path);
	if (path_join(path, sizeof(path), s->dir, "extensions") < 0)
		return -ENAMETOOLONG;
	r = file_write_private(path, "", 0, 1);
	if (r < 0)
		return r;
	return rtmr3_publish(s);
}

/* SIGHUP: a new emulated boot. RTMR3 returns to its boot value, the extension list empties and
 * DIR/rtmr3.log (where tests keep the agent's event log, as /run would be) is removed; DIR/boots
 * then holds the new boot count for the caller to wait on. */
static int sim_reboot(struct sim *s)
{
	char path[PATH_MAX_SIM], num[32];
	int r;

	pthread_mutex_lock(&s->lock);
	memcpy(s->rtmr3, s->rtmr3_boot, RTMR_LEN);
	r = rtmr3_publish(s);
	if (r == 0 && path_join(path, sizeof(path), s->dir, "extensions") == 0)
		r = file_write_private(path, "", 0, 1);
	if (r == 0 && path_join(path, sizeof(path), s->dir, "rtmr3.log") == 0)
		unlink(path);
	s->boots++;
	pthread_mutex_unlock(&s->lock);
	snprintf(num, sizeof(num), "%lu\n", s->boots);
	if (r == 0)
		r = write_atomic(s->dir, "boots", num, strlen(num));
	log_info("tsm-sim: emulated boot %lu", s->boots);
	return r;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"ca", required_argument, NULL, 'c'},	 {"dir", required_argument, NULL, 'd'},
		{"rtmr3", required_argument, NULL, 'r'}, {"background", no_argument, NULL, 'b'},
		{"help", no_argument, NULL, 'h'},	 {NULL, 0, NULL, 0},
	};
	struct sim s = {.lock = PTHREAD_MUTEX_INITIALIZER,
			.fifo_lock = PTHREAD_MUTEX_INITIALIZER,
			.rtmr_fd = -1};
	char report[PATH_MAX_SIM], path[PATH_MAX_SIM];
	const char *rtmr3_hex = NULL;
	bool background = false;
	struct pollfd pfd[3];
	sigset_t mask;
	int c, r;

	log_setup("tdx-tsm-sim", LOG_TARGET_STDERR, LOG_LVL_INFO);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			s.ca_dir = optarg;
			break;
		case 'd':
			s.dir = optarg;
			break;
		case 'r':
			rtmr3_hex = optarg;
			break;
		case 'b':
			background = true;
			break;
		default:
			return usage();
		}
	}
	if (!s.ca_dir || !s.dir || optind != argc)
		return usage();
	if (sim_setup(&s, rtmr3_hex) < 0)
		return 1;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &mask, NULL); /* threads inherit it: EPIPE instead of a kill */
	sigdelset(&mask, SIGPIPE);
	pfd[0].fd = signalfd(-1, &mask, SFD_CLOEXEC);
	pfd[1].fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	path_join(report, sizeof(report), s.dir, "report");
	path_join(path, sizeof(path), s.dir, "rtmr3:sha384");
	pfd[2].fd = s.rtmr_fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (pfd[0].fd < 0 || pfd[1].fd < 0 || pfd[2].fd < 0 ||
	    inotify_add_watch(pfd[1].fd, report, IN_CREATE | IN_ONLYDIR) < 0) {
		log_error("tsm-sim: cannot set up the event loop: %m");
		return 1;
	}
	for (int i = 0; i < 3; i++)
		pfd[i].events = POLLIN;
	if (write_atomic(s.dir, "ready", "1\n", 2) < 0)
		return 1;
	/* --background: the caller (a Type=forking unit, an initramfs script) continues once the
	 * emulation is ready. */
	if (background) {
		pid_t pid = fork();

		if (pid < 0) {
			log_error("tsm-sim: fork: %m");
			return 1;
		}
		if (pid > 0)
			_exit(0);
		setsid();
	}
	log_info("tsm-sim: serving %s and %s (TEST ONLY)", report, path);

	for (;;) {
		if (poll(pfd, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("tsm-sim: poll: %m");
			return 1;
		}
		if (pfd[0].revents) {
			struct signalfd_siginfo si;

			if (read(pfd[0].fd, &si, sizeof(si)) != sizeof(si) ||
			    si.ssi_signo != SIGHUP)
				break;
			/* Extensions written before the signal belong to the old boot. */
			rtmr_fifo_drain(&s);
			pthread_mutex_lock(&s.fifo_lock);
			s.n_pending = 0;
			pthread_mutex_unlock(&s.fifo_lock);
			if (sim_reboot(&s) < 0)
				return 1;
			continue;
		}
		if (pfd[1].revents) {
			/* Aligned for struct inotify_event, as inotify(7) shows. */
			char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
			ssize_t k = read(pfd[1].fd, buf, sizeof(buf));

			for (char *p = buf; k > 0 && p < buf + k;) {
				const struct inotify_event *ev = (const struct inotify_event *)p;

				if ((ev->mask & IN_ISDIR) && ev->len > 0)
					entry_start(&s, report, ev->name);
				p += sizeof(*ev) + ev->len;
			}
		}
		if (pfd[2].revents) {
			r = rtmr_fifo_drain(&s);
			if (r < 0)
				return 1;
		}
	}
	log_info("tsm-sim: stopping after %lu quotes", s.quotes);
	return 0;
}
