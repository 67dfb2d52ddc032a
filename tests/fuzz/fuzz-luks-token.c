/* libFuzzer harness: the LUKS2 token JSON parser of the agent (the header is attacker-controlled);
 * a parsed token must format and parse back to the same token. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/luks_token.h"
#include "fuzz-common.h"

FUZZ_INIT_QUIET("fuzz-luks-token")

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct luks_token tok, tok2;
	char reason[256], *text, *again = NULL;

	/* cryptsetup hands tokens over as NUL-terminated strings. */
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (luks_token_parse(text, &tok, reason, sizeof(reason)) == 0) {
		if (luks_token_format(&tok, &again) < 0 ||
		    luks_token_parse(again, &tok2, reason, sizeof(reason)) < 0 ||
		    tok.keyslot != tok2.keyslot || strcmp(tok.resource, tok2.resource) != 0 ||
		    memcmp(tok.salt, tok2.salt, sizeof(tok.salt)) != 0)
			__builtin_trap();
		free(again);
	}
	free(text);
	return 0;
}
