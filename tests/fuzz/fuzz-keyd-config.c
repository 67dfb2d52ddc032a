/* libFuzzer harness: tdx-keyd's configuration file parser (keyd_config_load). Each input is
 * written to a scratch file and loaded. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keyd/keyd_config.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Configuration: created once before fuzzing starts. */
static char dir[64], file[96];

static void remove_scratch(void)
{
	unlink(file);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	(void)argc;
	(void)argv;
	log_setup("fuzz-keyd-config", LOG_TARGET_STDERR, LOG_LVL_ERR - 1);
	snprintf(dir, sizeof(dir), "%s/fuzz-keyd-config-XXXXXX", base);
	if (!mkdtemp(dir))
		abort();
	atexit(remove_scratch);
	snprintf(file, sizeof(file), "%s/keyd.json", dir);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keyd_config *c = NULL;
	int fd;

	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		abort();
	if (write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	if (keyd_config_load(file, &c) == 0)
		keyd_config_free(c);
	return 0;
}
