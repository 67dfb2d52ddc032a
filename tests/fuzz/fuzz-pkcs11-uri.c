/* libFuzzer harness: the RFC 7512 PKCS#11 URI parser of root_key_pkcs11. Anything accepted
 * names a key label and an absolute module path, and a refusal always says why. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keyd/pkcs11_uri.h"
#include "fuzz-common.h"

FUZZ_INIT_QUIET("fuzz-pkcs11-uri")

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pkcs11_uri u;
	char reason[256], *s = malloc(size + 1);

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (pkcs11_uri_parse(s, &u, reason, sizeof(reason)) == 0) {
		if (!u.object || !u.object[0] || !u.module_path || u.module_path[0] != '/' ||
		    (u.pin_source && u.pin_value))
			__builtin_trap();
		pkcs11_uri_done(&u);
	} else if (!reason[0] || u.object || u.module_path) {
		__builtin_trap();
	}
	free(s);
	return 0;
}
