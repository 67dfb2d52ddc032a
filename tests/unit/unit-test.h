/* What every unit test program shares (as systemd's DEFINE_TEST_MAIN): its main(), running the
 * listed cmocka tests as one group (in a scratch directory if asked), and a group setup that keeps
 * the project's log quiet. */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

/* Group setup: the refusals a test provokes on purpose are not logged (errors and below off). */
static inline int unit_test_quiet(void **state)
{
	(void)state;
	log_setup("unit-test", LOG_TARGET_STDERR, LOG_LVL_ERR - 1);
	return 0;
}

/* main(): the tests given (cmocka_unit_test(...), ...) with the group setup and teardown. */
#define UNIT_TEST_MAIN(setup, teardown, ...)                           \
	int main(void)                                                 \
	{                                                              \
		const struct CMUnitTest tests[] = {__VA_ARGS__};       \
		return cmocka_run_group_tests(tests, setup, teardown); \
	}

/* main() of a program whose tests share one scratch directory: dir is a static char array holding
 * a mkdtemp() template, made before the tests and removed after them (they empty it). */
#define UNIT_TEST_MAIN_IN_DIR(dir, ...)                 \
	static int unit_test_dir_setup(void **state)    \
	{                                               \
		(void)state;                            \
		return mkdtemp(dir) ? 0 : -1;           \
	}                                               \
	static int unit_test_dir_teardown(void **state) \
	{                                               \
		(void)state;                            \
		(void)rmdir(dir);                       \
		return 0;                               \
	}                                               \
	UNIT_TEST_MAIN(unit_test_dir_setup, unit_test_dir_teardown, __VA_ARGS__)
