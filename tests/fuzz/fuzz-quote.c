/* libFuzzer harness: TDX quote parsing (quote_parse) on untrusted bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "quote.h"
#include "fuzz-common.h"

FUZZ_INIT_QUIET("fuzz-quote")

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tdx_quote q;
	char reason[128];

	if (quote_parse(data, size, &q, reason, sizeof(reason)) == 0) {
		/* Everything the parser points at must lie inside the input. */
		if (q.total_len > size || q.signed_data < data ||
		    q.signed_data + q.signed_len > data + size ||
		    (q.qe_auth_len &&
		     (q.qe_auth_data < data || q.qe_auth_data + q.qe_auth_len > data + size)) ||
		    (q.pck_chain_len &&
		     (q.pck_chain_pem < data || q.pck_chain_pem + q.pck_chain_len > data + size)))
			__builtin_trap();
	}
	return 0;
}
