/* Unit tests for reading secrets of the disk-side commands into secure memory. */
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

#include "agent/secret_input.h"
#include "secmem.h"

static char path[64];

static void write_file(const void *data, size_t len)
{
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static int setup(void **state)
{
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/test-secret-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return unlink(path);
}

static void test_secret_file_bounds(void **state)
{
	uint8_t data[64], *out = NULL;
	size_t len = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i; /* includes NUL bytes: secrets are binary */

	write_file(data, 32);
	assert_int_equal(secret_file_read(path, 32, &out, &len), 0);
	assert_int_equal(len, 32);
	assert_memory_equal(out, data, 32);
	assert_true(secmem_size(out) >= 33);
	assert_int_equal(out[32], 0); /* a spare terminator, never part of the secret */
	secmem_free(out);
	out = NULL;

	write_file(data, 33);
	assert_int_equal(secret_file_read(path, 32, &out, &len), -EFBIG);
	assert_null(out);

	write_file(data, 0);
	assert_int_equal(secret_file_read(path, 32, &out, &len), -EINVAL);
	assert_null(out);

	assert_int_equal(secret_file_read("/nonexistent/secret", 32, &out, &len), -ENOENT);
}

static void test_passphrase_from_key_file(void **state)
{
	char *pass = NULL;
	size_t len = 0;

	(void)state;
	/* Like cryptsetup --key-file: the whole file, newline included. */
	write_file("recovery\n", 9);
	assert_int_equal(secret_passphrase_get(path, &pass, &len), 0);
	assert_int_equal(len, 9);
	assert_memory_equal(pass, "recovery\n", 9);
	assert_int_equal(pass[9], '\0');
	secmem_free(pass);
}

UNIT_TEST_MAIN(setup, teardown, cmocka_unit_test(test_secret_file_bounds),
	       cmocka_unit_test(test_passphrase_from_key_file))
