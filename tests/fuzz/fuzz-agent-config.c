/* libFuzzer harness: the agent's configuration parsers (initramfs JSON file and the
 * rd.tdx_unlock.* kernel command line); the first byte picks which. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config.h"
#include "fuzz-common.h"

FUZZ_INIT_QUIET("fuzz-agent-config")

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_config c;
	char *text;

	if (size < 1)
		return 0;
	text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	agent_config_init(&c);
	if (data[0] & 1)
		agent_config_apply_cmdline(&c, text);
	else
		agent_config_parse_json(&c, text, size - 1);
	agent_config_validate(&c);
	agent_config_done(&c);
	free(text);
	return 0;
}
