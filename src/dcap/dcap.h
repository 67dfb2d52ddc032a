/* Intel DCAP verification of TDX quotes over OpenSSL 3: PCK chain to the Intel SGX Root CA, CRLs,
 * QE report and its binding, quote signature, TCB info / QE identity signatures, QE identity and
 * TDX TCB evaluation, collateral validity at a given time (docs/verify.md). The verifier's one
 * public header: libdcap.a (src/dcap/) is used through it only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cleanup.h"
#include "quote.h"

/* Parsed, verified-once collateral for one FMSPC: reused across many quote verifications. */
struct dcap_collateral;

/* Collateral as separate files (Intel PCS response bodies, PEM/DER certificates and CRLs).
 * Any member may be NULL when it is supplied through a bundle instead. */
struct dcap_collateral_files {
	const char *bundle;	       /* collateral.json (dcap-qvl QuoteCollateralV3 form) */
	const char *tcb_info;	       /* {"tcbInfo":{...},"signature":"..."} */
	const char *qe_identity;       /* {"enclaveIdentity":{...},"signature":"..."} */
	const char *pck_crl;	       /* PEM or DER CRL of the PCK issuer CA */
	const char *pck_crl_other;     /* optional: the other PCK CA's CRL (platform / processor) */
	const char *root_crl;	       /* PEM or DER CRL of the root CA */
	const char *tcb_signing_chain; /* PEM: TCB signing cert, root */
	const char *pck_crl_chain;     /* PEM: PCK CA, root (optional: the quote carries it) */
};

/* Loads and checks collateral, copying the cause of a failure (e.g. "TCB info signature does not
 * verify ...") into reason (may be NULL). Returns -ENOENT (an item missing), -EBADMSG (malformed),
 * -EKEYREJECTED (a collateral signature does not verify) or another negative errno (unreadable
 * file). */
int dcap_collateral_load(const struct dcap_collateral_files *files, struct dcap_collateral **out,
			 char *reason, size_t reason_len);
void dcap_collateral_free(struct dcap_collateral *c);
DEFINE_CLEANUP_FUNC(struct dcap_collateral, dcap_collateral_free)
/* Latest issue time and earliest expiry (inclusive) over TCB info, QE identity and both CRLs
 * (for policy age checks). Certificate validity is checked per quote at its time. */
void dcap_collateral_window(const struct dcap_collateral *c, time_t *not_before, time_t *not_after);
/* Issue date of the older of TCB info and QE identity: what a policy's maximum collateral age
 * is measured against (a fresh CRL must not make stale TCB data look new). */
time_t dcap_collateral_oldest_issue(const struct dcap_collateral *c);

/* The trust anchor. root_ca_path NULL = the compiled-in Intel SGX Root CA. A different root is
 * for tests only and is logged loudly. */
struct dcap_verifier;
int dcap_verifier_new(const char *root_ca_path, struct dcap_verifier **out);
void dcap_verifier_free(struct dcap_verifier *v);
DEFINE_CLEANUP_FUNC(struct dcap_verifier, dcap_verifier_free)
bool dcap_verifier_is_test_root(const struct dcap_verifier *v);

/* What the verifier's caches did so far (tests and benchmarks). */
struct dcap_verifier_stats {
	uint64_t pck_full_verifications; /* PCK chains verified in full and cached */
	uint64_t pck_cache_hits;	 /* quotes whose PCK chain came from the cache */
	uint64_t
		signer_chain_verifications; /* collaterals whose TCB signing chains were verified */
};
void dcap_verifier_stats(const struct dcap_verifier *v, struct dcap_verifier_stats *out);

#define DCAP_MAX_ADVISORIES 32

/* Intel's TCB status of a platform, as the verifier found it. */
enum tcb_status {
	TCB_UP_TO_DATE,
	TCB_SW_HARDENING_NEEDED,
	TCB_CONFIGURATION_NEEDED,
	TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED,
	TCB_OUT_OF_DATE,
	TCB_OUT_OF_DATE_CONFIGURATION_NEEDED,
	TCB_REVOKED,
	TCB_TD_RELAUNCH_ADVISED,
	TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED,
	TCB_NOT_SUPPORTED,
};

/* Intel's status name ("UpToDate", ...; "NotSupported" for no matching level). */
const char *tcb_status_name(enum tcb_status s);
/* The status of a TCB level named as Intel names it (every status but NotSupported); -EINVAL for
 * any other text. */
int tcb_status_from_name(const char *name, enum tcb_status *out);

struct dcap_result {
	bool verified;	     /* every signature, chain and collateral check passed at the time */
	char reason[256];    /* why not verified (empty when verified) */
	bool has_tcb_status; /* the TCB levels were evaluated: tcb_status is set */
	enum tcb_status tcb_status; /* tcb_status_name() gives Intel's name for reports */
	char advisory_ids[DCAP_MAX_ADVISORIES][24];
	size_t n_advisory_ids;
	uint8_t fmspc[6];
	uint8_t pce_id[2];
	uint16_t pce_svn;
	uint16_t qe_svn;
	/* tcbEvaluationDataNumber of the TCB info and QE identity used (the smaller), for a
	 * policy that requires a minimum; 0 when not verified. */
	uint32_t tcb_eval_number;
};

/* How the verifier keys a quote's PCK chain (the SHA-256 of its certificates' DER), read once by
 * dcap_quote_fmspc() for the collateral lookup and reused by dcap_verify() for the same quote. */
struct dcap_chain_key {
	const struct tdx_quote *q; /* the quote it was read from: used for no other */
	bool ok;		   /* false: the chain could not be keyed cheaply */
	uint8_t digest[32];
};

/* Verifies a parsed quote (quote_parse(); the caller parses each quote once) at time `at` against
 * collateral. key (may be NULL) is dcap_quote_fmspc()'s reading of the same q, unchanged since.
 * Returns 0 when verified, a negative errno (-EBADMSG malformed, -EKEYREJECTED
 * signature/chain/revocation, -EKEYEXPIRED validity, -EACCES other refusal such as TCB not
 * supported, -ENOKEY c is NULL) with res->reason set otherwise. Thread-safe for concurrent calls on
 * the same verifier and collateral. A TCB status other than UpToDate is reported, not refused. */
int dcap_verify(const struct dcap_verifier *v, const struct dcap_collateral *c,
		const struct tdx_quote *q, const struct dcap_chain_key *key, time_t at,
		struct dcap_result *res);

/* FMSPC from the quote's PCK leaf certificate, to look up collateral before verifying; v (may be
 * NULL) caches it by the chain's digest, beside its PCK-chain cache. Not verified: only a hint.
 * key (may be NULL) receives the chain's key for dcap_verify(). */
int dcap_quote_fmspc(const struct dcap_verifier *v, const struct tdx_quote *q, uint8_t fmspc[6],
		     struct dcap_chain_key *key);
/* Unverified platform facts for reports: fills res->fmspc, pce_id, pce_svn from the PCK leaf's
 * SGX extension and res->qe_svn from the QE report. Does not touch verified or reason. */
int dcap_quote_pck_info(const struct tdx_quote *q, struct dcap_result *res);
