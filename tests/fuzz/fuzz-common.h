/* What the libFuzzer harnesses share: entry-point prototypes, quiet logging, and one scratch file
 * for parsers that read from a path. Each harness is one translation unit, so all is static. */
#pragma once

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Refusals are the expected outcome on fuzzed input: log nothing, not even errors. */
static inline void fuzz_log_quiet(const char *ident)
{
	log_setup(ident, LOG_TARGET_STDERR, LOG_LVL_ERR - 1);
}

/* LLVMFuzzerInitialize of a harness that needs no set-up beyond quiet logging. */
#define FUZZ_INIT_QUIET(ident)                            \
	int LLVMFuzzerInitialize(int *argc, char ***argv) \
	{                                                 \
		(void)argc;                               \
		(void)argv;                               \
		fuzz_log_quiet(ident);                    \
		return 0;                                 \
	}

/* Configuration: the scratch directory and its one file, created once before fuzzing starts. */
static struct {
	char dir[64], file[96];
} fuzz_scratch __attribute__((unused));

static inline void fuzz_scratch_remove(void)
{
	unlink(fuzz_scratch.file);
	rmdir(fuzz_scratch.dir);
}

/* Creates <prefix>-XXXXXX in /dev/shm (else /tmp), removed at exit, and names its file name. */
static inline void fuzz_scratch_init(const char *prefix, const char *name)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	snprintf(fuzz_scratch.dir, sizeof(fuzz_scratch.dir), "%s/%s-XXXXXX", base, prefix);
	if (!mkdtemp(fuzz_scratch.dir))
		abort();
	atexit(fuzz_scratch_remove);
	snprintf(fuzz_scratch.file, sizeof(fuzz_scratch.file), "%s/%s", fuzz_scratch.dir, name);
}

/* Harnesses of several parsers: the input's first byte picks one of n, the rest is its input.
 * Returns the pick, or -1 for an empty input. */
static inline int fuzz_pick(const uint8_t *data, size_t size, int n, const char **input,
			    size_t *len)
{
	if (size < 1)
		return -1;
	*input = (const char *)data + 1;
	*len = size - 1;
	return data[0] % n;
}

/* LLVMFuzzerInitialize of a harness whose parser reads a path: quiet logging and the scratch
 * file NAME in a directory named after the harness. */
#define FUZZ_INIT_SCRATCH(ident, name)                    \
	int LLVMFuzzerInitialize(int *argc, char ***argv) \
	{                                                 \
		(void)argc;                               \
		(void)argv;                               \
		fuzz_log_quiet(ident);                    \
		fuzz_scratch_init(ident, name);           \
		return 0;                                 \
	}

/* Replaces the scratch file's contents with data, then extends it (a hole) to min_size if that
 * is larger. */
static inline void fuzz_scratch_write(const void *data, size_t size, off_t min_size)
{
	int fd = open(fuzz_scratch.file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		abort();
	if (write(fd, data, size) != (ssize_t)size)
		abort();
	if (min_size > (off_t)size && ftruncate(fd, min_size) < 0)
		abort();
	close(fd);
}
