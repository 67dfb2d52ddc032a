/* Unit tests of keyd's configuration, root key and audit log modules. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "kdf.h"
#include "keyd/audit.h"
#include "keyd/keyd_config.h"
#include "keyd/rootkey.h"

static char dir[] = "/tmp/test-keyd-config.XXXXXX";
static const uint8_t audit_key[AUDIT_KEY_LEN] = {1, 2, 3};

static char *path_in(const char *name)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

static char *write_file(const char *name, const void *data, size_t len, mode_t mode)
{
	char *p = path_in(name);
	int fd;

	unlink(p);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	fchmod(fd, mode);
	close(fd);
	return p;
}

static void test_example_config(void **state)
{
	struct keyd_config *c = NULL;

	(void)state;
	/* The documented example must stay loadable. */
	if (access("etc/keyd.json.example", R_OK) < 0) {
		print_message("skipped: run from the repository root\n");
		return;
	}
	assert_int_equal(keyd_config_load("etc/keyd.json.example", &c), 0);
	assert_string_equal(c->listen_address, "0.0.0.0");
	assert_int_equal(c->listen_port, 8443);
	assert_string_equal(c->root_key_file, "/etc/tdx-keyd/root.key");
	assert_null(c->test_root_ca);
	assert_int_equal(c->limits.max_body_bytes, 65536);
	assert_int_equal(c->limits.session_lifetime_s, 300);
	keyd_config_free(c);
}

