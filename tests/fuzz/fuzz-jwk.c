/* libFuzzer harness: strict JSON parsing, JWK validation under both alg rules (with a key and
 * coordinates-only, which must agree), and JCS serialisation of whatever parsed (JCS output
 * must itself parse strictly). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jcs.h"
#include "json_strict.h"
#include "jwk.h"
#include "fuzz-common.h"

FUZZ_INIT_QUIET("fuzz-jwk")

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *v = NULL, *back = NULL;
	EVP_PKEY *key = NULL;
	char reason[256], *canon = NULL, *canon2 = NULL;
	size_t clen = 0, clen2 = 0;

	if (json_strict_parse((const char *)data, size, 64 * 1024, &v, reason, sizeof(reason)) < 0)
		return 0;
	{
		/* keyd's coordinates-only reading checks the point without a key: it must accept
		 * exactly what the key import accepts. */
		uint8_t xy[2 * JWK_P256_COORD_LEN];
		int with_key = jwk_to_public_key(v, "fuzz", JWK_ALG_REQUIRED, &key, reason,
						 sizeof(reason));

		if (jwk_to_p256_coordinates(v, "fuzz", JWK_ALG_REQUIRED, xy, reason,
					    sizeof(reason)) != with_key)
			__builtin_trap();
		EVP_PKEY_free(key);
	}
	key = NULL;
	if (jwk_to_public_key(v, "fuzz", JWK_ALG_ABSENT, &key, reason, sizeof(reason)) == 0)
		EVP_PKEY_free(key);
	/* JCS is idempotent: canonical text parses back to the same canonical text. */
	if (jcs_serialize(v, &canon, &clen) == 0) {
		if (json_strict_parse(canon, clen, 1 << 20, &back, reason, sizeof(reason)) < 0 ||
		    jcs_serialize(back, &canon2, &clen2) < 0 || clen != clen2 ||
		    memcmp(canon, canon2, clen) != 0)
			__builtin_trap();
		free(canon2);
		json_object_put(back);
		free(canon);
	}
	json_object_put(v);
	return 0;
}
