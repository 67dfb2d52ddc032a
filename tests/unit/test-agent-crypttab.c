/* Unit tests for the mapping names: crypttab parsing, name validation, rd.luks.name= and
 * cryptopts= on the command line, and which source wins. */
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

#include "agent/config.h"
#include "agent/crypttab.h"
#include "agent/unlock.h"

#define UUID  "0b5e4f3a-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
#define UUID2 "11111111-2222-4333-8444-555555555555"

static int parse(struct crypttab *t, const char *text)
{
	memset(t, 0, sizeof(*t));
	return crypttab_parse(t, text, strlen(text), "test-crypttab");
}

static void test_name_valid(void **state)
{
	char name[VOLUME_NAME_MAX + 2];

	(void)state;
	assert_true(volume_name_valid("vda5_crypt"));
	assert_true(volume_name_valid("luks-" UUID));
	assert_true(volume_name_valid("data.1+x"));
	assert_false(volume_name_valid(""));
	assert_false(volume_name_valid(NULL));
	assert_false(volume_name_valid("a/b"));
	assert_false(volume_name_valid("a b"));
	assert_false(volume_name_valid(".."));
	assert_false(volume_name_valid("-x"));
	assert_false(volume_name_valid("a\\040b"));
	assert_false(volume_name_valid("a\nb"));
	assert_false(volume_name_valid("caf\xc3\xa9"));
	memset(name, 'a', VOLUME_NAME_MAX);
	name[VOLUME_NAME_MAX] = '\0';
	assert_true(volume_name_valid(name));
	name[VOLUME_NAME_MAX] = 'a';
	name[VOLUME_NAME_MAX + 1] = '\0';
	assert_false(volume_name_valid(name));
}

static void test_parse(void **state)
{
	struct crypttab t;

	(void)state;
	assert_int_equal(parse(&t, "# a comment\n"
				   "\n"
				   "   \t  # indented comment\n"
				   "vda5_crypt UUID=" UUID " none luks,discard\n"
				   "\tdata\t/dev/disk/by-uuid/" UUID2 "\n"
				   "swap /dev/vdb /dev/urandom swap,cipher=aes-xts-plain64 extra\n"
				   "last PARTUUID=abcd none luks"),
			 0);
	assert_int_equal(t.n, 4);
	assert_string_equal(t.entries[0].name, "vda5_crypt");
	assert_string_equal(t.entries[0].source, "UUID=" UUID);
	assert_string_equal(t.entries[1].name, "data");
	assert_string_equal(t.entries[1].source, "/dev/disk/by-uuid/" UUID2);
	assert_string_equal(t.entries[2].source, "/dev/vdb");
	assert_string_equal(t.entries[3].name, "last"); /* no final newline */
	assert_string_equal(crypttab_find(&t, UUID, NULL), "vda5_crypt");
	/* UUIDs compare case-insensitively, in both forms. */
	assert_string_equal(crypttab_find(&t, "0B5E4F3A-1C2D-4E5F-8A9B-0C1D2E3F4A5B", NULL),
			    "vda5_crypt");
	assert_string_equal(crypttab_find(&t, UUID2, NULL), "data");
	assert_null(crypttab_find(&t, "00000000-0000-4000-8000-000000000000", NULL));
	crypttab_done(&t);
}

static void test_parse_malformed(void **state)
{
	char text[600];
	struct crypttab t;

	(void)state;
	/* Each bad line is skipped; the good ones around it still count. */
	assert_int_equal(parse(&t, "onlyname\n"
				   "bad/name UUID=" UUID "\n"
				   "bad\\040name UUID=" UUID "\n"
				   "-dash UUID=" UUID "\n"
				   "good UUID=" UUID2 "\n"
				   "ctl UUID=\x01" UUID "\n"),
			 0);
	assert_int_equal(t.n, 1);
	assert_string_equal(t.entries[0].name, "good");
	assert_null(crypttab_find(&t, UUID, NULL));
	crypttab_done(&t);

	/* An overlong name is refused, not truncated into a valid one. */
	memset(text, 'n', 200);
	snprintf(text + 200, sizeof(text) - 200, " UUID=%s\nok UUID=%s\n", UUID, UUID2);
	assert_int_equal(parse(&t, text), 0);
	assert_int_equal(t.n, 1);
	assert_string_equal(t.entries[0].name, "ok");
	crypttab_done(&t);

	/* A NUL byte inside a line: the line is refused. */
	{
		static const char nul[] = "a\0b UUID=" UUID "\nok UUID=" UUID2 "\n";

		memset(&t, 0, sizeof(t));
		assert_int_equal(crypttab_parse(&t, nul, sizeof(nul) - 1, "nul"), 0);
		assert_int_equal(t.n, 1);
		assert_string_equal(t.entries[0].name, "ok");
		crypttab_done(&t);
	}
}

