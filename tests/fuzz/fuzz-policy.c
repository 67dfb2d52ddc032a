/* libFuzzer harness: tdx-keyd's policy files (JSON, docs/policy.md). Each input is written as the
 * only *.json file of a scratch directory and loaded; a loaded set is then queried and evaluated
 * against a fixed TD so the evaluation code runs on fuzzed policies too. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keyd/policy.h"
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
	log_setup("fuzz-policy", LOG_TARGET_STDERR, LOG_LVL_ERR - 1);
	snprintf(dir, sizeof(dir), "%s/fuzz-policy-XXXXXX", base);
	if (!mkdtemp(dir))
		abort();
	atexit(remove_scratch);
	snprintf(file, sizeof(file), "%s/p.json", dir);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct tdx_td_body body = {.mrtd = {1}};
	struct policy_td td = {.body = &body, .tcb_status = "UpToDate", .now = 1764000000};
	struct policy_set *set = NULL;
	const struct policy *p;
	char reason[256];
	int fd;

	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		abort();
	if (write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	if (policy_set_load_dir(dir, &set) == 0) {
		p = policy_set_find(set, "default/disk/root");
		if (p)
			policy_evaluate(p, &td, reason, sizeof(reason));
		policy_set_unref(set);
	}
	return 0;
}
