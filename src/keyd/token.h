/* The attestation token of a successful /attest: an HS256 JWT naming what was attested. Clients
 * treat it as opaque; the session is what authorises resources. */
#pragma once

#include <stdint.h>

#include "quote.h"

#define TOKEN_KEY_LEN 32

/* Builds "header.claims.signature" (claims: iss, iat, exp = now + lifetime_s, tee, tcb-status,
 * mrtd), signed with HMAC-SHA256 under key, into a malloc'ed string. Returns 0, -ENOMEM or -EIO. */
int token_build(const uint8_t key[TOKEN_KEY_LEN], unsigned lifetime_s, const char *tcb_status,
		const uint8_t mrtd[TDX_MR_LEN], char **out);
