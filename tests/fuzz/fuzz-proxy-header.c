/* libFuzzer harness: the PROXY protocol header parser in front of keyd's TLS (bytes from the
 * network, before any authentication). A complete header never claims more bytes than given nor
 * more than PROXY_HEADER_MAX; a client address is one inet_pton() reads back; every prefix of an
 * accepted header asks for more bytes (never a different verdict); a refusal says why. */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "keyd/proxy_proto.h"
#include "fuzz-common.h"

FUZZ_INIT_QUIET("fuzz-proxy-header")

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_header h;
	uint8_t a[16];
	char reason[160];
	bool v1 = size && (data[0] & 1);
	int r;

	if (size < 1)
		return 0;
	data++, size--;
	r = proxy_header_parse(data, size, v1, &h, reason, sizeof(reason));
	if (r < 0 && !reason[0])
		__builtin_trap();
	if (r <= 0)
		return 0;
	if ((size_t)r > size || r > PROXY_HEADER_MAX)
		__builtin_trap();
	if (!h.local && inet_pton(strchr(h.addr, ':') ? AF_INET6 : AF_INET, h.addr, a) != 1)
		__builtin_trap();
	for (size_t n = 0; n < (size_t)r; n++) {
		struct proxy_header p;
		int rp = proxy_header_parse(data, n, v1, &p, reason, sizeof(reason));

		if (rp != 0 && !(n == 0 && rp < 0))
			__builtin_trap();
	}
	return 0;
}
