/* What the DCAP unit tests share: quote bytes parsed then verified (keyd's order per attest). */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "dcap/dcap.h"
#include "quote.h"

/* quote_parse() then dcap_verify(): -EBADMSG with res->reason set when the bytes are not a quote.
 * q may be NULL. */
static inline int dcap_test_verify(const struct dcap_verifier *v, const struct dcap_collateral *c,
				   const uint8_t *buf, size_t len, time_t at, struct tdx_quote *q,
				   struct dcap_result *res)
{
	struct tdx_quote local;

	if (!q)
		q = &local;
	*res = (struct dcap_result){0};
	if (quote_parse(buf, len, q, res->reason, sizeof(res->reason)) < 0)
		return -EBADMSG;
	return dcap_verify(v, c, q, at, res);
}
