/* Unit tests for LUKS2 header intake, validation, enrollment and verification-only unlock, on
 * real LUKS2 image files (no device-mapper needed). Malicious headers are crafted with
 * tests/luks/luks2_edit.py, which rewrites the JSON and fixes both checksums. */
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
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit-test.h"
#include <libcryptsetup.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "agent/luks_activate.h"
#include "agent/luks_enroll.h"
#include "agent/luks_discover.h"
#include "agent/luks_header.h"
#include "secmem.h"

#define IMAGE_SIZE  (4u << 20)
#define DATA_OFFSET (2u << 20)
#define RECOVERY    "recovery passphrase"
#define RESOURCE    "default/disk/root"

static char dir[64];
static char base_img[128];  /* enrolled: keyslot 0 recovery, keyslot 1 + token 0 tdx-unlock */
static char plain_img[128]; /* LUKS2 with only the recovery keyslot */
static const char *editor;
static uint8_t secret[32];

static void path_in_dir(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

static int make_image_sized(const char *path, bool enroll, uint64_t keyslots_size,
			    uint64_t data_offset, uint64_t image_size)
{
	const struct crypt_pbkdf_type fast = {.type = CRYPT_KDF_PBKDF2,
					      .hash = "sha256",
					      .iterations = 1000,
					      .flags = CRYPT_PBKDF_NO_BENCHMARK};
	struct crypt_device *cd = NULL;
	struct luks_token tok;
	int fd, r, tid;

	fd = open(path, O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)image_size) < 0)
		return -errno;
	close(fd);
	if ((r = crypt_init(&cd, path)) < 0)
		return r;
	luks_log_attach(cd);
	/* Small header and keyslot area so that the images stay a few MiB. */
	if ((r = crypt_set_pbkdf_type(cd, &fast)) < 0 ||
	    (r = crypt_set_metadata_size(cd, 16384, keyslots_size)) < 0 ||
	    (r = crypt_set_data_offset(cd, data_offset / 512)) < 0 ||
	    (r = crypt_format(cd, CRYPT_LUKS2, "aes", "xts-plain64", NULL, NULL, 64, NULL)) < 0 ||
	    (r = crypt_keyslot_add_by_volume_key(cd, 0, NULL, 0, RECOVERY, strlen(RECOVERY))) < 0)
		goto out;
	r = 0;
	if (enroll)
		r = luks_enroll_add(cd, -1, RECOVERY, strlen(RECOVERY), secret, sizeof(secret),
				    RESOURCE, -1, &tok, &tid);
out:
	crypt_free(cd);
	return r;
}

static int make_image(const char *path, bool enroll)
{
	return make_image_sized(path, enroll, DATA_OFFSET - 32768, DATA_OFFSET, IMAGE_SIZE);
}

