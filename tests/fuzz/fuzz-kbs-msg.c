/* libFuzzer harness: every KBS 0.4.0 message parser. The first byte picks the parser; a parsed
 * attest request is also hashed into REPORTDATA, and a built message must parse back. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kbs_msg.h"
#include "fuzz-common.h"

FUZZ_INIT_QUIET("fuzz-kbs-msg")

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body;
	char reason[256], *token = NULL, *again = NULL;
	struct kbs_attest_request req;
	struct kbs_challenge ch;
	struct kbs_error err;
	uint8_t rd[KBS_REPORT_DATA_LEN];
	size_t len;

	switch (fuzz_pick(data, size, 5, &body, &len)) {
	case 0:
		kbs_auth_request_parse(body, len, reason, sizeof(reason));
		break;
	case 1:
		if (kbs_challenge_parse(body, len, &ch, reason, sizeof(reason)) == 0) {
			if (kbs_challenge_build(ch.nonce, &again) < 0 ||
			    kbs_challenge_parse(again, strlen(again), &ch, reason, sizeof(reason)) <
				    0)
				__builtin_trap();
			free(again);
		}
		break;
	case 2:
		if (kbs_attest_request_parse(body, len, &req, reason, sizeof(reason)) == 0) {
			EVP_PKEY *tee = NULL;

			/* What parsing accepted, the JWE can be sealed to. */
			if (kbs_report_data(req.nonce, req.tee_pubkey_jwk, rd) < 0 ||
			    jwk_p256_from_coordinates(req.tee_xy, &tee) < 0 || !req.quote ||
			    req.quote_len > KBS_QUOTE_MAX_LEN)
				__builtin_trap();
			EVP_PKEY_free(tee);
			kbs_attest_request_done(&req);
		}
		break;
	case 3:
		if (kbs_attest_response_parse(body, len, &token, reason, sizeof(reason)) == 0)
			free(token);
		break;
	case 4:
		kbs_error_parse(body, len, &err, reason, sizeof(reason));
		break;
	}
	return 0;
}
