/* Unit tests for the keyslot passphrase (HKDF) and disk secret (HMAC) derivations: the vectors of
 * docs/protocol.md, input encoding rules and refusals. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit-test.h"

#include "kdf.h"
#include "log.h"
#include "protocol-vectors.h"

struct pw_vec {
	uint8_t secret[32], salt[32], want[32];
	const char *uuid;
	unsigned keyslot;
};

static void load_pw(struct json_object *vec, struct pw_vec *p)
{
	assert_int_equal(vec_hex(vec, "passphrase", "secret_hex", p->secret, 32), 0);
	assert_int_equal(vec_hex(vec, "passphrase", "salt_hex", p->salt, 32), 0);
	assert_int_equal(vec_hex(vec, "passphrase", "passphrase_hex", p->want, 32), 0);
	p->uuid = vec_str(vec, "passphrase", "uuid");
	assert_non_null(p->uuid);
	p->keyslot = (unsigned)json_object_get_int(vec_obj(vec, "passphrase", "keyslot"));
}

static void test_passphrase_vector(void **state)
{
	struct json_object *vec = vectors_load();
	uint8_t out[KDF_PASSPHRASE_LEN];
	char upper[KDF_UUID_STR_LEN + 1];
	struct pw_vec p;
	size_t i;

	(void)state;
	assert_non_null(vec);
	load_pw(vec, &p);
	assert_int_equal(kdf_luks_passphrase(p.secret, 32, p.salt, 32, p.uuid, p.keyslot, out), 0);
	assert_memory_equal(out, p.want, 32);

	/* The UUID is lowered before use: upper-case input derives the same passphrase. */
	for (i = 0; i <= KDF_UUID_STR_LEN; i++)
		upper[i] =
			(char)(p.uuid[i] >= 'a' && p.uuid[i] <= 'f' ? p.uuid[i] - 32 : p.uuid[i]);
	assert_int_equal(kdf_luks_passphrase(p.secret, 32, p.salt, 32, upper, p.keyslot, out), 0);
	assert_memory_equal(out, p.want, 32);
	json_object_put(vec);
}

static void test_passphrase_inputs_matter(void **state)
{
	struct json_object *vec = vectors_load();
	uint8_t out[KDF_PASSPHRASE_LEN];
	struct pw_vec p;

	(void)state;
	assert_non_null(vec);
	load_pw(vec, &p);
	assert_int_equal(kdf_luks_passphrase(p.secret, 32, p.salt, 32, p.uuid, p.keyslot + 1, out),
			 0);
	assert_memory_not_equal(out, p.want, 32);
	p.salt[0] ^= 1;
	assert_int_equal(kdf_luks_passphrase(p.secret, 32, p.salt, 32, p.uuid, p.keyslot, out), 0);
	assert_memory_not_equal(out, p.want, 32);
	p.salt[0] ^= 1;
	p.secret[31] ^= 1;
	assert_int_equal(kdf_luks_passphrase(p.secret, 32, p.salt, 32, p.uuid, p.keyslot, out), 0);
	assert_memory_not_equal(out, p.want, 32);
	p.secret[31] ^= 1;
	assert_int_equal(kdf_luks_passphrase(p.secret, 32, p.salt, 32,
					     "3f0e5b4c-8f1a-4b7e-9c2d-5a6b7c8d9e0e", p.keyslot,
					     out),
			 0);
	assert_memory_not_equal(out, p.want, 32);
	json_object_put(vec);
}

static void test_passphrase_refusals(void **state)
{
	static const char *const bad_uuid[] = {
		"",
		"3f0e5b4c-8f1a-4b7e-9c2d-5a6b7c8d9e0",	 /* short */
		"3f0e5b4c-8f1a-4b7e-9c2d-5a6b7c8d9e0f0", /* long */
		"3f0e5b4c8f1a-4b7e-9c2d-5a6b7c8d9e0f0",	 /* dash moved */
		"3f0e5b4c-8f1a-4b7e-9c2d-5a6b7c8d9e0g",	 /* not hex */
		"{f0e5b4c-8f1a-4b7e-9c2d-5a6b7c8d9e0f}",
	};
	uint8_t s[32] = {1}, out[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_uuid) / sizeof(bad_uuid[0]); i++)
		assert_int_equal(kdf_luks_passphrase(s, 32, s, 32, bad_uuid[i], 0, out), -EINVAL);
	assert_int_equal(kdf_luks_passphrase(s, 32, s, 32, NULL, 0, out), -EINVAL);
	assert_int_equal(
		kdf_luks_passphrase(s, 32, s, 32, "3f0e5b4c-8f1a-4b7e-9c2d-5a6b7c8d9e0f", 32, out),
		-EINVAL);
	assert_int_equal(
		kdf_luks_passphrase(s, 0, s, 32, "3f0e5b4c-8f1a-4b7e-9c2d-5a6b7c8d9e0f", 0, out),
		-EINVAL);
	assert_int_equal(
		kdf_luks_passphrase(s, 32, s, 0, "3f0e5b4c-8f1a-4b7e-9c2d-5a6b7c8d9e0f", 0, out),
		-EINVAL);
	assert_int_equal(
		kdf_luks_passphrase(s, 32, s, 32, "3f0e5b4c-8f1a-4b7e-9c2d-5a6b7c8d9e0f", 31, out),
		0);
}

static void test_disk_secret_vector(void **state)
{
	struct json_object *vec = vectors_load();
	uint8_t root[32], want[32], out[KDF_DISK_SECRET_LEN];
	const char *pid, *path;
	uint32_t version;

	(void)state;
	assert_non_null(vec);
	assert_int_equal(vec_hex(vec, "disk_secret", "root_key_hex", root, 32), 0);
	assert_int_equal(vec_hex(vec, "disk_secret", "secret_hex", want, 32), 0);
	pid = vec_str(vec, "disk_secret", "policy_id");
	path = vec_str(vec, "disk_secret", "resource_path");
	version = (uint32_t)json_object_get_int(vec_obj(vec, "disk_secret", "key_version"));
	assert_non_null(pid);
	assert_non_null(path);

	assert_int_equal(kdf_disk_secret(root, 32, pid, path, version, out), 0);
	assert_memory_equal(out, want, 32);
	assert_int_equal(kdf_disk_secret(root, 32, pid, path, version + 1, out), 0);
	assert_memory_not_equal(out, want, 32);
	/* Length prefixes: moving a character between fields changes the secret. */
	assert_int_equal(
		kdf_disk_secret(root, 32, "prod-webt", "dx-unlock/disk/root", version, out), 0);
	assert_memory_not_equal(out, want, 32);
	root[0] ^= 1;
	assert_int_equal(kdf_disk_secret(root, 32, pid, path, version, out), 0);
	assert_memory_not_equal(out, want, 32);

	assert_int_equal(kdf_disk_secret(root, 32, "", path, version, out), -EINVAL);
	assert_int_equal(kdf_disk_secret(root, 32, pid, "", version, out), -EINVAL);
	assert_int_equal(kdf_disk_secret(root, 32, NULL, path, version, out), -EINVAL);
	assert_int_equal(kdf_disk_secret(root, 0, pid, path, version, out), -EINVAL);
	json_object_put(vec);
}

UNIT_TEST_MAIN(unit_test_quiet, NULL, cmocka_unit_test(test_passphrase_vector),
	       cmocka_unit_test(test_passphrase_inputs_matter),
	       cmocka_unit_test(test_passphrase_refusals),
	       cmocka_unit_test(test_disk_secret_vector))
