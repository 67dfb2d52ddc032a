/* Test-only TDX quote simulator: a generated test PCK hierarchy, QE and attestation key that
 * produce byte-exact quote v4/v5 structures with matching signed test collateral. Never trusted
 * unless a verifier is explicitly given the generated root (see docs/quotegen.md). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/types.h>

#include "cleanup.h"
#include "quote.h"

/* Fixed file names inside a quotesim directory. Private keys are test keys (mode 0600). */
#define QUOTESIM_ROOT_CA	   "root_ca.pem" /* test root (give it to the verifier) */
#define QUOTESIM_ROOT_CA_KEY	   "root_ca_key.pem"
#define QUOTESIM_PCK_CA		   "pck_ca.pem" /* "Test SGX PCK Platform CA" */
#define QUOTESIM_PCK_CA_KEY	   "pck_ca_key.pem"
#define QUOTESIM_PCK_LEAF	   "pck_leaf.pem" /* "Test SGX PCK Certificate" + SGX ext. */
#define QUOTESIM_PCK_LEAF_KEY	   "pck_leaf_key.pem"
#define QUOTESIM_PCK_CHAIN	   "pck_chain.pem"     /* leaf, PCK CA, root: embedded in quotes */
#define QUOTESIM_PCK_CRL_CHAIN	   "pck_crl_chain.pem" /* PCK CA, root */
#define QUOTESIM_TCB_SIGNING	   "tcb_signing.pem"   /* "Test SGX TCB Signing" */
#define QUOTESIM_TCB_SIGNING_KEY   "tcb_signing_key.pem"
#define QUOTESIM_TCB_SIGNING_CHAIN "tcb_signing_chain.pem" /* TCB signing, root */
#define QUOTESIM_ATTEST_KEY	   "attestation_key.pem"   /* QE attestation key (P-256) */
#define QUOTESIM_PARAMS		   "quotesim.json"    /* the platform values (FMSPC, SVNs, ...) */
#define QUOTESIM_TCB_INFO	   "tcb_info.json"    /* {"tcbInfo":{...},"signature":"hex"} */
#define QUOTESIM_QE_IDENTITY	   "qe_identity.json" /* {"enclaveIdentity":{...},...} */
#define QUOTESIM_PCK_CRL	   "pck_crl.der"
#define QUOTESIM_ROOT_CRL	   "root_crl.der"
#define QUOTESIM_COLLATERAL	   "collateral.json"	 /* dcap-qvl QuoteCollateralV3 bundle */
#define QUOTESIM_QUOTE_DEFAULTS	   "quote_defaults.json" /* optional quote field defaults */

/* A validity window; {0, 0} selects the default documented at each use. */
struct quotesim_window {
	time_t not_before;
	time_t not_after;
};

/* What the PCK leaf certificate claims about the platform (docs/verify.md). */
struct quotesim_platform {
	uint8_t fmspc[6];
	uint8_t pce_id[2];
	uint8_t ppid[16];
	uint8_t sgx_tcb_svn[16]; /* SGX TCB component SVNs 1..16 */
	uint16_t pce_svn;
	uint8_t cpusvn[16];
};

/* Signed test collateral for one hierarchy. Windows default to [now - 1 h, now + 30 d). */
struct quotesim_collateral_opts {
	struct quotesim_window tcb_info;    /* issueDate / nextUpdate */
	struct quotesim_window qe_identity; /* issueDate / nextUpdate */
	struct quotesim_window pck_crl;	    /* thisUpdate / nextUpdate */
	struct quotesim_window root_crl;    /* thisUpdate / nextUpdate */
	const char *tcb_status; /* status of the TCB level the platform matches; NULL = UpToDate */
	bool stale_tcb;		/* add a newer UpToDate level above the platform's, which becomes
				 * OutOfDate with advisory INTEL-SA-00000 (quote reports OutOfDate) */
	bool revoke_pck;	/* PCK CRL lists the PCK leaf's serial */
	bool revoke_pck_ca;	/* root CRL lists the PCK CA's serial */
	bool qe_mismatch;	/* QE identity names another MRSIGNER than the QE report carries */
	uint32_t tcb_eval_number; /* tcbEvaluationDataNumber; 0 = 17 */
	uint32_t crl_number;	  /* cRLNumber of both CRLs; 0 = 1 */
	const uint8_t *tcb_fmspc; /* 6 bytes: TCB info for another FMSPC; NULL = the platform's */
};

struct quotesim_ca_opts {
	struct quotesim_platform platform;
	struct quotesim_window ca_validity; /* root, PCK CA, TCB signing; default [now-1d, +10y) */
	struct quotesim_window leaf_validity; /* PCK leaf; default [now - 1 d, now + 7 y) */
	struct quotesim_collateral_opts collateral;
	/* PCK leaf subject CN (hostile-input tests); NULL = "Test SGX PCK Certificate". With
	 * pck_leaf_cn_bmp its bytes are stored as they are as a BMPString. */
	const char *pck_leaf_cn;
	bool pck_leaf_cn_bmp;
	/* The PCK CA is "Test SGX PCK Processor CA" (a single-package platform's issuer; its CRL is
	 * PCS's ca=processor) and the leaf's SGX extension has no platform instance ID or
	 * configuration, as Intel's Processor-CA leaves. Default: the Platform CA. */
	bool processor_ca;
};

