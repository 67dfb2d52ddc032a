/* TDX quote (v4, v5 body types 2 and 3) parsing through one bounded reader. Parsing checks
 * structure only; signatures and collateral are the verifier's job (src/dcap/dcap.h). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TDX_MR_LEN	    48
#define TDX_REPORT_DATA_LEN 64
#define TDX_QUOTE_MAX_LEN   (64 * 1024) /* anything larger is refused before parsing */
#define TDX_TEE_TYPE_TDX    0x00000081u
#define TDX_ATTR_DEBUG	    (UINT64_C(1) << 0)

enum tdx_body_kind { TDX_BODY_TD10 = 2, TDX_BODY_TD15 = 3 };

struct tdx_td_body {
	uint8_t tee_tcb_svn[16];
	uint8_t mrseam[TDX_MR_LEN];
	uint8_t mrsignerseam[TDX_MR_LEN];
	uint8_t seam_attributes[8];
	uint8_t td_attributes[8];
	uint8_t xfam[8];
	uint8_t mrtd[TDX_MR_LEN];
	uint8_t mrconfigid[TDX_MR_LEN];
	uint8_t mrowner[TDX_MR_LEN];
	uint8_t mrownerconfig[TDX_MR_LEN];
	uint8_t rtmr[4][TDX_MR_LEN];
	uint8_t report_data[TDX_REPORT_DATA_LEN];
	/* TDX 1.5 (v5 body type 3) only; zero otherwise. */
	uint8_t tee_tcb_svn2[16];
	uint8_t mrservicetd[TDX_MR_LEN];
};

/* SGX report body of the Quoting Enclave (384 bytes). */
struct sgx_report_body {
	uint8_t cpusvn[16];
	uint32_t miscselect;
	uint8_t attributes[16];
	uint8_t mrenclave[32];
	uint8_t mrsigner[32];
	uint16_t isvprodid;
	uint16_t isvsvn;
	uint8_t report_data[64];
};

struct tdx_quote {
	uint16_t version;      /* 4 or 5 */
	uint16_t att_key_type; /* 2 = ECDSA P-256 */
	uint32_t tee_type;     /* 0x81 */
	uint8_t qe_vendor_id[16];
	uint8_t user_data[20];
	enum tdx_body_kind body_kind;
	struct tdx_td_body body;

	/* Region covered by the quote signature (header + body [+ v5 type/size]): points into the
	 * caller's buffer, which must outlive this struct. */
	const uint8_t *signed_data;
	size_t signed_len;
	uint32_t signature_data_len;
	size_t total_len; /* bytes the quote occupies; trailing bytes are never hashed */

	uint8_t signature[64];	 /* r||s over signed_data */
	uint8_t attest_key[64];	 /* X||Y */
	uint16_t cert_data_type; /* always 6 after a successful parse */

	uint8_t qe_report_raw[384];
	struct sgx_report_body qe_report;
	uint8_t qe_report_sig[64];
	const uint8_t *qe_auth_data; /* into the caller's buffer */
	uint16_t qe_auth_len;
	const uint8_t *pck_chain_pem; /* into the caller's buffer; not NUL-terminated */
	size_t pck_chain_len;
};

/* Parses buf. Returns 0, or a negative errno with a specific reason logged and, if reason is
 * non-NULL, copied there (e.g. "quote truncated in signature data"). */
int quote_parse(const uint8_t *buf, size_t len, struct tdx_quote *q, char *reason,
		size_t reason_len);

/* Decodes a quote file's contents: raw binary, or hex text (whitespace allowed). Returns a
 * malloc'ed buffer. */
int quote_decode_file_bytes(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len);

uint64_t quote_td_attributes(const struct tdx_quote *q);
bool quote_td_debug(const struct tdx_quote *q);
