/* Unit tests for the base modules: bounded reader, hex, secure memory, file I/O. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cbs.h"
#include "fileio.h"
#include "hexutil.h"
#include "secmem.h"

static void test_cbs_bounds(void **state)
{
	static const uint8_t buf[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07};
	struct cbs c, sub;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	const uint8_t *p;

	(void)state;
	cbs_init(&c, buf, sizeof(buf));
	assert_true(cbs_get_u16le(&c, &u16));
	assert_int_equal(u16, 0x0201);
	assert_true(cbs_get_u32le(&c, &u32));
	assert_int_equal(u32, 0x06050403);
	assert_int_equal(cbs_len(&c), 1);
	/* A failed read leaves the reader unchanged. */
	assert_false(cbs_get_u16le(&c, &u16));
	assert_false(cbs_get_u64le(&c, &u64));
	assert_false(cbs_get_bytes(&c, &p, 2));
	assert_false(cbs_get_sub(&c, &sub, SIZE_MAX));
	assert_int_equal(cbs_len(&c), 1);
	assert_true(cbs_get_bytes(&c, &p, 1));
	assert_int_equal(*p, 0x07);
	assert_int_equal(cbs_len(&c), 0);
	assert_false(cbs_skip(&c, 1));
}

static void test_hex(void **state)
{
	static const uint8_t bytes[] = {0x00, 0xab, 0xCD, 0xff};
	uint8_t out[4], *dec = NULL;
	size_t dec_len = 0;
	char s[9];

	(void)state;
	hex_encode(bytes, sizeof(bytes), s);
	assert_string_equal(s, "00abcdff");
	assert_int_equal(hex_decode_exact("00ABcdff", 8, out, 4), 0);
	assert_memory_equal(out, bytes, 4);
	assert_int_equal(hex_decode_exact("00abcdf", 7, out, 4), -EINVAL);
	assert_int_equal(hex_decode_exact("00abcdfg", 8, out, 4), -EINVAL);
	assert_int_equal(hex_decode_alloc("00 ab\ncd ff\n", 12, &dec, &dec_len), 0);
	assert_int_equal(dec_len, 4);
	assert_memory_equal(dec, bytes, 4);
	free(dec);
	assert_int_equal(hex_decode_alloc("abc", 3, &dec, &dec_len), -EINVAL);
	assert_int_equal(hex_decode_alloc("zz", 2, &dec, &dec_len), -EINVAL);
}

static void test_secmem(void **state)
{
	uint8_t *p;

	(void)state;
	p = secmem_alloc(100);
	assert_non_null(p);
	assert_int_equal(secmem_size(p), 100);
	for (size_t i = 0; i < 100; i++)
		assert_int_equal(p[i], 0);
	memset(p, 0x5a, 100);
	secmem_free(p);
	secmem_free(NULL);
	assert_null(secmem_alloc(0));

	p = secmem_dup("abc", 3);
	assert_non_null(p);
	assert_memory_equal(p, "abc", 3);
	secmem_free(p);
}

static void test_secmem_cleanup(void **state)
{
	(void)state;
	{
		_cleanup_secmem_ uint8_t *k = secmem_alloc(32);
		assert_non_null(k);
	}
}

static void test_harden(void **state)
{
	struct rlimit rl;

	(void)state;
	assert_int_equal(secmem_harden_process(), 0);
	assert_int_equal(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
	assert_int_equal(getrlimit(RLIMIT_CORE, &rl), 0);
	assert_int_equal(rl.rlim_cur, 0);
}

static void test_fileio(void **state)
{
	char path[] = "/tmp/tdx-unlock-test-XXXXXX";
	uint8_t *data = NULL;
	size_t len = 0;
	struct stat st;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	assert_int_equal(file_write_private(path, "hello", 5, 0), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* Without overwrite an existing file is never replaced. */
	assert_int_equal(file_write_private(path, "x", 1, 0), -EEXIST);
	assert_int_equal(file_read_all(path, 16, &data, &len), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(data, "hello", 5);
	assert_int_equal(data[5], 0);
	free(data);
	assert_int_equal(file_read_all(path, 4, &data, &len), -EFBIG);
	unlink(path);
	assert_int_equal(file_read_all(path, 16, &data, &len), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cbs_bounds), cmocka_unit_test(test_hex),
		cmocka_unit_test(test_secmem),	   cmocka_unit_test(test_secmem_cleanup),
		cmocka_unit_test(test_fileio),	   cmocka_unit_test(test_harden),
	};

	return cmocka_run_group_tests_name("base", tests, NULL, NULL);
}