/* Fills o with the defaults (FMSPC 00906ed50000, PCE-ID 0000, SGX SVNs [3,3,2,2,4,1,0,5,0...],
 * PCESVN 13) and zero windows. */
void quotesim_ca_opts_init(struct quotesim_ca_opts *o);

/* Generates a new test hierarchy (root -> PCK CA -> PCK leaf, root -> TCB signing), QE and
 * attestation keys, and its collateral, into dir (created if missing; files overwritten). */
int quotesim_ca_create(const char *dir, const struct quotesim_ca_opts *o);

struct quotesim;

/* Loads a directory written by quotesim_ca_create(). */
int quotesim_load(const char *dir, struct quotesim **out);
void quotesim_free(struct quotesim *s);
DEFINE_CLEANUP_FUNC(struct quotesim, quotesim_free)

/* Re-issues collateral (tcb_info.json, qe_identity.json, the CRLs, collateral.json and the
 * signer chains) for the loaded hierarchy into out_dir (may be the hierarchy's own directory),
 * e.g. expired or stale variants for the same platform. */
int quotesim_collateral_write(const struct quotesim *s, const char *out_dir,
			      const struct quotesim_collateral_opts *o);

/* One-byte flips applied after signing; each breaks exactly one check. */
enum quotesim_tamper {
	QUOTESIM_TAMPER_HEADER = 1u << 0,	  /* header byte (user data) */
	QUOTESIM_TAMPER_BODY = 1u << 1,		  /* a byte of MRTD */
	QUOTESIM_TAMPER_QUOTE_SIG = 1u << 2,	  /* quote signature */
	QUOTESIM_TAMPER_ATTEST_KEY = 1u << 3,	  /* attestation key (QE report binding breaks) */
	QUOTESIM_TAMPER_QE_REPORT = 1u << 4,	  /* QE report (its signature breaks) */
	QUOTESIM_TAMPER_QE_REPORT_SIG = 1u << 5,  /* QE report signature */
	QUOTESIM_TAMPER_QE_AUTH_DATA = 1u << 6,	  /* QE auth data (binding breaks) */
	QUOTESIM_TAMPER_QE_REPORT_DATA = 1u << 7, /* QE report data, re-signed by the PCK key */
};

struct quotesim_quote_opts {
	uint16_t version;	 /* 4 or 5 */
	uint16_t body_type;	 /* v5 only: 2 (TDX 1.0, 584 bytes) or 3 (TDX 1.5, 648 bytes) */
	struct tdx_td_body body; /* every TD report field; report_data is taken from the argument */
	uint8_t user_data[20];	 /* header user data */
	uint16_t qe_isvsvn;	 /* QE report ISVSVN */
	uint16_t cert_data_type; /* 6 */
	uint16_t inner_cert_data_type; /* 5 */
	bool chain_nul; /* PEM chain followed by a counted NUL (as most real quotes) */
	const char *chain_pem_override; /* embed this PEM chain instead of the hierarchy's */
	size_t pad_to;			/* zero-pad the buffer to this many bytes (0 = none) */
	unsigned tamper;		/* QUOTESIM_TAMPER_* bits */
};

/* Fills o with the directory's stored quote defaults if it has them (see below), else a v4 quote
 * whose fields match the hierarchy's collateral (UpToDate): TEE_TCB_SVN 03 01 03 00.., TD
 * attributes SEPT_VE_DISABLE (DEBUG clear), XFAM e702060000000000, MRTD and RTMRs fixed test
 * patterns. s may be NULL (built-in defaults). */
void quotesim_quote_opts_init(const struct quotesim *s, struct quotesim_quote_opts *o);

/* Stores o (all but REPORTDATA and chain_pem_override) as the directory's quote defaults, which
 * quotesim_quote_opts_init() returns after the next quotesim_load(): how a test makes the
 * agent's simulator source emit debug, wrong-measurement or tampered quotes. */
int quotesim_quote_defaults_write(const char *dir, const struct quotesim_quote_opts *o);

/* Builds and signs a quote. report_data NULL = zeros. *out is malloc'ed. */
int quotesim_quote(const struct quotesim *s, const struct quotesim_quote_opts *o,
		   const uint8_t report_data[TDX_REPORT_DATA_LEN], uint8_t **out, size_t *out_len);

/* What a TD does between the KBS /auth and /attest in a test: a fresh P-256 TEE key (*key, for
 * EVP_PKEY_free) and a quote of s (opts o, NULL for the defaults) whose REPORTDATA binds the
 * server's nonce and that key (kbs_report_data()). */
int quotesim_kbs_evidence(const struct quotesim *s, const struct quotesim_quote_opts *o,
			  const char *nonce, EVP_PKEY **key, uint8_t **quote, size_t *quote_len);

/* Parses a tamper name ("header", "body", "quote-sig", "attest-key", "qe-report", "qe-report-sig",
 * "qe-auth-data", "qe-report-data") into its flag; -EINVAL for anything else. */
int quotesim_tamper_from_name(const char *name, unsigned *flag);
