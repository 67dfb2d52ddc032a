/* Unit tests for the configfs-tsm quote source against a fake report tree: a FIFO stands in for
 * outblob so that a fake "kernel" thread answers only after inblob was written, as configfs does.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/quote_source.h"
#include "cleanup.h"
#include "fileio.h"

struct fake_entry {
	char dir[128];
	char path[192];
	unsigned gen_step; /* how much the fake kernel advances generation on a request */
	size_t quote_len;  /* bytes the fake kernel writes into outblob */
};

static void entry_file(struct fake_entry *e, const char *name, const char *content)
{
	snprintf(e->path, sizeof(e->path), "%s/%s", e->dir, name);
	assert_int_equal(file_write_private(e->path, content, strlen(content), 1), 0);
}

static void entry_create(struct fake_entry *e, const char *provider, bool fifo)
{
	char path[192];

	strcpy(e->dir, "/tmp/test-quote-source-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	entry_file(e, "provider", provider);
	entry_file(e, "generation", "7\n");
	entry_file(e, "inblob", "");
	snprintf(path, sizeof(path), "%s/outblob", e->dir);
	if (fifo)
		assert_int_equal(mkfifo(path, 0600), 0);
	else
		assert_int_equal(file_write_private(path, "", 0, 1), 0);
	e->gen_step = 1;
	e->quote_len = 0;
}

static void entry_remove(struct fake_entry *e)
{
	static const char *names[] = {"provider", "generation", "inblob", "outblob",
				      "generation.tmp"};
	char path[192];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", e->dir, names[i]);
		unlink(path);
	}
	assert_int_equal(rmdir(e->dir), 0);
}

/* The fake kernel: waits for the reader of outblob, then answers from the committed inblob. */
static void *fake_kernel(void *arg)
{
	struct fake_entry *e = arg;
	char path[192], tmp[192], gen[32];
	uint8_t *inblob = NULL, *quote;
	size_t in_len = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/outblob", e->dir);
	fd = open(path, O_WRONLY); /* blocks until the agent opens outblob */
	if (fd < 0)
		return NULL;
	snprintf(path, sizeof(path), "%s/inblob", e->dir);
	if (file_read_all(path, 1024, &inblob, &in_len) < 0)
		in_len = 0;
	snprintf(tmp, sizeof(tmp), "%s/generation.tmp", e->dir);
	snprintf(path, sizeof(path), "%s/generation", e->dir);
	snprintf(gen, sizeof(gen), "%u\n", 7 + e->gen_step);
	if (file_write_private(tmp, gen, strlen(gen), 1) == 0)
		(void)rename(tmp, path);
	/* The "quote" is "Q" followed by the inblob repeated, quote_len bytes in all. */
	quote = malloc(e->quote_len + 1);
	if (quote) {
		quote[0] = 'Q';
		for (size_t i = 1; i < e->quote_len; i++)
			quote[i] = in_len ? inblob[(i - 1) % in_len] : 0;
		for (size_t done = 0; done < e->quote_len;) {
			ssize_t k = write(fd, quote + done, e->quote_len - done);
			if (k <= 0)
				break;
			done += (size_t)k;
		}
	}
	free(quote);
	free(inblob);
	close(fd);
	return NULL;
}

static void report_data_fill(uint8_t rd[QUOTE_REPORT_DATA_LEN])
{
	for (int i = 0; i < QUOTE_REPORT_DATA_LEN; i++)
		rd[i] = (uint8_t)(0xa0 + i);
}

static size_t inblob_size(struct fake_entry *e)
{
	struct stat st;
	char path[192];

	snprintf(path, sizeof(path), "%s/inblob", e->dir);
	assert_int_equal(stat(path, &st), 0);
	return (size_t)st.st_size;
}

/* tsm_entry_quote on e (5 s budget) with the fake kernel answering from a thread. */
static int quote_with_fake_kernel(struct fake_entry *e, const uint8_t *rd, uint8_t **quote,
				  size_t *len)
{
	pthread_t t;
	int r;

	assert_int_equal(pthread_create(&t, NULL, fake_kernel, e), 0);
	r = tsm_entry_quote(e->dir, rd, 5000, quote, len);
	/* Joined even when the reader stopped early: the fake kernel's blocked write then fails. */
	pthread_join(t, NULL);
	return r;
}