static int copy_file(const char *from, const char *to)
{
	static uint8_t buf[1 << 16];
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = open(to, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
	ssize_t n;
	int r = 0;

	if (in < 0 || out < 0)
		r = -errno;
	while (r == 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			r = -EIO;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return r;
}

static int run_editor(const char *image, const char *mutation)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execlp("python3", "python3", editor, "mutate", image, mutation, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test-luks-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	for (size_t i = 0; i < sizeof(secret); i++)
		secret[i] = (uint8_t)(i * 7 + 1);
	path_in_dir(base_img, sizeof(base_img), "base.img");
	path_in_dir(plain_img, sizeof(plain_img), "plain.img");
	if (make_image(base_img, true) < 0 || make_image(plain_img, false) < 0)
		return -1;
	editor = getenv("TDX_LUKS2_EDIT") ? getenv("TDX_LUKS2_EDIT") : "tests/luks/luks2_edit.py";
	if (access(editor, R_OK) < 0)
		editor = NULL;
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_load_good(void **state)
{
	struct luks_header *h = NULL;
	struct crypt_device *cd = NULL;
	char reason[LUKS_REASON_MAX] = "";
	int seals;

	(void)state;
	assert_int_equal(luks_header_load(base_img, &h, reason, sizeof(reason)), 0);
	assert_string_equal(reason, "");
	assert_int_equal(h->token_id, 0);
	assert_int_equal(h->token.keyslot, 1);
	assert_string_equal(h->token.resource, RESOURCE);
	assert_string_equal(h->device, base_img);

	assert_int_equal(crypt_init(&cd, base_img), 0);
	assert_int_equal(crypt_load(cd, CRYPT_LUKS2, NULL), 0);
	assert_string_equal(h->uuid, crypt_get_uuid(cd));
	crypt_free(cd);

	/* The copy activation uses is sealed: nobody can rewrite it after validation. */
	seals = fcntl(h->copy_fd, F_GET_SEALS);
	assert_true(seals >= 0);
	assert_true(seals & F_SEAL_WRITE);
	assert_true(seals & F_SEAL_SHRINK);
	assert_int_equal(write(h->copy_fd, "x", 1), -1);
	assert_int_equal(errno, EPERM);
	luks_header_free(h);
}

/* HKDF-SHA256 through OpenSSL's EVP_PKEY interface: an independent path to the passphrase. */
static void reference_passphrase(const struct luks_header *h, uint8_t out[32])
{
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
	char info[64];
	size_t len = 32;
	int n = snprintf(info, sizeof(info), "tdx-unlock/v1%s%d", h->uuid, h->token.keyslot);

	assert_non_null(pctx);
	assert_int_equal(EVP_PKEY_derive_init(pctx), 1);
	assert_int_equal(EVP_PKEY_CTX_set_hkdf_md(pctx, EVP_sha256()), 1);
	assert_int_equal(EVP_PKEY_CTX_set1_hkdf_salt(pctx, h->token.salt, sizeof(h->token.salt)),
			 1);
	assert_int_equal(EVP_PKEY_CTX_set1_hkdf_key(pctx, secret, sizeof(secret)), 1);
	assert_int_equal(EVP_PKEY_CTX_add1_hkdf_info(pctx, (unsigned char *)info, n), 1);
	assert_int_equal(EVP_PKEY_derive(pctx, out, &len), 1);
	assert_int_equal(len, 32);
	EVP_PKEY_CTX_free(pctx);
}

static void test_unlock_verify_only(void **state)
{
	struct luks_header *h = NULL;
	struct crypt_device *cd = NULL;
	uint8_t wrong[32], ref[32], *pass = NULL;
	size_t pass_len = 0;

	(void)state;
	assert_int_equal(luks_header_load(base_img, &h, NULL, 0), 0);
	assert_int_equal(luks_unlock(h, secret, sizeof(secret), NULL, 0), 0);
	memcpy(wrong, secret, sizeof(wrong));
	wrong[0] ^= 1;
	assert_int_equal(luks_unlock(h, wrong, sizeof(wrong), NULL, 0), -EPERM);
	assert_int_equal(luks_unlock(h, secret, sizeof(secret), "bad/name", 0), -EINVAL);

	/* Derivation matches HKDF computed independently, and that passphrase opens exactly our
	 * keyslot of the original image (what `cryptsetup open --test-passphrase` does). */
	reference_passphrase(h, ref);
	assert_int_equal(luks_passphrase_derive(secret, sizeof(secret), &h->token, h->uuid, &pass,
						&pass_len),
			 0);
	assert_int_equal(pass_len, 32);
	assert_memory_equal(pass, ref, 32);
	secmem_free(pass);
	assert_int_equal(crypt_init(&cd, base_img), 0);
	assert_int_equal(crypt_load(cd, CRYPT_LUKS2, NULL), 0);
	assert_int_equal(crypt_activate_by_passphrase(cd, NULL, 1, (char *)ref, 32, 0), 1);
	assert_int_equal(crypt_activate_by_passphrase(cd, NULL, 0, (char *)ref, 32, 0), -EPERM);
	crypt_free(cd);

	{
		char name[LUKS_NAME_MAX + 1];
		assert_int_equal(luks_default_name(h, name, sizeof(name)), 0);
		assert_int_equal(strncmp(name, "luks-", 5), 0);
		assert_string_equal(name + 5, h->uuid);
	}
	luks_header_free(h);
}

static void test_no_token(void **state)
{
	struct luks_header *h = NULL;
	char reason[LUKS_REASON_MAX] = "";
	char missing[160];

	(void)state;
	assert_int_equal(luks_header_load(plain_img, &h, reason, sizeof(reason)), -ENOENT);
	assert_null(h);
	assert_non_null(strstr(reason, "no tdx-unlock token"));

	path_in_dir(missing, sizeof(missing), "does-not-exist");
	assert_int_equal(luks_header_load(missing, &h, reason, sizeof(reason)), -ENODEV);
}

static void test_not_luks(void **state)
{
	struct luks_header *h = NULL;
	char reason[LUKS_REASON_MAX] = "", path[160];
	int fd;

	(void)state;
	path_in_dir(path, sizeof(path), "zero.img");
	fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	assert_int_equal(luks_header_load(path, &h, reason, sizeof(reason)), -EBADMSG);
	assert_non_null(strstr(reason, "not a valid LUKS2 header"));
	assert_int_equal(luks_device_has_token(path), 0);
}

/* The allow-list is a pure function of the exported JSON: the same header's metadata passes, and
 * the same metadata with a null cipher is refused, without any device. */
static void test_allowlist_pure(void **state)
{
	struct crypt_device *cd = NULL;
	struct luks_token tok;
	char reason[LUKS_REASON_MAX], *json, *p;
	const char *dump;
	int tid = 99, vk;

	(void)state;
	assert_int_equal(crypt_init(&cd, base_img), 0);
	assert_int_equal(crypt_load(cd, CRYPT_LUKS2, NULL), 0);
	assert_int_equal(crypt_dump_json(cd, &dump, 0), 0);
	json = strdup(dump);
	assert_non_null(json);
	vk = crypt_get_volume_key_size(cd);
	crypt_free(cd);

	assert_int_equal(luks_allowlist_check(json, vk, LUKS_TOKEN_REQUIRED, &tid, &tok, reason,
					      sizeof(reason)),
			 0);
	assert_int_equal(tid, 0);
	assert_int_equal(tok.keyslot, 1);
	assert_int_equal(luks_allowlist_check(json, vk == 64 ? 32 : 64, LUKS_TOKEN_REQUIRED, &tid,
					      &tok, reason, sizeof(reason)),
			 -EBADMSG);
	p = strstr(json, "\"aes-xts-plain64\"");
	assert_non_null(p);
	memcpy(p + 1, "cipher_null-ecb", 15); /* same length as aes-xts-plain64 */
	assert_int_equal(luks_allowlist_check(json, vk, LUKS_TOKEN_REQUIRED, &tid, &tok, reason,
					      sizeof(reason)),
			 -EBADMSG);
	assert_non_null(strstr(reason, "CVE-2025-59054"));
	assert_int_equal(
		luks_allowlist_check("[]", vk, LUKS_TOKEN_ANY, &tid, &tok, reason, sizeof(reason)),
		-EBADMSG);
	free(json);
}

static void test_validate_needs(void **state)
{
	struct crypt_device *cd = NULL;
	struct luks_token tok;
	char uuid[LUKS_UUID_LEN + 1], reason[LUKS_REASON_MAX];
	int tid = 99;

	(void)state;
	assert_int_equal(crypt_init(&cd, base_img), 0);
	assert_int_equal(crypt_load(cd, CRYPT_LUKS2, NULL), 0);
	assert_int_equal(luks_header_validate(cd, LUKS_TOKEN_ABSENT, uuid, &tid, &tok, reason,
					      sizeof(reason)),
			 -EEXIST);
	assert_int_equal(tid, 0);
	assert_non_null(strstr(reason, "already enrolled"));
	assert_int_equal(
		luks_header_validate(cd, LUKS_TOKEN_ANY, uuid, &tid, &tok, reason, sizeof(reason)),
		0);
	assert_int_equal(tid, 0);
	assert_int_equal(tok.keyslot, 1);
	crypt_free(cd);

	assert_int_equal(crypt_init(&cd, plain_img), 0);
	assert_int_equal(crypt_load(cd, CRYPT_LUKS2, NULL), 0);
	assert_int_equal(
		luks_header_validate(cd, LUKS_TOKEN_ANY, uuid, &tid, &tok, reason, sizeof(reason)),
		0);
	assert_int_equal(tid, -1);
	assert_int_equal(luks_header_validate(cd, LUKS_TOKEN_REQUIRED, uuid, &tid, &tok, reason,
					      sizeof(reason)),
			 -ENOENT);
	/* The last keyslot is never removed. */
	assert_int_equal(luks_keyslot_remove(cd, 0), -EBUSY);
	assert_int_equal(crypt_keyslot_status(cd, 0), CRYPT_SLOT_ACTIVE_LAST);
	crypt_free(cd);
}

static void test_enroll_failures_leave_no_trace(void **state)
{
	struct crypt_device *cd = NULL;
	struct luks_token tok;
	char path[160];
	int tid = -1;

	(void)state;
	path_in_dir(path, sizeof(path), "enroll.img");
	assert_int_equal(copy_file(plain_img, path), 0);
	assert_int_equal(crypt_init(&cd, path), 0);
	assert_int_equal(crypt_load(cd, CRYPT_LUKS2, NULL), 0);
	assert_int_equal(luks_enroll_add(cd, -1, "wrong", 5, secret, sizeof(secret), RESOURCE, -1,
					 &tok, &tid),
			 -EPERM);
	assert_int_equal(luks_enroll_add(cd, 0, RECOVERY, strlen(RECOVERY), secret, sizeof(secret),
					 RESOURCE, -1, &tok, &tid),
			 -EEXIST);
	assert_int_equal(luks_enroll_add(cd, -1, RECOVERY, strlen(RECOVERY), secret, sizeof(secret),
					 "not-a-path", -1, &tok, &tid),
			 -EINVAL);
	assert_int_equal(crypt_keyslot_status(cd, 1), CRYPT_SLOT_INACTIVE);
	assert_int_equal(crypt_token_status(cd, 0, NULL), CRYPT_TOKEN_INACTIVE);

	/* Explicit keyslot, then rotate in place: the token id stays, one token only. */
	assert_int_equal(luks_enroll_add(cd, 5, RECOVERY, strlen(RECOVERY), secret, sizeof(secret),
					 RESOURCE, -1, &tok, &tid),
			 0);
	assert_int_equal(tok.keyslot, 5);
	assert_int_equal(luks_enroll_add(cd, -1, RECOVERY, strlen(RECOVERY), secret, sizeof(secret),
					 "other/disk/data", tid, &tok, &tid),
			 0);
	assert_int_equal(tid, 0);
	assert_int_equal(tok.keyslot, 1);
	assert_int_equal(crypt_token_status(cd, 1, NULL), CRYPT_TOKEN_INACTIVE);
	assert_int_equal(luks_keyslot_remove(cd, 5), 0);
	assert_int_equal(crypt_keyslot_status(cd, 5), CRYPT_SLOT_INACTIVE);
	crypt_free(cd);
	{
		struct luks_header *h = NULL;
		assert_int_equal(luks_header_load(path, &h, NULL, 0), 0);
		assert_string_equal(h->token.resource, "other/disk/data");
		assert_int_equal(luks_unlock(h, secret, sizeof(secret), NULL, 0), 0);
		assert_int_equal(crypt_init(&cd, path), 0);
		assert_int_equal(crypt_load(cd, CRYPT_LUKS2, NULL), 0);
		bool kept = true;
		assert_int_equal(luks_enroll_remove(cd, h->token_id, &h->token, &kept), 0);
		assert_false(kept); /* its own keyslot: destroyed */
		assert_int_equal(crypt_keyslot_status(cd, 1), CRYPT_SLOT_INACTIVE);
		assert_int_equal(crypt_keyslot_status(cd, 0), CRYPT_SLOT_ACTIVE_LAST);
		crypt_free(cd);
		luks_header_free(h);
		assert_int_equal(luks_header_load(path, &h, NULL, 0), -ENOENT);
	}
}

struct crafted {
	const char *mutation;
	const char *reason;
};

/* Each crafted header must be refused, naming its cause. */
static const struct crafted crafted[] = {
	{"cipher-null-segment", "segment 0: cipher 'cipher_null-ecb' refused"},
	{"cipher-null-keyslot", "keyslot 1: area cipher 'cipher_null-ecb' refused"},
	{"cipher-null-recovery-keyslot", "keyslot 0: area cipher 'cipher_null-ecb' refused"},
	{"keyslot-into-data", "keyslots_size is too large"},
	{"reencrypt-requirement", "not a valid LUKS2 header"},
	{"unknown-requirement", "requirement 'future-feature' refused"},
	{"extra-token", "a second tdx-unlock token"},
	{"token-server", "unknown member 'server'"},
	{"token-pin", "unknown member 'pin'"},
	{"token-no-salt", "'salt' is missing"},
	{"token-salt-number", "'salt' is not a string"},
	{"token-bad-keyslot", "not a valid LUKS2 header"},
	{"keyslot-argon2", "kdf 'argon2id' refused"},
	{"keyslot-huge-iterations", "pbkdf2 iterations out of range"},
	{"segment-integrity", "integrity protection is not supported"},
	{"segment-ecb", "cipher 'aes-ecb' refused"},
	{"unknown-flag", "flag 'no-such-flag' is not allowed"},
	{"digest-hash-mismatch", "digest: 'digest' is not the base64 of the 64 bytes of sha512"},
	{"digest-short", "digest: 'digest' is not the base64 of the 32 bytes of sha256"},
	{"digest-salt-short", "digest: 'salt' is not the base64 of 32 bytes"},
	{"keyslot-area-short", "keyslot 1: area of 4096 bytes cannot hold"},
	{"token-id-out-of-range", "token 1024: id out of range (0..31)"},
	{"second-segment", "segments: exactly one segment \"0\" is required (found 2)"},
	{"second-digest", "digests: exactly one digest is required (found 2)"},
	{"keyslot-own-digest", "digests: exactly one digest is required (found 2)"},
	{"area-key-size-huge", "keyslot 1: area key of 9223372036854775807 bytes refused"},
};

static void test_crafted_headers(void **state)
{
	char path[160];

	(void)state;
	if (!editor) {
		print_message("skipped: tests/luks/luks2_edit.py not found\n");
		return;
	}
	path_in_dir(path, sizeof(path), "crafted.img");
	for (size_t i = 0; i < sizeof(crafted) / sizeof(crafted[0]); i++) {
		struct luks_header *h = NULL;
		char reason[LUKS_REASON_MAX] = "";
		int r;

		assert_int_equal(copy_file(base_img, path), 0);
		if (run_editor(path, crafted[i].mutation) < 0)
			fail_msg("luks2_edit.py could not apply %s", crafted[i].mutation);
		r = luks_header_load(path, &h, reason, sizeof(reason));
		if (r != -EBADMSG || !strstr(reason, crafted[i].reason))
			fail_msg("%s: r=%d reason='%s', want '%s'", crafted[i].mutation, r, reason,
				 crafted[i].reason);
		assert_null(h);
		/* The initramfs guard (check-header) refuses it for the same reason. */
		reason[0] = '\0';
		r = luks_header_load_any(path, &h, reason, sizeof(reason));
		if (r != -EBADMSG || !strstr(reason, crafted[i].reason))
			fail_msg("%s (token optional): r=%d reason='%s', want '%s'",
				 crafted[i].mutation, r, reason, crafted[i].reason);
		assert_null(h);
	}
}

/* check-header's intake: a token is optional, the rest of the allow-list is not. */
static void test_load_any(void **state)
{
	struct luks_header *h = NULL;
	char reason[LUKS_REASON_MAX] = "", path[160];

	(void)state;
	assert_int_equal(luks_header_load_any(plain_img, &h, reason, sizeof(reason)), 0);
	assert_int_equal(h->token_id, -1);
	luks_header_free(h);
	h = NULL;
	assert_int_equal(luks_header_load_any(base_img, &h, reason, sizeof(reason)), 0);
	assert_int_equal(h->token_id, 0);
	assert_int_equal(h->token.keyslot, 1);
	luks_header_free(h);
	h = NULL;
	path_in_dir(path, sizeof(path), "does-not-exist");
	assert_int_equal(luks_header_load_any(path, &h, reason, sizeof(reason)), -ENODEV);
	if (!editor) {
		print_message("skipped: tests/luks/luks2_edit.py not found\n");
		return;
	}
	/* No token at all, cipher_null segment + malformed digest: what libcryptsetup 2.6.1 opens
	 * with any passphrase. */
	path_in_dir(path, sizeof(path), "hostile-no-token.img");
	assert_int_equal(copy_file(plain_img, path), 0);
	assert_int_equal(run_editor(path, "cipher-null-segment"), 0);
	assert_int_equal(run_editor(path, "digest-hash-mismatch"), 0);
	assert_int_equal(luks_header_load_any(path, &h, reason, sizeof(reason)), -EBADMSG);
	assert_null(h);
	assert_non_null(strstr(reason, "cipher 'cipher_null-ecb' refused"));
}

/* A hostile host may give every disk a 128 MiB keyslot area (and attach up to
 * LUKS_DISCOVER_MAX disks): the copy kept per device must not grow with it. Only the binary
 * headers, JSON areas and the token's keyslot area take memory; the rest is a hole. */
static void test_copy_memory_bounded(void **state)
{
	struct luks_header *h = NULL;
	struct stat st;
	char path[160];
	const uint64_t ks_size = 128u << 20, offset = (128u << 20) + (1u << 20);

	(void)state;
	path_in_dir(path, sizeof(path), "big-keyslots.img");
	assert_int_equal(make_image_sized(path, true, ks_size, offset, offset + (1u << 20)), 0);
	assert_int_equal(luks_header_load(path, &h, NULL, 0), 0);
	assert_int_equal(fstat(h->copy_fd, &st), 0);
	assert_true((uint64_t)st.st_size >= ks_size); /* offsets as on the disk */
	print_message("header copy: %lld bytes long, %lld bytes allocated\n", (long long)st.st_size,
		      (long long)st.st_blocks * 512);
	assert_true((uint64_t)st.st_blocks * 512 <= (2u << 20));
	/* The token's keyslot still opens from the copy; a wrong secret still does not. */
	assert_int_equal(luks_unlock(h, secret, sizeof(secret), NULL, 0), 0);
	luks_header_free(h);
	unlink(path);
}

/* libcryptsetup 2.6.1 skips the digest comparison, and reports success, when the digest's salt
 * or length is off: a wrong secret then "opens" the keyslot and the volume would be activated
 * with a garbage key as if unlocked. Only header validation stands in the way. */
static void test_digest_bypass_refused(void **state)
{
	static const char *const mutations[] = {"digest-hash-mismatch", "digest-short",
						"digest-salt-short"};
	uint8_t wrong[32];
	char path[160];

	(void)state;
	if (!editor) {
		print_message("skipped: tests/luks/luks2_edit.py not found\n");
		return;
	}
	memset(wrong, 0xa5, sizeof(wrong));
	path_in_dir(path, sizeof(path), "digest.img");
	for (size_t i = 0; i < sizeof(mutations) / sizeof(mutations[0]); i++) {
		struct luks_header *h = NULL;
		struct crypt_device *cd = NULL;
		char reason[LUKS_REASON_MAX] = "";
		int r;

		assert_int_equal(copy_file(base_img, path), 0);
		assert_int_equal(run_editor(path, mutations[i]), 0);
		assert_int_equal(crypt_init(&cd, path), 0);
		luks_log_attach(cd);
		assert_int_equal(crypt_load(cd, CRYPT_LUKS2, NULL), 0);
		r = crypt_activate_by_passphrase(cd, NULL, 1, (const char *)wrong, sizeof(wrong),
						 0);
		print_message("%s: libcryptsetup %s a wrong passphrase\n", mutations[i],
			      r >= 0 ? "ACCEPTS" : "refuses");
		crypt_free(cd);

		r = luks_header_load(path, &h, reason, sizeof(reason));
		if (r != -EBADMSG || !strstr(reason, "digest: "))
			fail_msg("%s: r=%d reason='%s'", mutations[i], r, reason);
		assert_null(h);
	}
}

/* What is validated is what is used: changing the disk after the copy changes nothing. */
static void test_copy_survives_disk_change(void **state)
{
	struct luks_header *h = NULL, *h2 = NULL;
	struct luks_token tok;
	char path[160], uuid[LUKS_UUID_LEN + 1];
	int tid;

	(void)state;
	if (!editor) {
		print_message("skipped: tests/luks/luks2_edit.py not found\n");
		return;
	}
	path_in_dir(path, sizeof(path), "toctou.img");
	assert_int_equal(copy_file(base_img, path), 0);
	assert_int_equal(luks_header_load(path, &h, NULL, 0), 0);
	assert_int_equal(run_editor(path, "cipher-null-segment"), 0);
	assert_int_equal(luks_header_load(path, &h2, NULL, 0), -EBADMSG);
	assert_int_equal(
		luks_header_validate(h->cd, LUKS_TOKEN_REQUIRED, uuid, &tid, &tok, NULL, 0), 0);
	assert_string_equal(crypt_get_cipher(h->cd), "aes");
	assert_int_equal(luks_unlock(h, secret, sizeof(secret), NULL, 0), 0);

	/* The keyslot area is read from the copy too: wiping it on the disk changes nothing. */
	{
		struct crypt_device *cd = NULL;
		uint64_t off = 0, len = 0;
		static const uint8_t zeros[4096];
		int fd;

		assert_int_equal(crypt_init(&cd, path), 0);
		assert_int_equal(crypt_load(cd, CRYPT_LUKS2, NULL), 0);
		assert_int_equal(crypt_keyslot_area(cd, h->token.keyslot, &off, &len), 0);
		crypt_free(cd);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		assert_true(fd >= 0);
		for (uint64_t o = 0; o < len; o += sizeof(zeros))
			assert_int_equal(pwrite(fd, zeros, sizeof(zeros), (off_t)(off + o)),
					 (ssize_t)sizeof(zeros));
		close(fd);
		assert_int_equal(luks_unlock(h, secret, sizeof(secret), NULL, 0), 0);
		{
			/* Control: the disk itself no longer opens with that passphrase. */
			uint8_t *pass = NULL;
			size_t pass_len = 0;

			assert_int_equal(luks_passphrase_derive(secret, sizeof(secret), &h->token,
								h->uuid, &pass, &pass_len),
					 0);
			assert_int_equal(crypt_init(&cd, path), 0);
			assert_int_equal(crypt_load(cd, CRYPT_LUKS2, NULL), 0);
			assert_int_equal(crypt_activate_by_passphrase(cd, NULL, h->token.keyslot,
								      (const char *)pass, pass_len,
								      0),
					 -EPERM);
			crypt_free(cd);
			secmem_free(pass);
		}
	}
	luks_header_free(h);
}

static void test_discover(void **state)
{
	char sys[160], dev[160], p[200], **list = NULL;
	size_t n = 99;
	int fd;

	(void)state;
	path_in_dir(sys, sizeof(sys), "sys");
	path_in_dir(dev, sizeof(dev), "dev");
	assert_int_equal(mkdir(sys, 0700), 0);
	assert_int_equal(mkdir(dev, 0700), 0);
	static const char *const names[] = {"vda", "vdb", "vdc", "dm-0", "vde"};
	for (size_t i = 0; i < 5; i++) {
		snprintf(p, sizeof(p), "%s/%s", sys, names[i]);
		fd = open(p, O_CREAT | O_WRONLY, 0600);
		assert_true(fd >= 0);
		close(fd);
	}
	snprintf(p, sizeof(p), "%s/vda", dev);
	assert_int_equal(copy_file(plain_img, p), 0); /* LUKS2 without our token */
	snprintf(p, sizeof(p), "%s/vdb", dev);
	assert_int_equal(copy_file(base_img, p), 0);
	snprintf(p, sizeof(p), "%s/vdc", dev);
	fd = open(p, O_CREAT | O_WRONLY, 0600); /* empty: not LUKS */
	close(fd);
	snprintf(p, sizeof(p), "%s/dm-0", dev);
	assert_int_equal(copy_file(base_img, p), 0); /* dm devices are skipped */
	/* vde: no /dev node at all */

	assert_int_equal(luks_discover(sys, dev, &list, &n), 0);
	assert_int_equal(n, 1);
	snprintf(p, sizeof(p), "%s/vdb", dev);
	assert_string_equal(list[0], p);
	assert_null(list[1]);
	luks_device_list_free(list);

	assert_int_equal(luks_device_has_token(base_img), 1);
	assert_int_equal(luks_device_has_token(plain_img), 0);
	assert_true(luks_discover("/nonexistent-sys", dev, &list, &n) < 0);
}

/* Writes text into dir/sysfs/rel, making the directories on the way (fake sysfs). */
static void sys_write(const char *rel, const char *text)
{
	char p[256], *slash;
	FILE *f;

	snprintf(p, sizeof(p), "%s/sysfs/%s", dir, rel);
	for (slash = strchr(p + strlen(dir) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		assert_true(mkdir(p, 0700) == 0 || errno == EEXIST);
		*slash = '/';
	}
	f = fopen(p, "w");
	assert_non_null(f);
	fprintf(f, "%s\n", text);
	fclose(f);
}

/* The guard and the agent count a mapping as unlocked only when sysfs shows it as this header's
 * crypt mapping with exactly one slave, the pinned block device (st_rdev). */
static void test_mapping_owned(void **state)
{
	struct luks_header h = {.device = (char *)"/dev/vda", .data_is_blk = true};
	char sys[160];

	(void)state;
	snprintf(h.uuid, sizeof(h.uuid), "0f1e2d3c-4b5a-4697-8877-665544332211");
	h.data_rdev = makedev(254, 0);
	path_in_dir(sys, sizeof(sys), "sysfs");
	setenv("TDX_UNLOCK_TEST_SYS_BLOCK", sys, 1);
	sys_write("vda/dev", "254:0");
	assert_int_equal(luks_mapping_owned(&h, "root"), 0); /* no mapping of that name */
	sys_write("dm-0/dm/name", "root");
	sys_write("dm-0/dm/uuid", "CRYPT-LUKS2-0f1e2d3c4b5a46978877665544332211-root");
	sys_write("dm-0/slaves/vda/dev", "254:0"); /* sysfs: slaves/vda links to vda's directory */
	assert_int_equal(luks_mapping_owned(&h, "root"), 1);
	assert_int_equal(luks_mapping_is_crypt("root"), 1);
	h.data_rdev = makedev(254, 16); /* the mapping sits on another disk */
	assert_int_equal(luks_mapping_owned(&h, "root"), -EEXIST);
	h.data_rdev = makedev(254, 0);
	sys_write("dm-0/slaves/vdb/dev", "254:16"); /* two slaves: not a plain crypt mapping */
	assert_int_equal(luks_mapping_owned(&h, "root"), -EEXIST);
	sys_write("dm-1/dm/name", "data");
	sys_write("dm-1/dm/uuid", "CRYPT-LUKS2-ffffffffffff4fffbfffffffffffffff-data");
	sys_write("dm-1/slaves/vda/dev", "254:0"); /* another header's crypt mapping */
	assert_int_equal(luks_mapping_owned(&h, "data"), -EEXIST);
	assert_int_equal(luks_mapping_is_crypt("data"), 1);
	unsetenv("TDX_UNLOCK_TEST_SYS_BLOCK");
}

UNIT_TEST_MAIN(setup, teardown, cmocka_unit_test(test_load_good),
	       cmocka_unit_test(test_unlock_verify_only), cmocka_unit_test(test_no_token),
	       cmocka_unit_test(test_not_luks), cmocka_unit_test(test_validate_needs),
	       cmocka_unit_test(test_allowlist_pure),
	       cmocka_unit_test(test_enroll_failures_leave_no_trace),
	       cmocka_unit_test(test_crafted_headers), cmocka_unit_test(test_load_any),
	       cmocka_unit_test(test_digest_bypass_refused),
	       cmocka_unit_test(test_copy_memory_bounded),
	       cmocka_unit_test(test_copy_survives_disk_change), cmocka_unit_test(test_discover),
	       cmocka_unit_test(test_mapping_owned))
