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
#include "fuzz-common.h"

FUZZ_INIT_SCRATCH("fuzz-keyd-config", "keyd.json")

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keyd_config *c = NULL;

	fuzz_scratch_write(data, size, 0);
	if (keyd_config_load(fuzz_scratch.file, &c) == 0)
		keyd_config_free(c);
	return 0;
}
