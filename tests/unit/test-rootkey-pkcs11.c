/* Unit tests of the root key in a PKCS#11 token: the RFC 7512 URI parser, and with SoftHSM2
 * (a token initialised here in a scratch directory) that every derivation equals the file
 * key's, and that keys able to leave the token, wrong PINs and missing keys are refused. */
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
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "kdf.h"
#include "keyd/pkcs11_uri.h"
#include "keyd/rootkey.h"

static char dir[] = "/tmp/test-rootkey-pkcs11.XXXXXX";
static const char *module;

static char *path_in(const char *name)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void test_uri_parse(void **state)
{
	static const char *const bad[] = {
		"",
		"pkcs11",
		"pkcs12:object=a?module-path=/m.so",
		"pkcs11:?module-path=/m.so",
		"pkcs11:token=t?module-path=/m.so",		       /* no object */
		"pkcs11:object=a",				       /* no module-path */
		"pkcs11:object=a?module-path=m.so",		       /* relative module */
		"pkcs11:object=a;object=b?module-path=/m.so",	       /* twice */
		"pkcs11:object=?module-path=/m.so",		       /* empty */
		"pkcs11:object=a;?module-path=/m.so",		       /* empty attribute */
		"pkcs11:object=a;slot-id=1?module-path=/m.so",	       /* unsupported */
		"pkcs11:object=a;library-version=1?module-path=/m.so", /* unsupported */
		"pkcs11:object=a?module-name=softhsm2",		       /* unsupported */
		"pkcs11:object=a;type=private?module-path=/m.so",      /* not a secret key */
		"pkcs11:object=a%zz?module-path=/m.so",		       /* bad escape */
		"pkcs11:object=a%0?module-path=/m.so",		       /* short escape */
		"pkcs11:object=a%00b?module-path=/m.so",	       /* NUL */
		"pkcs11:object=a b?module-path=/m.so",		       /* unencoded space */
		"pkcs11:object=a\nb?module-path=/m.so",		       /* control character */
		"pkcs11:object=a;module-path=/m.so",		       /* query attribute in path */
		"pkcs11:object=a?token=t&module-path=/m.so",	       /* path attribute in query */
		"pkcs11:object=a?module-path=/m.so&pin-value=1&pin-source=/p", /* both PINs */
		"pkcs11:object=a?module-path=/m.so&pin-source=pin.txt",	       /* relative */
		"pkcs11:object=a?module-path=/m.so&pin-source=file:pin.txt",   /* relative */
		"pkcs11:object=a?module-path=/m.so&&pin-value=1",	       /* empty */
		"pkcs11:object=a?module-path=/m.so&pin-value=1&pin-value=1",   /* twice */
		"pkcs11:object=a?module-path=/m.so&x-vendor=1",		       /* unsupported */
		"pkcs11:object?module-path=/m.so",			       /* no '=' */
	};
	struct pkcs11_uri u;
	char reason[256];

	(void)state;
	assert_int_equal(pkcs11_uri_parse("pkcs11:token=My%20Token;object=root;id=%01%ff;"
					  "type=secret-key;serial=42?module-path=/usr/lib/"
					  "m.so&pin-source=file:/etc/pin",
					  &u, reason, sizeof(reason)),
			 0);
	assert_string_equal(u.token, "My Token");
	assert_string_equal(u.object, "root");
	assert_string_equal(u.serial, "42");
	assert_int_equal(u.id_len, 2);
	assert_int_equal(u.id[0], 0x01);
	assert_int_equal(u.id[1], 0xff);
	assert_string_equal(u.module_path, "/usr/lib/m.so");
	assert_string_equal(u.pin_source, "file:/etc/pin");
	assert_null(u.pin_value);
	pkcs11_uri_done(&u);
	assert_int_equal(pkcs11_uri_parse("pkcs11:object=a&b?module-path=/m.so&pin-value=1;2", &u,
					  reason, sizeof(reason)),
			 0);
	assert_string_equal(u.object, "a&b");
	assert_string_equal(u.pin_value, "1;2");
	pkcs11_uri_done(&u);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		reason[0] = '\0';
		if (pkcs11_uri_parse(bad[i], &u, reason, sizeof(reason)) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
		assert_true(reason[0] != '\0');
		assert_null(u.object);
	}
	assert_int_equal(pkcs11_uri_parse("pkcs11:object=a;slot-id=1?module-path=/m.so", &u, reason,
					  sizeof(reason)),
			 -EINVAL);
	assert_non_null(strstr(reason, "'slot-id' is not supported"));
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char *cmd;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	assert_true(r > 0);
	r = system(cmd);
	free(cmd);
	return r;
}

static char *uri(const char *token, const char *object, const char *pin_file)
{
	char *u;

	assert_true(asprintf(&u, "pkcs11:token=%s;object=%s?module-path=%s&pin-source=%s", token,
			     object, module, pin_file) > 0);
	return u;
}

