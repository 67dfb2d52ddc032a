/* libFuzzer harness: strict base64 decoding; anything accepted must re-encode to the exact input
 * (one encoding per byte string). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "fuzz-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	int v;

	for (v = B64_STD; v <= B64_URL; v++) {
		uint8_t *out = NULL;
		size_t n = 0;
		char *again;

		if (b64_decode_alloc((enum b64_variant)v, in, size, &out, &n) < 0)
			continue;
		if (n > b64_decoded_max(size))
			__builtin_trap();
		again = b64_encode((enum b64_variant)v, out, n);
		if (!again || strlen(again) != size || memcmp(again, in, size) != 0)
			__builtin_trap();
		free(again);
		free(out);
	}
	return 0;
}
