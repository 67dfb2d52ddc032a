/* libFuzzer harness: JWE decryption (jwe_decrypt) with the test-vector recipient key, so that
 * seeds encrypted to it reach key unwrap and GCM. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "jwe.h"
#include "secmem.h"
#include "../unit/protocol-vectors.h"
#include "fuzz-common.h"

static EVP_PKEY *recipient; /* configuration: set once before fuzzing starts */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct json_object *vec;

	(void)argc;
	(void)argv;
	fuzz_log_quiet("fuzz-jwe");
	vec = vectors_load();
	recipient = vec ? vec_tee_key(vec) : NULL;
	json_object_put(vec);
	if (!recipient)
		abort(); /* run from the repository root, or set PROTOCOL_VECTORS */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *pt = NULL;
	size_t pt_len = 0;
	char reason[256];

	if (jwe_decrypt(recipient, (const char *)data, size, &pt, &pt_len, reason,
			sizeof(reason)) == 0) {
		if (!pt || pt_len > JWE_MAX_PLAINTEXT_LEN)
			__builtin_trap();
		secmem_free(pt);
	} else if (pt) {
		__builtin_trap(); /* no output on failure */
	}
	return 0;
}