static void test_softhsm(void **state)
{
	static const char *const labels[] = {"nonce/v1", "token/v1", "audit/v1", "session/v1"};
	char *conf = path_in("softhsm2.conf"), *tokens = path_in("tokens"),
	     *pin = path_in("user.pin"), *badpin = path_in("bad.pin"),
	     *keyfile = path_in("root.key"), *u;
	struct rootkey *fk = NULL, *hk = NULL, *k = NULL;
	uint8_t key[32], a[32], b[32], msg[300];
	char text[256];

	(void)state;
	if (!module || access("/usr/bin/softhsm2-util", X_OK) < 0) {
		print_message("skipped: SoftHSM2 (softhsm2) is not installed\n");
		goto out;
	}
	assert_int_equal(mkdir(tokens, 0700), 0);
	snprintf(text, sizeof(text), "directories.tokendir = %s\nobjectstore.backend = file\n",
		 tokens);
	write_file(conf, text, strlen(text), 0600);
	setenv("SOFTHSM2_CONF", conf, 1);
	write_file(pin, "1234\n", 5, 0600);
	write_file(badpin, "9999", 4, 0600);
	assert_int_equal(sh("softhsm2-util --init-token --free --label tdx --so-pin 5678 "
			    "--pin 1234 >/dev/null"),
			 0);

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(0xa5 ^ (i * 7));
	write_file(keyfile, key, sizeof(key), 0600);
	u = uri("tdx", "root", pin);
	assert_int_equal(rootkey_import_pkcs11(keyfile, u), 0);
	assert_int_equal(rootkey_import_pkcs11(keyfile, u), -EEXIST); /* never replaced */
	assert_int_equal(rootkey_load(keyfile, &fk), 0);
	assert_int_equal(rootkey_load_pkcs11(u, &hk), 0);
	free(u);

	/* The same key bytes derive exactly the same secrets in the token as from the file. */
	for (uint32_t v = 1; v < 4; v++) {
		assert_int_equal(rootkey_disk_secret(fk, "web", "default/disk/root", v, a), 0);
		assert_int_equal(rootkey_disk_secret(hk, "web", "default/disk/root", v, b), 0);
		assert_memory_equal(a, b, 32);
		assert_int_equal(kdf_disk_secret(key, 32, "web", "default/disk/root", v, b), 0);
		assert_memory_equal(a, b, 32);
	}
	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
		assert_int_equal(rootkey_subkey(fk, labels[i], a), 0);
		assert_int_equal(rootkey_subkey(hk, labels[i], b), 0);
		assert_memory_equal(a, b, 32);
	}
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	assert_int_equal(rootkey_hmac(fk, msg, sizeof(msg), a), 0);
	assert_int_equal(rootkey_hmac(hk, msg, sizeof(msg), b), 0);
	assert_memory_equal(a, b, 32);
	msg[0] ^= 1;
	assert_int_equal(rootkey_hmac(hk, msg, sizeof(msg), b), 0);
	assert_memory_not_equal(a, b, 32);
	rootkey_free(hk);
	hk = NULL;

	/* Refusals, each named. */
	u = uri("tdx", "root", badpin);
	assert_int_equal(rootkey_load_pkcs11(u, &k), -EACCES);
	free(u);
	u = uri("tdx", "absent", pin);
	assert_int_equal(rootkey_load_pkcs11(u, &k), -ENOENT);
	free(u);
	u = uri("other", "root", pin);
	assert_int_equal(rootkey_load_pkcs11(u, &k), -ENOENT);
	free(u);
	assert_true(asprintf(&u, "pkcs11:token=tdx;object=root?module-path=%s", module) > 0);
	assert_int_equal(rootkey_load_pkcs11(u, &k), -EACCES); /* login required, no PIN */
	free(u);
	assert_int_equal(chmod(pin, 0604), 0);
	u = uri("tdx", "root", pin);
	assert_int_equal(rootkey_load_pkcs11(u, &k), -EPERM); /* world-readable PIN file */
	assert_int_equal(chmod(pin, 0600), 0);
	free(u);

	/* A key that can leave the token is no HSM root key. */
	assert_int_equal(sh("pkcs11-tool --module %s --token-label tdx --login --pin 1234 "
			    "--keygen --key-type GENERIC:32 --usage-sign --extractable "
			    "--label loose >/dev/null 2>&1",
			    module),
			 0);
	u = uri("tdx", "loose", pin);
	assert_int_equal(rootkey_load_pkcs11(u, &k), -EPERM);
	free(u);
	/* A key generated inside the token (docs/keyd.md) loads. */
	assert_int_equal(sh("pkcs11-tool --module %s --token-label tdx --login --pin 1234 "
			    "--keygen --key-type GENERIC:32 --usage-sign --sensitive "
			    "--label generated >/dev/null 2>&1",
			    module),
			 0);
	u = uri("tdx", "generated", pin);
	assert_int_equal(rootkey_load_pkcs11(u, &hk), 0);
	assert_int_equal(rootkey_subkey(hk, "nonce/v1", b), 0);
	assert_int_equal(rootkey_subkey(fk, "nonce/v1", a), 0);
	assert_memory_not_equal(a, b, 32);
	free(u);
	assert_null(k);
out:
	rootkey_free(hk);
	rootkey_free(fk);
	if (tokens[0])
		sh("rm -rf '%s'", tokens);
	unlink(conf);
	unlink(pin);
	unlink(badpin);
	unlink(keyfile);
	free(conf);
	free(tokens);
	free(pin);
	free(badpin);
	free(keyfile);
}

int main(void)
{
	static const char *const modules[] = {"/usr/lib/softhsm/libsofthsm2.so",
					      "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uri_parse),
		cmocka_unit_test(test_softhsm),
	};
	int r;

	for (size_t i = 0; i < sizeof(modules) / sizeof(modules[0]) && !module; i++)
		if (access(modules[i], R_OK) == 0)
			module = modules[i];
	if (!mkdtemp(dir))
		return 1;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(dir);
	return r;
}