static void test_success(void **state)
{
	struct fake_entry e;
	uint8_t rd[QUOTE_REPORT_DATA_LEN], *quote = NULL;
	size_t len = 0;

	(void)state;
	report_data_fill(rd);
	entry_create(&e, "tdx_guest\n", true);
	e.quote_len = 5000;
	assert_int_equal(quote_with_fake_kernel(&e, rd, &quote, &len), 0);
	assert_int_equal(len, 5000);
	assert_int_equal(quote[0], 'Q');
	/* The quote was produced from exactly the 64 bytes written. */
	assert_memory_equal(quote + 1, rd, QUOTE_REPORT_DATA_LEN);
	assert_memory_equal(quote + 1 + QUOTE_REPORT_DATA_LEN, rd, QUOTE_REPORT_DATA_LEN);
	assert_int_equal(inblob_size(&e), QUOTE_REPORT_DATA_LEN);
	free(quote);
	entry_remove(&e);
}

static void test_provider_mismatch(void **state)
{
	static const char *const providers[] = {"sev_guest\n", "tdx_guestx\n"};
	uint8_t rd[QUOTE_REPORT_DATA_LEN];

	(void)state;
	report_data_fill(rd);
	for (size_t i = 0; i < ARRAY_SIZE(providers); i++) {
		struct fake_entry e;
		uint8_t *quote = NULL;
		size_t len = 0;

		entry_create(&e, providers[i], false);
		assert_int_equal(tsm_entry_quote(e.dir, rd, 1000, &quote, &len), -EPROTO);
		assert_null(quote);
		/* Nothing was asked of a provider that is not TDX. */
		assert_int_equal(inblob_size(&e), 0);
		entry_remove(&e);
	}
}

/* The fake kernel answers, but not with a quote the agent may use: each is refused. */
static void test_bad_answers(void **state)
{
	static const struct {
		const char *why;
		size_t quote_len;
		unsigned gen_step;
	} cases[] = {
		{"empty outblob", 0, 1},
		{"another writer on the entry: generation advanced by two", 100, 2},
		{"the write was never committed: generation did not move", 100, 0},
		{"oversized outblob", QUOTE_MAX_LEN + 1, 1},
	};
	struct fake_entry e;
	uint8_t rd[QUOTE_REPORT_DATA_LEN], *quote = NULL;
	size_t len = 0;

	(void)state;
	report_data_fill(rd);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		entry_create(&e, "tdx_guest\n", true);
		e.quote_len = cases[i].quote_len;
		e.gen_step = cases[i].gen_step;
		if (quote_with_fake_kernel(&e, rd, &quote, &len) != -EPROTO || quote)
			fail_msg("%s: not refused", cases[i].why);
		entry_remove(&e);
	}

	/* generation that is not a number. */
	entry_create(&e, "tdx_guest\n", false);
	entry_file(&e, "generation", "seven\n");
	assert_int_equal(tsm_entry_quote(e.dir, rd, 1000, &quote, &len), -EPROTO);
	entry_remove(&e);
}

static void test_timeout(void **state)
{
	struct fake_entry e;
	uint8_t rd[QUOTE_REPORT_DATA_LEN], *quote = NULL;
	struct timespec t0, t1;
	size_t len = 0;
	long ms;
	int fd;

	(void)state;
	report_data_fill(rd);
	/* Nobody ever answers on outblob: the host's quoting service is gone. */
	entry_create(&e, "tdx_guest\n", true);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(tsm_entry_quote(e.dir, rd, 300, &quote, &len), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 290 && ms < 3000);
	assert_null(quote);
	/* Release the abandoned reader so it can free its job. */
	snprintf(e.path, sizeof(e.path), "%s/outblob", e.dir);
	fd = open(e.path, O_WRONLY);
	assert_true(fd >= 0);
	close(fd);
	usleep(50000);
	entry_remove(&e);
}

static void test_report_dir(void **state)
{
	char base[] = "/tmp/test-quote-report-XXXXXX";
	uint8_t rd[QUOTE_REPORT_DATA_LEN], *quote = NULL;
	size_t len = 0, entries = 0;
	struct dirent *de;
	DIR *d;

	(void)state;
	report_data_fill(rd);
	assert_int_equal(tsm_report_quote("/nonexistent/tsm/report", rd, 1000, &quote, &len),
			 -ENODEV);
	/* A plain directory: the fresh entry has no attributes (no TDX provider behind it); the
	 * failure is reported and the entry removed again. */
	assert_non_null(mkdtemp(base));
	assert_int_equal(tsm_report_quote(base, rd, 1000, &quote, &len), -ENOENT);
	assert_null(quote);
	d = opendir(base);
	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			entries++;
	closedir(d);
	assert_int_equal(entries, 0);
	assert_int_equal(rmdir(base), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_success),	    cmocka_unit_test(test_provider_mismatch),
		cmocka_unit_test(test_bad_answers), cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_report_dir),
	};

	signal(SIGPIPE, SIG_IGN); /* the fake kernel may write into a closed FIFO */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
