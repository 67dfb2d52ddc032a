/* Unit tests for the agent configuration: JSON file, rd.tdx_unlock.* command line, bad values. */
#include <errno.h>
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

#include "cleanup.h"

#include "agent/config.h"
#include "fileio.h"

#define PIN_HEX "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
/* base64 of the 32 bytes 00 01 .. 1f */
#define PIN_B64 "sha256//AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static int parse(struct agent_config *c, const char *json)
{
	agent_config_init(c);
	return agent_config_parse_json(c, json, strlen(json));
}

static int cmdline(struct agent_config *c, const char *line)
{
	agent_config_init(c);
	return agent_config_apply_cmdline(c, line);
}

/* A text the configuration refuses, with the error it must give. */
struct refused {
	const char *text;
	int err;
};

/* Each case, read into a fresh configuration by read (parse, cmdline), gives its error. */
static void expect_refused(int (*read)(struct agent_config *, const char *),
			   const struct refused *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct agent_config c;
		int r = read(&c, cases[i].text);

		if (r != cases[i].err)
			fail_msg("case %zu (%s): got %d, want %d", i, cases[i].text, r,
				 cases[i].err);
		agent_config_done(&c);
	}
}

static void test_defaults(void **state)
{
	struct agent_config c;

	(void)state;
	agent_config_init(&c);
	assert_int_equal(c.total_timeout_s, 60);
	assert_int_equal(c.passphrase_tries, 3);
	assert_int_equal(c.passphrase_timeout_s, 120);
	assert_int_equal(c.n_servers, 0);
	/* No server is not a usable configuration. */
	assert_int_equal(agent_config_validate(&c), -EINVAL);
	agent_config_done(&c);
}

static void test_full_file(void **state)
{
	struct agent_config c;
	const char *json =
		"{\"servers\":["
		"{\"url\":\"https://kbs1.example:8443/\",\"pins\":[\"" PIN_HEX "\",\"" PIN_B64
		"\"]},"
		"{\"url\":\"https://kbs2.example\",\"ca_file\":\"/etc/tdx-unlock/ca.pem\"}],"
		"\"connect_timeout_ms\":700,\"request_timeout_ms\":5000,"
		"\"total_timeout_s\":30,\"attempts\":4,\"backoff_initial_ms\":100,"
		"\"backoff_max_ms\":1000,\"quote_source\":\"configfs-tsm\","
		"\"log_level\":\"debug\",\"allow_missing_rtmr\":true}";

	(void)state;
	assert_int_equal(parse(&c, json), 0);
	assert_true(c.allow_missing_rtmr);
	assert_int_equal(agent_config_validate(&c), 0);
	assert_int_equal(c.n_servers, 2);
	/* The trailing slash is dropped so URLs compare exactly. */
	assert_string_equal(c.servers[0].url, "https://kbs1.example:8443");
	assert_int_equal(c.servers[0].n_pins, 2);
	assert_int_equal(c.servers[0].pins[0][0], 0x01);
	assert_int_equal(c.servers[0].pins[0][31], 0xef);
	for (int i = 0; i < 32; i++)
		assert_int_equal(c.servers[0].pins[1][i], i);
	assert_null(c.servers[0].ca_file);
	assert_string_equal(c.servers[1].ca_file, "/etc/tdx-unlock/ca.pem");
	assert_int_equal(c.connect_timeout_ms, 700);
	assert_int_equal(c.request_timeout_ms, 5000);
	assert_int_equal(c.total_timeout_s, 30);
	assert_int_equal(c.attempts, 4);
	assert_int_equal(c.backoff_initial_ms, 100);
	assert_int_equal(c.backoff_max_ms, 1000);
	assert_int_equal(c.log_level, LOG_LVL_DEBUG);
	agent_config_done(&c);
}