static void test_config_relative_and_errors(void **state)
{
	static const char good[] =
		"{\"listen\":{\"address\":\"127.0.0.1\",\"port\":0},"
		"\"tls\":{\"certificate\":\"tls.crt\",\"private_key\":\"/abs/tls.key\"},"
		"\"test_root_ca\":\"sim/root.pem\",\"policy_dir\":\"p\",\"collateral_dir\":\"c\","
		"\"root_key_file\":\"root.key\",\"limits\":{\"max_sessions\":5}}";
	static const char *const bad[] = {
		"{\"listen\":{\"address\":\"127.0.0.1\",\"port\":70000},\"tls\":{\"certificate\":"
		"\"a\","
		"\"private_key\":\"b\"},\"policy_dir\":\"p\",\"collateral_dir\":\"c\","
		"\"root_key_file\":\"k\"}",
		"{\"listen\":{\"address\":\"127.0.0.1\",\"port\":1},\"tls\":{\"certificate\":\"a\","
		"\"private_key\":\"b\"},\"policy_dir\":\"p\",\"collateral_dir\":\"c\"}",
		"{\"listen\":{\"address\":\"127.0.0.1\",\"port\":1},\"tls\":{\"certificate\":\"a\","
		"\"private_key\":\"b\"},\"policy_dir\":\"p\",\"collateral_dir\":\"c\","
		"\"root_key_file\":\"k\",\"limits\":{\"max_body_bytes\":1}}",
		"{\"listen\":{\"address\":\"127.0.0.1\",\"port\":1},\"tls\":{\"certificate\":\"a\","
		"\"private_key\":\"b\"},\"policy_dir\":\"p\",\"collateral_dir\":\"c\","
		"\"root_key_file\":\"k\",\"polcy_dir\":\"typo\"}",
		"{\"listen\":{\"address\":\"127.0.0.1\",\"port\":1},\"tls\":{\"certificate\":\"a\","
		"\"private_key\":\"b\"},\"policy_dir\":\"p\",\"collateral_dir\":\"c\","
		"\"root_key_file\":\"k\",\"pccs_url\":\"http://example.com\"}",
		/* Exactly one root key, and a strict PKCS#11 URI. */
		"{\"listen\":{\"address\":\"127.0.0.1\",\"port\":1},\"tls\":{\"certificate\":\"a\","
		"\"private_key\":\"b\"},\"policy_dir\":\"p\",\"collateral_dir\":\"c\","
		"\"root_key_file\":\"k\",\"root_key_pkcs11\":\"pkcs11:object=r?module-path=/"
		"m.so\"}",
		"{\"listen\":{\"address\":\"127.0.0.1\",\"port\":1},\"tls\":{\"certificate\":\"a\","
		"\"private_key\":\"b\"},\"policy_dir\":\"p\",\"collateral_dir\":\"c\","
		"\"root_key_pkcs11\":\"pkcs11:object=r;slot=1?module-path=/m.so\"}",
		"{\"listen\":{}}",
		"not json",
	};
	/* Plain HTTP is for a loopback test PCCS only: not another host that starts alike. */
	static const char *const pccs_bad[] = {"http://127.0.0.1.example.com/",
					       "http://127.0.0.1@example.com/",
					       "http://127.0.0.10:8081",
					       "http://127.0.0.1:80@example.com/",
					       "ftp://127.0.0.1/",
					       "https://",
					       "HTTP://127.0.0.1:1"};
	static const char *const pccs_good[] = {"http://127.0.0.1:8081", "http://127.0.0.1",
						"http://127.0.0.1/sgx",
						"https://pccs.example:8081"};
	struct keyd_config *c = NULL;
	char *p, *want;

	for (size_t i = 0;
	     i < sizeof(pccs_bad) / sizeof(pccs_bad[0]) + sizeof(pccs_good) / sizeof(pccs_good[0]);
	     i++) {
		bool ok = i >= sizeof(pccs_bad) / sizeof(pccs_bad[0]);
		const char *url =
			ok ? pccs_good[i - sizeof(pccs_bad) / sizeof(pccs_bad[0])] : pccs_bad[i];
		char *doc = NULL;
		int r;

		assert_true(asprintf(&doc, "%.*s,\"pccs_url\":\"%s\"}", (int)strlen(good) - 1, good,
				     url) > 0);
		p = write_file("keyd.json", doc, strlen(doc), 0644);
		c = NULL;
		r = keyd_config_load(p, &c);
		if (ok != (r == 0))
			fail_msg("pccs_url %s: %d", url, r);
		keyd_config_free(c);
		free(p);
		free(doc);
	}
	/* proxy_protocol: numeric balancer addresses only; off unless given. */
	{
		static const char *const proxy[] = {
			"{\"from\":[\"127.0.0.9\",\"::1\"]}",
			"{\"from\":[\"10.0.0.2\"],\"v1\":true}",
			"{\"from\":[]}",
			"{\"from\":[\"localhost\"]}",
			"{\"from\":[\"10.0.0.0/8\"]}",
			"{\"from\":[1]}",
			"{\"from\":\"10.0.0.2\"}",
			"{\"from\":[\"10.0.0.2\"],\"v2\":true}",
			"{}",
		};

		for (size_t i = 0; i < sizeof(proxy) / sizeof(proxy[0]); i++) {
			char *doc = NULL;
			int r;

			assert_true(asprintf(&doc, "%.*s,\"proxy_protocol\":%s}",
					     (int)strlen(good) - 1, good, proxy[i]) > 0);
			p = write_file("keyd.json", doc, strlen(doc), 0644);
			c = NULL;
			r = keyd_config_load(p, &c);
			if ((i < 2) != (r == 0))
				fail_msg("proxy_protocol %s: %d", proxy[i], r);
			if (i == 0) {
				assert_int_equal(c->proxy.n_from, 2);
				assert_int_equal(c->proxy.from[0].family, AF_INET);
				assert_int_equal(c->proxy.from[1].family, AF_INET6);
				assert_false(c->proxy.v1);
			} else if (i == 1) {
				assert_true(c->proxy.v1);
			}
			keyd_config_free(c);
			free(p);
			free(doc);
		}
	}
	p = write_file("keyd.json", good, strlen(good), 0644);

	(void)state;
	assert_int_equal(keyd_config_load(p, &c), 0);
	assert_int_equal(c->proxy.n_from, 0); /* off by default */
	want = path_in("tls.crt");
	assert_string_equal(c->tls_cert, want);
	free(want);
	assert_string_equal(c->tls_key, "/abs/tls.key");
	want = path_in("sim/root.pem");
	assert_string_equal(c->test_root_ca, want);
	free(want);
	assert_int_equal(c->limits.max_sessions, 5);
	assert_int_equal(c->limits.max_body_bytes, 65536); /* defaults kept */
	keyd_config_free(c);
	free(p);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = write_file("bad.json", bad[i], strlen(bad[i]), 0644);
		c = NULL;
		assert_true(keyd_config_load(p, &c) < 0);
		assert_null(c);
		free(p);
	}
}

