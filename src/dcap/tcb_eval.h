/* QE identity and TDX TCB evaluation (Intel QVL rules, docs/verify.md) over collateral
 * that has already been authenticated. */
#pragma once

#include <stddef.h>

#include "collateral.h"
#include "pck_ext.h"
#include "quote.h"

/* Checks the QE report against the QE identity and rates its ISVSVN. Returns 0 with *status
 * (UpToDate, OutOfDate, Revoked or NotSupported) and the level's advisories, or -EACCES with
 * reason set when the QE is not the identity's enclave. */
int qe_identity_evaluate(const struct qe_identity *qe, const struct sgx_report_body *report,
			 enum tcb_status *status, struct tcb_advisories *adv, char *reason,
			 size_t reason_len);

/* Rates the TD's platform: TDX module identity, TCB level from the PCK's SGX TCB and the
 * quote's TEE_TCB_SVN, combined with the QE status (and TD relaunch advice for TDX 1.5).
 * Returns 0 with *status and advisories (appended to adv), or -EACCES with reason set and
 * *status NotSupported when no level matches or the module identity does not match. */
int tdx_tcb_evaluate(const struct tcb_info *tcb, const struct pck_ext *pck,
		     const struct tdx_quote *q, enum tcb_status qe_status, enum tcb_status *status,
		     struct tcb_advisories *adv, char *reason, size_t reason_len);

/* Adds the IDs of src not yet in dst (bounded by DCAP_MAX_ADVISORIES). */
void tcb_advisories_merge(struct tcb_advisories *dst, const struct tcb_advisories *src);
