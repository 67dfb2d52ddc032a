/* DCAP collateral parsed into typed structures with its signatures checked: the verifier's view
 * of struct dcap_collateral (loading is dcap_collateral_load() in dcap.h). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "dcap.h"

#define TCB_MAX_LEVELS	      64
#define TCB_MAX_MODULES	      8
#define TCB_MAX_MODULE_LEVELS 32
#define TCB_ADVISORY_LEN      24

struct tcb_advisories {
	size_t n;
	char id[DCAP_MAX_ADVISORIES][TCB_ADVISORY_LEN];
};

/* One entry of TCB info "tcbLevels". */
struct tcb_level {
	uint8_t sgx_svn[16];
	uint16_t pce_svn;
	uint8_t tdx_svn[16];
	enum tcb_status status;
	struct tcb_advisories advisories;
};

/* One entry of an ISVSVN-rated "tcbLevels" (QE identity, TDX module identity). */
struct isv_level {
	uint16_t isvsvn;
	enum tcb_status status;
	struct tcb_advisories advisories;
};

struct tdx_module_identity {
	char id[16]; /* "TDX_01"; empty for the top-level "tdxModule" */
	uint8_t mrsigner[48];
	uint8_t attributes[8];
	uint8_t attributes_mask[8];
	size_t n_levels;
	struct isv_level levels[TCB_MAX_MODULE_LEVELS];
};

struct tcb_info {
	time_t issue_date, next_update;
	uint8_t fmspc[6];
	uint8_t pce_id[2];
	uint32_t eval_number;
	bool has_module;
	struct tdx_module_identity module; /* top-level "tdxModule" */
	size_t n_modules;
	struct tdx_module_identity modules[TCB_MAX_MODULES];
	size_t n_levels;
	struct tcb_level levels[TCB_MAX_LEVELS];
};

struct qe_identity {
	time_t issue_date, next_update;
	uint32_t eval_number;
	uint32_t miscselect, miscselect_mask;
	uint8_t attributes[16], attributes_mask[16];
	uint8_t mrsigner[32];
	uint16_t isvprodid;
	size_t n_levels;
	struct isv_level levels[TCB_MAX_MODULE_LEVELS];
};

struct dcap_collateral {
	struct tcb_info tcb;
	struct qe_identity qe;
	STACK_OF(X509) * tcb_chain;	/* signer first: signed the TCB info */
	STACK_OF(X509) * qe_chain;	/* signer first: signed the QE identity */
	STACK_OF(X509) * pck_crl_chain; /* optional */
	X509_CRL *pck_crl;
	X509_CRL *pck_crl_other; /* optional: a platform has its PCK from one of two CAs */
	X509_CRL *root_crl;
	time_t pck_crl_this_update, pck_crl_next_update;
	time_t pck_crl_other_this_update, pck_crl_other_next_update;
	time_t root_crl_this_update, root_crl_next_update;
	/* SHA-256 over every input byte: part of the verifier's cache key. */
	uint8_t digest[32];
	/* Latest issue and earliest expiry of TCB info, QE identity and both CRLs (inclusive). */
	time_t not_before, not_after;
};

/* Finds the raw text of member `key` of the top-level object in a JSON document (e.g.
 * "tcbInfo" in a PCS response): the exact bytes the signature covers. The document must be
 * valid JSON with that key exactly once. */
int json_raw_member(const char *doc, size_t len, const char *key, const char **value,
		    size_t *value_len);

/* Parses the signed JSON text of "tcbInfo" / "enclaveIdentity" (no signature check), copying the
 * first problem (e.g. "TCB info: 'fmspc' is not 6 bytes of hex") into reason (may be NULL). */
int tcb_info_parse(const char *raw, size_t len, struct tcb_info *out, char *reason,
		   size_t reason_len);
int qe_identity_parse(const char *raw, size_t len, struct qe_identity *out, char *reason,
		      size_t reason_len);