static void test_bad_files(void **state)
{
	static const struct refused cases[] = {
		{"", -EINVAL},
		{"[]", -EINVAL},
		{"{\"servers\":[{\"url\":\"https://a\",\"pins\":[\"" PIN_HEX "\"]}]} x", -EINVAL},
		{"{\"servers\":[{\"url\":\"https://a\",\"pins\":[\"" PIN_HEX "\"]}],", -EINVAL},
		{"{\"unknown\":1}", -EINVAL},
		{"{\"servers\":{}}", -EINVAL},
		{"{\"servers\":[]}", -EINVAL},
		{"{\"servers\":[\"https://a\"]}", -EINVAL},
		{"{\"servers\":[{\"pins\":[\"" PIN_HEX "\"]}]}", -EINVAL},
		{"{\"servers\":[{\"url\":\"http://a\",\"pins\":[\"" PIN_HEX "\"]}]}", -EINVAL},
		{"{\"servers\":[{\"url\":\"https://\",\"pins\":[\"" PIN_HEX "\"]}]}", -EINVAL},
		{"{\"servers\":[{\"url\":\"https://a b\",\"pins\":[\"" PIN_HEX "\"]}]}", -EINVAL},
		{"{\"servers\":[{\"url\":\"https://u@a\",\"pins\":[\"" PIN_HEX "\"]}]}", -EINVAL},
		{"{\"servers\":[{\"url\":7}]}", -EINVAL},
		{"{\"servers\":[{\"url\":\"https://a\",\"pins\":\"" PIN_HEX "\"}]}", -EINVAL},
		{"{\"servers\":[{\"url\":\"https://a\",\"pins\":[\"0123\"]}]}", -EINVAL},
		{"{\"servers\":[{\"url\":\"https://a\",\"pins\":[\"sha256//AAAA\"]}]}", -EINVAL},
		{"{\"servers\":[{\"url\":\"https://a\",\"pins\":[\"sha256//"
		 "!!ECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"]}]}",
		 -EINVAL},
		/* Non-zero unused bits: decodes to the same pin, but only one text is accepted. */
		{"{\"servers\":[{\"url\":\"https://a\",\"pins\":[\"sha256//"
		 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=\"]}]}",
		 -EINVAL},
		{"{\"servers\":[{\"url\":\"https://a\",\"pins\":[1]}]}", -EINVAL},
		{"{\"servers\":[{\"url\":\"https://a\",\"ca_file\":\"relative.pem\"}]}", -EINVAL},
		{"{\"servers\":[{\"url\":\"https://a\",\"extra\":1}]}", -EINVAL},
		{"{\"total_timeout_s\":0}", -ERANGE},
		{"{\"total_timeout_s\":-5}", -ERANGE},
		{"{\"total_timeout_s\":99999999999}", -ERANGE},
		{"{\"total_timeout_s\":\"60\"}", -EINVAL},
		{"{\"total_timeout_s\":1.5}", -EINVAL},
		{"{\"attempts\":0}", -ERANGE},
		{"{\"connect_timeout_ms\":10}", -ERANGE},
		{"{\"quote_source\":\"tpm\"}", -EINVAL},
		{"{\"quote_source\":1}", -EINVAL},
		{"{\"log_level\":\"loud\"}", -EINVAL},
		/* The test quote simulator is not in the agent; test hooks are not config keys. */
		{"{\"quote_source\":\"simulator\"}", -EINVAL},
		{"{\"allow_missing_rtmr\":\"yes\"}", -EINVAL},
		{"{\"total_timeout_s\":61}", -ERANGE},
		/* The agent's own prompt: bounded tries and time. */
		{"{\"passphrase_tries\":0}", -ERANGE},
		{"{\"passphrase_tries\":11}", -ERANGE},
		{"{\"passphrase_timeout_s\":9}", -ERANGE},
		{"{\"passphrase_timeout_s\":301}", -ERANGE},
		{"{\"simulator_dir\":\"sim\"}", -EINVAL},
		/* A second "servers" would silently replace the first with json-c's own parser. */
		{"{\"servers\":[{\"url\":\"https://a\",\"pins\":[\"" PIN_HEX
		 "\"]}],\"servers\":[{\"url\":\"https://evil\",\"pins\":[\"" PIN_HEX "\"]}]}",
		 -EINVAL},
		{"{\"attempts\":3,\"attempts\":4}", -EINVAL},
		{"{\"servers\":[{\"url\":\"https://a\",\"url\":\"https://b\"}]}", -EINVAL},
		{"{\"tsm_report_dir\":\"/tmp/tsm\"}", -EINVAL},
		{"{\"rtmr_path\":\"\"}", -EINVAL},
	};

	(void)state;
	expect_refused(parse, cases, ARRAY_SIZE(cases));
}

static void test_validate(void **state)
{
	struct agent_config c;

	(void)state;
	/* A server without pin or CA would trust whatever answers. */
	assert_int_equal(parse(&c, "{\"servers\":[{\"url\":\"https://a\"}]}"), 0);
	assert_int_equal(agent_config_validate(&c), -EINVAL);
	agent_config_done(&c);

	assert_int_equal(parse(&c, "{\"servers\":[{\"url\":\"https://a\",\"pins\":[\"" PIN_HEX
				   "\"]},{\"url\":\"https://a/\",\"pins\":[\"" PIN_HEX "\"]}]}"),
			 0);
	assert_int_equal(agent_config_validate(&c), -EINVAL); /* listed twice */
	agent_config_done(&c);

	assert_int_equal(parse(&c, "{\"servers\":[{\"url\":\"https://a\",\"pins\":[\"" PIN_HEX
				   "\"]}],\"backoff_initial_ms\":5000,\"backoff_max_ms\":100}"),
			 0);
	assert_int_equal(agent_config_validate(&c), -EINVAL);
	agent_config_done(&c);
}

