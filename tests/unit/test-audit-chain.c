/* Unit tests of the audit log's HMAC chain: audit_verify() accepts what audit_write() wrote
 * (across a restart and a rotation) and names the first bad record when one is edited, removed,
 * inserted or reordered, when a file of a rotation is missing, or under another key. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit-test.h"

#include "keyd/audit.h"

#define MAX_LINES 32

static char dir[] = "/tmp/test-audit-chain.XXXXXX";
static const uint8_t key[AUDIT_KEY_LEN] = {0x42, 0x17};

static char *path_in(const char *name)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

/* Removes a scratch file made with path_in() and frees its name. */
static void path_drop(char *path)
{
	unlink(path);
	free(path);
}

static void lines_free(char **lines, int n)
{
	for (int i = 0; i < n; i++)
		free(lines[i]);
}

static void write_records(const char *path, int from, int n)
{
	struct audit_log *a = NULL;
	int saved = dup(2), devnull = open("/dev/null", O_WRONLY);

	dup2(devnull, 2); /* records are copied to stderr */
	assert_int_equal(audit_open(path, key, &a), 0);
	for (int i = from; i < from + n; i++) {
		char reason[32];
		struct audit_record rec = {.event = "resource",
					   .peer = "127.0.0.1:4242",
					   .resource = "default/disk/root",
					   .allowed = i % 2,
					   .reason = reason};

		snprintf(reason, sizeof(reason), "record %d", i);
		assert_int_equal(audit_write(a, &rec), 0);
	}
	audit_close(a);
	dup2(saved, 2);
	close(saved);
	close(devnull);
}

static int read_lines(const char *path, char **lines)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	int n = 0;

	assert_non_null(f);
	while (getline(&line, &cap, f) > 0) {
		assert_true(n < MAX_LINES);
		lines[n++] = strdup(line);
	}
	free(line);
	fclose(f);
	return n;
}

static void write_lines(const char *path, char **lines, int n)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	for (int i = 0; i < n; i++)
		fputs(lines[i], f);
	fclose(f);
}

/* Verifies the files; returns the reason ("" when intact). */
static const char *verify(const char *const *files, size_t n)
{
	static char reason[512];
	int saved = dup(1), devnull = open("/dev/null", O_WRONLY), r;

	reason[0] = '\0';
	fflush(stdout);
	dup2(devnull, 1);
	r = audit_verify(key, files, n, reason, sizeof(reason));
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	close(devnull);
	if (r == 0)
		assert_string_equal(reason, "");
	else
		assert_int_equal(r, -EBADMSG);
	return reason;
}

static void expect_bad(const char *path, char **lines, int n, const char *want)
{
	const char *files[] = {path};
	const char *why;

	write_lines(path, lines, n);
	why = verify(files, 1);
	if (!strstr(why, want))
		fail_msg("expected \"%s\", got \"%s\"", want, why);
}

