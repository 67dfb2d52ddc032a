/* libFuzzer harness: the LUKS2 metadata allow-list (luks_allowlist_check) on its own, straight on
 * JSON text as libcryptsetup would export it: no header image, no device, no checksum. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/luks_allowlist.h"
#include "fuzz-common.h"

FUZZ_INIT_QUIET("fuzz-luks-allowlist")

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct luks_token tok;
	char reason[LUKS_REASON_MAX], *json;
	int tid;

	json = malloc(size + 1);
	if (!json)
		return 0;
	memcpy(json, data, size);
	json[size] = '\0';
	/* Both key sizes the allow-list knows, and every token need. */
	for (int vk = 32; vk <= 64; vk += 32)
		for (int need = LUKS_TOKEN_REQUIRED; need <= LUKS_TOKEN_ANY; need++)
			(void)luks_allowlist_check(json, vk, (enum luks_token_need)need, &tid, &tok,
						   reason, sizeof(reason));
	free(json);
	return 0;
}