static void test_cmdline(void **state)
{
	struct agent_config c;

	(void)state;
	assert_int_equal(
		parse(&c, "{\"servers\":[{\"url\":\"https://file\",\"pins\":[\"" PIN_HEX "\"]}]}"),
		0);
	/* Other words and look-alike prefixes are not ours. */
	assert_int_equal(agent_config_apply_cmdline(
				 &c, "BOOT_IMAGE=/vmlinuz root=UUID=x ro quiet rd.tdx_unlockx=1 "
				     "rd.tdx_unlock.net_timeout=15 "
				     "rd.tdx_unlock.total_timeout_s=20 rd.tdx_unlock.attempts=2 "
				     "\"rd.tdx_unlock.log_level=debug\"\n"),
			 0);
	assert_int_equal(c.total_timeout_s, 20);
	assert_int_equal(c.attempts, 2);
	assert_int_equal(c.log_level, LOG_LVL_DEBUG);
	assert_int_equal(c.n_servers, 1);
	assert_string_equal(c.servers[0].url, "https://file");
	assert_false(c.disabled);
	assert_false(c.recovery);
	assert_false(c.allow_missing_rtmr);
	assert_int_equal(agent_config_apply_cmdline(&c, "ro rd.tdx_unlock.recovery=1"), 0);
	assert_true(c.recovery);
	assert_int_equal(agent_config_apply_cmdline(&c, "rd.tdx_unlock.recovery=0"), 0);
	assert_false(c.recovery);

	/* Command-line servers replace the file's and take the command-line pins and CA. */
	assert_int_equal(agent_config_apply_cmdline(
				 &c, "rd.tdx_unlock.server=https://k1:8443/,https://k2 "
				     "rd.tdx_unlock.server=https://k3 rd.tdx_unlock.pin=" PIN_B64
				     " rd.tdx_unlock.ca_file=\"/etc/ca.pem\""),
			 0);
	assert_int_equal(c.n_servers, 3);
	assert_string_equal(c.servers[0].url, "https://k1:8443");
	assert_string_equal(c.servers[2].url, "https://k3");
	assert_int_equal(c.servers[2].n_pins, 1);
	assert_int_equal(c.servers[2].pins[0][31], 31);
	assert_string_equal(c.servers[1].ca_file, "/etc/ca.pem");
	for (size_t i = 0; i < c.n_servers; i++)
		assert_string_not_equal(c.servers[i].url, "https://file");
	assert_int_equal(agent_config_validate(&c), 0);

	assert_int_equal(agent_config_apply_cmdline(&c, "quiet rd.tdx_unlock=0"), 0);
	assert_true(c.disabled);
	assert_int_equal(agent_config_apply_cmdline(&c, "rd.tdx_unlock"), 0);
	assert_false(c.disabled);
	agent_config_done(&c);
}

static void test_cmdline_bad(void **state)
{
	static const struct refused cases[] = {
		{"rd.tdx_unlock.total_timeout_s=abc", -EINVAL},
		{"rd.tdx_unlock.total_timeout_s=", -EINVAL},
		{"rd.tdx_unlock.total_timeout_s", -EINVAL},
		{"rd.tdx_unlock.total_timeout_s=-1", -EINVAL},
		{"rd.tdx_unlock.total_timeout_s=10x", -EINVAL},
		{"rd.tdx_unlock.total_timeout_s=100000", -ERANGE},
		{"rd.tdx_unlock.attempts=0", -ERANGE},
		{"rd.tdx_unlock.server=http://plain", -EINVAL},
		{"rd.tdx_unlock.server=", -EINVAL},
		{"rd.tdx_unlock.pin=" PIN_HEX, -EINVAL}, /* pin without server */
		{"rd.tdx_unlock.server=https://a rd.tdx_unlock.pin=abcd", -EINVAL},
		{"rd.tdx_unlock.server=https://a rd.tdx_unlock.ca_file=ca.pem", -EINVAL},
		{"rd.tdx_unlock.quote_source=simulator", -EPERM},
		/* Only the file can accept a kernel without RTMR3. */
		{"rd.tdx_unlock.allow_missing_rtmr=true", -EPERM},
		{"rd.tdx_unlock.recovery=yes", -EINVAL},
		/* The budget stays below the unit's TimeoutStartSec. */
		{"rd.tdx_unlock.total_timeout_s=61", -ERANGE},
		{"rd.tdx_unlock.simulator_dir=/tmp", -EINVAL},
		{"rd.tdx_unlock.nonsense=1", -EINVAL},
		{"rd.tdx_unlock.=1", -EINVAL},
		{"rd.tdx_unlock=maybe", -EINVAL},
		{"rd.tdx_unlock.log_level=trace", -EINVAL},
		{"rd.tdx_unlock.server=https://1,https://2,https://3,https://4,https://5,"
		 "https://6,https://7,https://8,https://9",
		 -E2BIG},
	};

	(void)state;
	expect_refused(cmdline, cases, ARRAY_SIZE(cases));
}