static void test_tamper(void **state)
{
	char *log = path_in("audit.log"), *copy = path_in("copy.log"), *lines[MAX_LINES],
	     *work[MAX_LINES], *t;
	const char *files[] = {log};
	int n;

	(void)state;
	unlink(log);
	write_records(log, 0, 6);
	write_records(log, 6, 2); /* a restart: chain-start in the middle names the last MAC */
	n = read_lines(log, lines);
	assert_int_equal(n, 1 + 6 + 1 + 2);
	assert_non_null(strstr(lines[7], "\"event\":\"chain-start\""));
	assert_string_equal(verify(files, 1), "");

	/* Edited: one character of a reason. */
	memcpy(work, lines, sizeof(work));
	t = strdup(lines[3]);
	*strstr(t, "record 2") = 'R';
	work[3] = t;
	expect_bad(copy, work, n, "line 4: MAC does not verify");
	free(t);
	/* Edited: the verdict flipped. */
	t = strdup(lines[2]);
	memcpy(strstr(t, "\"allow\""), "\"deny\" ", 7);
	work[2] = t;
	work[3] = lines[3];
	expect_bad(copy, work, n, "line 3: ");
	free(t);
	work[2] = lines[2];
	/* Removed: line 4 goes, the next record no longer chains. */
	memcpy(work, lines, sizeof(work));
	memmove(&work[3], &work[4], sizeof(char *) * (size_t)(n - 4));
	expect_bad(copy, work, n - 1, "line 4: MAC does not verify");
	/* Inserted: a copy of a genuine record replayed after itself. */
	memcpy(work, lines, sizeof(work));
	memmove(&work[4], &work[3], sizeof(char *) * (size_t)(n - 3));
	expect_bad(copy, work, n + 1, "line 5: MAC does not verify");
	/* Inserted: a record without a MAC. */
	memcpy(work, lines, sizeof(work));
	memmove(&work[3], &work[2], sizeof(char *) * (size_t)(n - 2));
	work[2] = (char *)"{\"event\":\"resource\",\"verdict\":\"allow\"}\n";
	expect_bad(copy, work, n + 1, "line 3: no \"mac\"");
	/* Reordered: two records swapped. */
	memcpy(work, lines, sizeof(work));
	work[4] = lines[5];
	work[5] = lines[4];
	expect_bad(copy, work, n, "line 5: MAC does not verify");
	/* The first chain-start removed. */
	expect_bad(copy, lines + 1, n - 1, "line 1: the file does not start with a chain-start");
	/* The records before the restart's chain-start removed. */
	memcpy(work, lines, sizeof(work));
	memmove(&work[5], &work[7], sizeof(char *) * (size_t)(n - 7));
	expect_bad(copy, work, n - 2, "line 6: chain-start does not name the MAC");
	/* Another key. */
	{
		char reason[256];
		uint8_t other[AUDIT_KEY_LEN] = {0x42, 0x18};
		int saved = dup(1), devnull = open("/dev/null", O_WRONLY);

		dup2(devnull, 1);
		assert_int_equal(audit_verify(other, files, 1, reason, sizeof(reason)), -EBADMSG);
		dup2(saved, 1);
		close(saved);
		close(devnull);
		assert_non_null(strstr(reason, "line 1: MAC does not verify"));
	}
	lines_free(lines, n);
	path_drop(log);
	path_drop(copy);
}

static void test_rotation(void **state)
{
	char *log = path_in("audit.log"), *old = path_in("audit.log.1"),
	     *copy = path_in("copy.log"), *lines[MAX_LINES];
	struct audit_log *a = NULL;
	struct audit_record rec = {.event = "resource", .reason = "before rotation"};
	int saved = dup(2), devnull = open("/dev/null", O_WRONLY), n;

	(void)state;
	unlink(log);
	unlink(old);
	dup2(devnull, 2);
	assert_int_equal(audit_open(log, key, &a), 0);
	assert_int_equal(audit_write(a, &rec), 0);
	assert_int_equal(audit_write(a, &rec), 0);
	assert_int_equal(audit_reopen(a), 0); /* not rotated: nothing happens */
	assert_int_equal(rename(log, old), 0);
	assert_int_equal(audit_reopen(a), 0);
	rec.reason = "after rotation";
	assert_int_equal(audit_write(a, &rec), 0);
	audit_close(a);
	dup2(saved, 2);
	close(saved);
	close(devnull);

	{
		const char *both[] = {old, log}, *reversed[] = {log, old}, *new_only[] = {log},
			   *gap[] = {copy, log};

		assert_string_equal(verify(both, 2), "");
		/* The new file alone verifies from the MAC it names. */
		assert_string_equal(verify(new_only, 1), "");
		assert_non_null(strstr(verify(reversed, 2), "line 1: chain-start does not name"));
		/* The old file's last record removed: the new file's chain-start says so. */
		n = read_lines(old, lines);
		assert_int_equal(n, 3);
		write_lines(copy, lines, n - 1);
		assert_non_null(strstr(verify(gap, 2), "audit.log: line 1: chain-start"));
		lines_free(lines, n);
	}
	n = read_lines(log, lines);
	assert_int_equal(n, 2);
	assert_non_null(strstr(lines[0], "\"reason\":\"log file rotated\""));
	lines_free(lines, n);
	path_drop(log);
	path_drop(old);
	path_drop(copy);
}

UNIT_TEST_MAIN_IN_DIR(dir, cmocka_unit_test(test_tamper), cmocka_unit_test(test_rotation))