static void test_parse_too_many(void **state)
{
	char *text = malloc(CRYPTTAB_MAX_ENTRIES * 64 + 64);
	size_t off = 0;
	struct crypttab t;

	(void)state;
	assert_non_null(text);
	for (int i = 0; i <= CRYPTTAB_MAX_ENTRIES; i++)
		off += (size_t)sprintf(text + off, "v%d UUID=%d\n", i, i);
	assert_int_equal(parse(&t, text), -E2BIG);
	assert_int_equal(t.n, CRYPTTAB_MAX_ENTRIES);
	crypttab_done(&t);
	free(text);
}

static void test_load(void **state)
{
	char dir[] = "/tmp/test-crypttab.XXXXXX", path[64];
	struct crypttab t = {0};
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/crypttab", dir);
	/* Absent: -ENOENT, nothing loaded. */
	assert_int_equal(crypttab_load(&t, path), -ENOENT);
	assert_int_equal(t.n, 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "root UUID=%s none luks\n", UUID);
	fclose(f);
	assert_int_equal(crypttab_load(&t, path), 0);
	assert_int_equal(t.n, 1);
	crypttab_done(&t);
	unlink(path);
	rmdir(dir);
}

/* A device path in the source matches the same file (image files) or block device. */
static void test_source_path(void **state)
{
	char dir[] = "/tmp/test-crypttab.XXXXXX", img[64], other[64], link[64], src[80];
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(img, sizeof(img), "%s/disk.img", dir);
	snprintf(other, sizeof(other), "%s/other.img", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	f = fopen(img, "w");
	assert_non_null(f);
	fclose(f);
	f = fopen(other, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(symlink(img, link), 0);
	assert_true(crypttab_source_matches(img, UUID, img));
	assert_true(crypttab_source_matches(link, UUID, img));
	assert_false(crypttab_source_matches(other, UUID, img));
	assert_false(crypttab_source_matches("/nonexistent/dev", UUID, img));
	assert_false(crypttab_source_matches("relative/path", UUID, img));
	snprintf(src, sizeof(src), "UUID=%s", UUID2);
	assert_false(crypttab_source_matches(src, UUID, img));
	assert_false(crypttab_source_matches("PARTUUID=../../etc", UUID, img));
	if (access("/dev/null", F_OK) == 0) /* a character device is not a block device */
		assert_false(crypttab_source_matches("/dev/null", UUID, "/dev/null"));
	unlink(link);
	unlink(img);
	unlink(other);
	rmdir(dir);
}

static void test_cmdline_luks_name(void **state)
{
	struct agent_config c;

	(void)state;
	agent_config_init(&c);
	assert_int_equal(agent_config_apply_cmdline(&c, "ro rd.luks.name=" UUID "=tdxroot "
							"luks.name=luks-" UUID2 "=data "
							"rd.luks.name=nouuid rd.luks.name==x "
							"rd.luks.name=" UUID2 "=bad/name quiet"),
			 0);
	assert_int_equal(c.luks_names.n, 2);
	assert_string_equal(crypttab_find(&c.luks_names, UUID, NULL), "tdxroot");
	/* "luks-" before the UUID is accepted, as systemd's generator does. */
	assert_string_equal(crypttab_find(&c.luks_names, UUID2, NULL), "data");
	/* The last name for a UUID wins; an invalid one does not replace a good one. */
	assert_int_equal(agent_config_apply_cmdline(&c, "rd.luks.name=" UUID "=second "
							"rd.luks.name=" UUID "=\"with space\""),
			 0);
	assert_int_equal(c.luks_names.n, 2);
	assert_string_equal(crypttab_find(&c.luks_names, UUID, NULL), "second");
	agent_config_done(&c);
}

static void test_cmdline_cryptopts(void **state)
{
	struct agent_config c;

	(void)state;
	agent_config_init(&c);
	assert_int_equal(
		agent_config_apply_cmdline(
			&c,
			"root=/dev/mapper/vda_crypt cryptopts=target=vda_crypt,source=UUID=" UUID
			",luks cryptopts=source=/dev/vdb,luks cryptopts= "
			"cryptopts=target=x,luks cryptopts=target=a/b,source=/dev/vdc"),
		0);
	assert_int_equal(c.cryptopts.n, 2);
	assert_string_equal(c.cryptopts.entries[0].name, "vda_crypt");
	assert_string_equal(c.cryptopts.entries[0].source, "UUID=" UUID);
	/* target defaults to "cryptroot", as in Debian's cryptroot. */
	assert_string_equal(c.cryptopts.entries[1].name, "cryptroot");
	assert_string_equal(c.cryptopts.entries[1].source, "/dev/vdb");
	agent_config_done(&c);
}

static void test_config_crypttab_key(void **state)
{
	static const char base[] =
		"{\"servers\":[{\"url\":\"https://k\",\"pins\":[\""
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"]}]";
	char json[512];
	struct agent_config c;

	(void)state;
	agent_config_init(&c);
	assert_null(c.crypttab_path);
	snprintf(json, sizeof(json), "%s,\"crypttab\":\"/x/crypttab\"}", base);
	assert_int_equal(agent_config_parse_json(&c, json, strlen(json)), 0);
	assert_string_equal(c.crypttab_path, "/x/crypttab");
	snprintf(json, sizeof(json), "%s,\"crypttab\":\"\"}", base);
	assert_int_equal(agent_config_parse_json(&c, json, strlen(json)), 0);
	assert_string_equal(c.crypttab_path, "");
	snprintf(json, sizeof(json), "%s,\"crypttab\":\"relative\"}", base);
	assert_int_equal(agent_config_parse_json(&c, json, strlen(json)), -EINVAL);
	snprintf(json, sizeof(json), "%s,\"crypttab\":1}", base);
	assert_int_equal(agent_config_parse_json(&c, json, strlen(json)), -EINVAL);
	agent_config_done(&c);
}

static void test_precedence(void **state)
{
	char name[VOLUME_NAME_MAX + 1];
	const char *origin = NULL;
	struct agent_config c;
	struct crypttab files;

	(void)state;
	agent_config_init(&c);
	assert_int_equal(parse(&files, "fromtab UUID=" UUID "\n"), 0);
	assert_int_equal(agent_config_apply_cmdline(&c, "rd.luks.name=" UUID "=fromcmd "
							"rd.luks.name=" UUID2 "=cmd2"),
			 0);
	/* crypttab before rd.luks.name (systemd's generator does the same). */
	assert_int_equal(unlock_mapping_name(&c, &files, UUID, "/dev/x", name, &origin), 0);
	assert_string_equal(name, "fromtab");
	assert_string_equal(origin, "crypttab");
	assert_int_equal(unlock_mapping_name(&c, &files, UUID2, "/dev/x", name, &origin), 0);
	assert_string_equal(name, "cmd2");
	assert_string_equal(origin, "rd.luks.name=");
	/* cryptopts= before everything (Debian's cryptroot makes them its crypttab). */
	assert_int_equal(agent_config_apply_cmdline(&c, "cryptopts=target=opt,source=UUID=" UUID),
			 0);
	assert_int_equal(unlock_mapping_name(&c, &files, UUID, "/dev/x", name, &origin), 0);
	assert_string_equal(name, "opt");
	assert_string_equal(origin, "cryptopts=");
	/* Nothing names it: luks-<UUID>. */
	assert_int_equal(unlock_mapping_name(&c, &files, "00000000-0000-4000-8000-000000000000",
					     "/dev/x", name, &origin),
			 0);
	assert_string_equal(name, "luks-00000000-0000-4000-8000-000000000000");
	assert_string_equal(origin, "default");
	/* A header UUID that would make an invalid default name is refused. */
	assert_int_equal(unlock_mapping_name(&c, NULL, "../../x", "/dev/x", name, &origin),
			 -EINVAL);
	crypttab_done(&files);
	agent_config_done(&c);
}

/* cryptopts= replace initramfs-tools' /cryptroot/crypttab, as Debian's cryptroot does. */
static void test_crypttab_paths(void **state)
{
	char dir[] = "/tmp/test-crypttab.XXXXXX", path[64];
	struct agent_config c;
	struct crypttab t = {0};
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/crypttab", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "fromfile UUID=%s\n", UUID);
	fclose(f);
	agent_config_init(&c);
	c.crypttab_path = strdup(path);
	assert_int_equal(unlock_crypttab_load(&c, &t), 0);
	assert_int_equal(t.n, 1);
	crypttab_done(&t);
	/* "" = no crypttab at all. */
	free(c.crypttab_path);
	c.crypttab_path = strdup("");
	assert_int_equal(unlock_crypttab_load(&c, &t), 0);
	assert_int_equal(t.n, 0);
	/* The itools path is skipped when cryptopts= are given (whether or not it exists). */
	free(c.crypttab_path);
	c.crypttab_path = strdup(AGENT_CRYPTTAB_ITOOLS_PATH);
	assert_int_equal(agent_config_apply_cmdline(&c, "cryptopts=target=r,source=/dev/vda"), 0);
	assert_int_equal(unlock_crypttab_load(&c, &t), 0);
	assert_int_equal(t.n, 0);
	agent_config_done(&c);
	unlink(path);
	rmdir(dir);
}

UNIT_TEST_MAIN(NULL, NULL, cmocka_unit_test(test_name_valid), cmocka_unit_test(test_parse),
	       cmocka_unit_test(test_parse_malformed), cmocka_unit_test(test_parse_too_many),
	       cmocka_unit_test(test_load), cmocka_unit_test(test_source_path),
	       cmocka_unit_test(test_cmdline_luks_name), cmocka_unit_test(test_cmdline_cryptopts),
	       cmocka_unit_test(test_config_crypttab_key), cmocka_unit_test(test_precedence),
	       cmocka_unit_test(test_crypttab_paths))