static void test_cmdline_long_word(void **state)
{
	struct agent_config c;
	char line[3000];

	(void)state;
	memset(line, 'a', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	memcpy(line, "rd.tdx_unlock.server=https://", 29);
	agent_config_init(&c);
	assert_int_equal(agent_config_apply_cmdline(&c, line), -E2BIG);
	/* A long word that is not ours is ignored. */
	line[0] = 'x';
	assert_int_equal(agent_config_apply_cmdline(&c, line), 0);
	agent_config_done(&c);
}

static void test_load_files(void **state)
{
	char dir[] = "/tmp/test-agent-config-XXXXXX";
	char conf[256], cmdline[256];
	struct agent_config c;
	const char *json = "{\"servers\":[{\"url\":\"https://file\",\"pins\":[\"" PIN_HEX
			   "\"]}],\"total_timeout_s\":45}";

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(conf, sizeof(conf), "%s/agent.conf", dir);
	snprintf(cmdline, sizeof(cmdline), "%s/cmdline", dir);
	assert_int_equal(file_write_private(conf, json, strlen(json), 0), 0);

	/* The kernel command line comes from $TDX_UNLOCK_TEST_CMDLINE in tests. */
	assert_int_equal(setenv("TDX_UNLOCK_TEST_CMDLINE", "ro rd.tdx_unlock.attempts=9\n", 1), 0);
	agent_config_init(&c);
	assert_int_equal(agent_config_load(&c, conf), 0);
	assert_int_equal(c.total_timeout_s, 45);
	assert_int_equal(c.attempts, 9);
	agent_config_done(&c);

	/* An empty command line is no override; a missing config file is an error. */
	assert_int_equal(setenv("TDX_UNLOCK_TEST_CMDLINE", "", 1), 0);
	agent_config_init(&c);
	assert_int_equal(agent_config_load(&c, conf), 0);
	assert_int_equal(c.attempts, 5);
	agent_config_done(&c);
	agent_config_init(&c);
	assert_int_equal(agent_config_load(&c, "/nonexistent/agent.conf"), -ENOENT);
	agent_config_done(&c);
	assert_int_equal(unsetenv("TDX_UNLOCK_TEST_CMDLINE"), 0);

	/* A command line file with a NUL byte in it is refused. */
	assert_int_equal(file_write_private(cmdline, "ro\0rd.tdx_unlock=0", 18, 1), 0);
	agent_config_init(&c);
	assert_int_equal(agent_config_apply_cmdline_file(&c, cmdline), -EINVAL);
	agent_config_done(&c);

	unlink(conf);
	unlink(cmdline);
	rmdir(dir);
}

static void test_example_file(void **state)
{
	struct agent_config c;

	(void)state;
	/* The shipped example must stay loadable. */
	if (access("etc/agent.conf.example", R_OK) != 0) {
		print_message("skipped: etc/agent.conf.example not found from this directory\n");
		return;
	}
	agent_config_init(&c);
	assert_int_equal(agent_config_load_file(&c, "etc/agent.conf.example"), 0);
	assert_int_equal(agent_config_validate(&c), 0);
	assert_true(c.n_servers >= 1);
	agent_config_done(&c);
}

UNIT_TEST_MAIN(NULL, NULL, cmocka_unit_test(test_defaults), cmocka_unit_test(test_full_file),
	       cmocka_unit_test(test_bad_files), cmocka_unit_test(test_validate),
	       cmocka_unit_test(test_cmdline), cmocka_unit_test(test_cmdline_bad),
	       cmocka_unit_test(test_cmdline_long_word), cmocka_unit_test(test_load_files),
	       cmocka_unit_test(test_example_file))