/* A configuration with a key twice is refused, and the refusal is logged once. */
static void test_config_duplicate_key_logged_once(void **state)
{
	static const char doc[] =
		"{\"listen\":{\"address\":\"127.0.0.1\",\"port\":1},\"tls\":{\"certificate\":\"a\","
		"\"private_key\":\"b\"},\"policy_dir\":\"p\",\"collateral_dir\":\"c\","
		"\"root_key_file\":\"k\",\"policy_dir\":\"q\"}";
	char logpath[] = "/tmp/test-keyd-config-log.XXXXXX", log[4096] = "";
	struct keyd_config *c = NULL;
	int fd = mkstemp(logpath), saved = dup(2), r;
	char *p = write_file("dup.json", doc, strlen(doc), 0644);
	const char *hit;

	(void)state;
	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, 2);
	r = keyd_config_load(p, &c);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	assert_true(pread(fd, log, sizeof(log) - 1, 0) >= 0);
	close(fd);
	unlink(logpath);
	assert_int_equal(r, -EINVAL);
	assert_null(c);
	hit = strstr(log, "dup.json: JSON object has a duplicate member name");
	assert_non_null(hit);
	if (strstr(hit + strlen("dup.json: JSON object has a duplicate"), "duplicate member name"))
		fail_msg("logged twice: %s", log);
	free(p);
}

static void test_rootkey(void **state)
{
	uint8_t key[32], out[32], want[32];
	struct rootkey *k = NULL;
	char *p, *link;

	(void)state;
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	p = write_file("root.key", key, 32, 0644);
	assert_int_equal(rootkey_load(p, &k), -EPERM);
	free(p);
	p = write_file("root.key", key, 32, 0640);
	assert_int_equal(rootkey_load(p, &k), -EPERM);
	free(p);
	p = write_file("root.key", key, 31, 0600);
	assert_int_equal(rootkey_load(p, &k), -EINVAL);
	free(p);
	/* Owned by another (unprivileged) user: that user could read or replace it. */
	p = write_file("root.key", key, 32, 0600);
	if (geteuid() == 0) {
		assert_int_equal(chown(p, 65534, 65534), 0);
		assert_int_equal(rootkey_load(p, &k), -EPERM);
		assert_int_equal(chown(p, 0, 0), 0);
	} else {
		print_message("skipped the owner check: needs root to chown\n");
	}
	free(p);
	p = write_file("root.key", key, 32, 0600);
	link = path_in("root.link");
	unlink(link);
	assert_int_equal(symlink(p, link), 0);
	assert_true(rootkey_load(link, &k) < 0); /* no symlinks */
	assert_int_equal(rootkey_load(p, &k), 0);
	assert_int_equal(rootkey_disk_secret(k, "pol", "default/disk/root", 3, out), 0);
	assert_int_equal(kdf_disk_secret(key, 32, "pol", "default/disk/root", 3, want), 0);
	assert_memory_equal(out, want, 32);
	assert_int_equal(rootkey_disk_secret(k, "pol", "default/disk/root", 4, out), 0);
	assert_memory_not_equal(out, want, 32);
	assert_int_equal(rootkey_subkey(k, "nonce/v1", out), 0);
	assert_int_equal(rootkey_subkey(k, "token/v1", want), 0);
	assert_memory_not_equal(out, want, 32);
	rootkey_free(k);
	unlink(link);
	free(link);
	free(p);
}

struct audit_thread {
	struct audit_log *a;
	int n;
};

