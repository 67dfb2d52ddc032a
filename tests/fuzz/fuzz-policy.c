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
#include "fuzz-common.h"

FUZZ_INIT_SCRATCH("fuzz-policy", "p.json")

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct tdx_td_body body = {.mrtd = {1}};
	struct policy_td td = {.body = &body, .tcb_status = TCB_UP_TO_DATE, .now = 1764000000};
	struct policy_set *set = NULL;
	const struct policy *p;
	char reason[256];

	fuzz_scratch_write(data, size, 0);
	if (policy_set_load_dir(fuzz_scratch.dir, &set) == 0) {
		p = policy_set_find(set, "default/disk/root");
		if (p)
			policy_evaluate(p, &td, reason, sizeof(reason));
		policy_set_unref(set);
	}
	return 0;
}