static void *audit_writer(void *arg)
{
	struct audit_thread *t = arg;
	char reason[600];

	memset(reason, 'x', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	for (int i = 0; i < t->n; i++) {
		struct audit_record r = {.event = "resource",
					 .peer = "127.0.0.1:1",
					 .resource = "default/disk/root",
					 .reason = reason};

		audit_write(t->a, &r);
	}
	return NULL;
}

/* Four threads writing long lines: every line must come out whole. */
static void test_audit_lines(void **state)
{
	struct audit_thread t = {.n = 200};
	pthread_t th[4];
	char *p = path_in("audit.log"), line[4096];
	int saved = dup(2), devnull = open("/dev/null", O_WRONLY), lines = 0;
	FILE *f;

	(void)state;
	unlink(p);
	assert_int_equal(audit_open(p, audit_key, &t.a), 0);
	dup2(devnull, 2); /* audit lines are copied to stderr */
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, audit_writer, &t), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	dup2(saved, 2);
	close(saved);
	close(devnull);
	audit_close(t.a);
	f = fopen(p, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		struct json_object *o = json_tokener_parse(line), *v;

		assert_non_null(o);
		if (json_object_object_get_ex(o, "verdict", &v) && v) { /* not chain-start */
			assert_string_equal(json_object_get_string(v), "deny");
			lines++;
		}
		json_object_put(o);
	}
	fclose(f);
	assert_int_equal(lines, 800);
	{
		const char *files[] = {p};
		char reason[256];

		/* Four writers, one chain: the file order is the chain order. */
		assert_int_equal(audit_verify(audit_key, files, 1, reason, sizeof(reason)), 0);
	}
	unlink(p);
	free(p);
}

/* A record cut short (file size limit, disk full) must not swallow the next one: after the
 * space comes back, the next record is again a line of its own. */
static void test_audit_after_short_write(void **state)
{
	struct audit_record rec = {.event = "resource", .peer = "127.0.0.1:1", .reason = "first"};
	char *p = path_in("audit-short.log"), line[4096], last[4096] = "";
	struct audit_log *a = NULL;
	struct rlimit saved_lim, lim;
	int saved = dup(2), devnull = open("/dev/null", O_WRONLY), parsed = 0, lines = 0;
	FILE *f;

	(void)state;
	unlink(p);
	assert_int_equal(audit_open(p, audit_key, &a), 0);
	dup2(devnull, 2);
	assert_int_equal(audit_write(a, &rec), 0);
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved_lim), 0);
	lim = saved_lim;
	{
		struct stat st;

		assert_int_equal(stat(p, &st), 0);
		lim.rlim_cur = (rlim_t)st.st_size + 60; /* the first lines fit, the next is cut */
	}
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	rec.reason = "second";
	assert_true(audit_write(a, &rec) < 0);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved_lim), 0);
	signal(SIGXFSZ, SIG_DFL);
	rec.reason = "third";
	assert_int_equal(audit_write(a, &rec), 0);
	dup2(saved, 2);
	close(saved);
	close(devnull);
	audit_close(a);
	f = fopen(p, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		struct json_object *o = json_tokener_parse(line);

		lines++;
		if (o)
			parsed++;
		json_object_put(o);
		snprintf(last, sizeof(last), "%s", line);
	}
	fclose(f);
	/* chain-start, first, the fragment of second, third */
	assert_int_equal(lines, 4);
	assert_int_equal(parsed, 3);
	assert_non_null(strstr(last, "\"reason\":\"third\""));
	{
		const char *files[] = {p};
		char reason[256];

		/* The fragment is a gap in the log: the verifier names it. */
		assert_int_equal(audit_verify(audit_key, files, 1, reason, sizeof(reason)),
				 -EBADMSG);
		assert_non_null(strstr(reason, "line 3: no \"mac\""));
	}
	unlink(p);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example_config),
		cmocka_unit_test(test_config_relative_and_errors),
		cmocka_unit_test(test_config_duplicate_key_logged_once),
		cmocka_unit_test(test_rootkey),
		cmocka_unit_test(test_audit_lines),
		cmocka_unit_test(test_audit_after_short_write),
	};
	char *p;
	int r;

	if (!mkdtemp(dir))
		return 1;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	p = path_in("root.key");
	unlink(p);
	free(p);
	p = path_in("keyd.json");
	unlink(p);
	free(p);
	p = path_in("bad.json");
	unlink(p);
	free(p);
	rmdir(dir);
	return r;
}
