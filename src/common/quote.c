/* TDX quote (v4, v5) parsing through the bounded reader in cbs.h. */
#include "quote.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cbs.h"
#include "hexutil.h"
#include "log.h"

#define QUOTE_HEADER_LEN	48
#define TD10_BODY_LEN		584
#define TD15_BODY_LEN		648
#define SGX_REPORT_BODY_LEN	384
#define ATT_KEY_TYPE_ECDSA_P256 2
#define CERT_TYPE_PCK_CHAIN	5
#define CERT_TYPE_QE_REPORT	6

/* Logs the refusal and copies it for the caller; always returns -EBADMSG. */
#define quote_refuse(reason, reason_len, ...) \
	log_refusal(LOG_LVL_ERR, -EBADMSG, "quote: ", reason, reason_len, __VA_ARGS__)

static bool parse_td_body(struct cbs *c, enum tdx_body_kind kind, struct tdx_td_body *b)
{
	bool ok = cbs_copy_bytes(c, b->tee_tcb_svn, sizeof(b->tee_tcb_svn)) &&
		  cbs_copy_bytes(c, b->mrseam, sizeof(b->mrseam)) &&
		  cbs_copy_bytes(c, b->mrsignerseam, sizeof(b->mrsignerseam)) &&
		  cbs_copy_bytes(c, b->seam_attributes, sizeof(b->seam_attributes)) &&
		  cbs_copy_bytes(c, b->td_attributes, sizeof(b->td_attributes)) &&
		  cbs_copy_bytes(c, b->xfam, sizeof(b->xfam)) &&
		  cbs_copy_bytes(c, b->mrtd, sizeof(b->mrtd)) &&
		  cbs_copy_bytes(c, b->mrconfigid, sizeof(b->mrconfigid)) &&
		  cbs_copy_bytes(c, b->mrowner, sizeof(b->mrowner)) &&
		  cbs_copy_bytes(c, b->mrownerconfig, sizeof(b->mrownerconfig)) &&
		  cbs_copy_bytes(c, b->rtmr, sizeof(b->rtmr)) &&
		  cbs_copy_bytes(c, b->report_data, sizeof(b->report_data));

	if (ok && kind == TDX_BODY_TD15)
		ok = cbs_copy_bytes(c, b->tee_tcb_svn2, sizeof(b->tee_tcb_svn2)) &&
		     cbs_copy_bytes(c, b->mrservicetd, sizeof(b->mrservicetd));
	return ok && cbs_len(c) == 0;
}

static bool parse_sgx_report_body(struct cbs *c, struct sgx_report_body *r)
{
	return cbs_len(c) == SGX_REPORT_BODY_LEN && cbs_copy_bytes(c, r->cpusvn, 16) &&
	       cbs_get_u32le(c, &r->miscselect) && cbs_skip(c, 28) &&
	       cbs_copy_bytes(c, r->attributes, 16) && cbs_copy_bytes(c, r->mrenclave, 32) &&
	       cbs_skip(c, 32) && cbs_copy_bytes(c, r->mrsigner, 32) && cbs_skip(c, 96) &&
	       cbs_get_u16le(c, &r->isvprodid) && cbs_get_u16le(c, &r->isvsvn) && cbs_skip(c, 60) &&
	       cbs_copy_bytes(c, r->report_data, 64) && cbs_len(c) == 0;
}

/* Certification data type 6: QE report, its signature, QE authentication data and a nested
 * certification data of type 5 (the PCK chain). Must fill `cert` exactly. */
static int parse_qe_report_cert_data(struct cbs *cert, struct tdx_quote *q, char *reason,
				     size_t reason_len)
{
	struct cbs report, inner;
	uint16_t inner_type;
	uint32_t inner_len;
	const uint8_t *p;

	if (!cbs_copy_bytes(cert, q->qe_report_raw, sizeof(q->qe_report_raw)))
		return quote_refuse(reason, reason_len, "truncated in QE report");
	cbs_init(&report, q->qe_report_raw, sizeof(q->qe_report_raw));
	if (!parse_sgx_report_body(&report, &q->qe_report))
		return quote_refuse(reason, reason_len, "malformed QE report");
	if (!cbs_copy_bytes(cert, q->qe_report_sig, sizeof(q->qe_report_sig)))
		return quote_refuse(reason, reason_len, "truncated in QE report signature");
	if (!cbs_get_u16le(cert, &q->qe_auth_len) ||
	    !cbs_get_bytes(cert, &q->qe_auth_data, q->qe_auth_len))
		return quote_refuse(reason, reason_len, "truncated in QE authentication data");
	if (!cbs_get_u16le(cert, &inner_type) || !cbs_get_u32le(cert, &inner_len))
		return quote_refuse(reason, reason_len,
				    "truncated in PCK certification data header");
	if (inner_type != CERT_TYPE_PCK_CHAIN)
		return quote_refuse(reason, reason_len,
				    "inner certification data type %u unsupported (want 5)",
				    inner_type);
	if (!cbs_get_sub(cert, &inner, inner_len))
		return quote_refuse(reason, reason_len, "truncated in PCK certificate chain");
	if (cbs_len(cert) != 0)
		return quote_refuse(reason, reason_len,
				    "%zu unexpected bytes after PCK certification data",
				    cbs_len(cert));
	if (inner_len == 0 || !cbs_get_bytes(&inner, &p, inner_len))
		return quote_refuse(reason, reason_len, "empty PCK certificate chain");
	q->pck_chain_pem = p;
	q->pck_chain_len = inner_len;
	return 0;
}

static int parse_signature_data(struct cbs *sig, struct tdx_quote *q, char *reason,
				size_t reason_len)
{
	struct cbs cert;
	uint32_t cert_len;

	if (!cbs_copy_bytes(sig, q->signature, sizeof(q->signature)))
		return quote_refuse(reason, reason_len, "truncated in quote signature");
	if (!cbs_copy_bytes(sig, q->attest_key, sizeof(q->attest_key)))
		return quote_refuse(reason, reason_len, "truncated in attestation key");
	if (!cbs_get_u16le(sig, &q->cert_data_type) || !cbs_get_u32le(sig, &cert_len))
		return quote_refuse(reason, reason_len, "truncated in certification data header");
	if (q->cert_data_type != CERT_TYPE_QE_REPORT)
		return quote_refuse(reason, reason_len,
				    "certification data type %u unsupported (want 6)",
				    q->cert_data_type);
	if (!cbs_get_sub(sig, &cert, cert_len))
		return quote_refuse(reason, reason_len, "truncated in certification data");
	if (cbs_len(sig) != 0)
		return quote_refuse(reason, reason_len,
				    "%zu unexpected bytes after certification data", cbs_len(sig));
	return parse_qe_report_cert_data(&cert, q, reason, reason_len);
}

int quote_parse(const uint8_t *buf, size_t len, struct tdx_quote *q, char *reason,
		size_t reason_len)
{
	struct cbs c, body, sig;
	const uint8_t *start = buf;
	uint16_t body_type;
	uint32_t body_len;
	int r;

	memset(q, 0, sizeof(*q));
	if (reason && reason_len)
		reason[0] = '\0';
	if (!buf)
		return quote_refuse(reason, reason_len, "no data");
	if (len > TDX_QUOTE_MAX_LEN)
		return quote_refuse(reason, reason_len,
				    "%zu bytes is larger than the %d-byte limit", len,
				    TDX_QUOTE_MAX_LEN);
	cbs_init(&c, buf, len);

	if (!cbs_get_u16le(&c, &q->version) || !cbs_get_u16le(&c, &q->att_key_type) ||
	    !cbs_get_u32le(&c, &q->tee_type) || !cbs_skip(&c, 4) ||
	    !cbs_copy_bytes(&c, q->qe_vendor_id, sizeof(q->qe_vendor_id)) ||
	    !cbs_copy_bytes(&c, q->user_data, sizeof(q->user_data)))
		return quote_refuse(reason, reason_len, "truncated in header (%zu bytes)", len);
	if (q->version != 4 && q->version != 5)
		return quote_refuse(reason, reason_len, "version %u unsupported (want 4 or 5)",
				    q->version);
	if (q->att_key_type != ATT_KEY_TYPE_ECDSA_P256)
		return quote_refuse(reason, reason_len,
				    "attestation key type %u unsupported (want 2, ECDSA P-256)",
				    q->att_key_type);
	if (q->tee_type != TDX_TEE_TYPE_TDX)
		return quote_refuse(reason, reason_len, "TEE type 0x%x is not TDX (0x81)",
				    q->tee_type);

	if (q->version == 4) {
		q->body_kind = TDX_BODY_TD10;
		body_len = TD10_BODY_LEN;
	} else {
		if (!cbs_get_u16le(&c, &body_type) || !cbs_get_u32le(&c, &body_len))
			return quote_refuse(reason, reason_len, "truncated in v5 body descriptor");
		if (body_type == TDX_BODY_TD10 && body_len == TD10_BODY_LEN)
			q->body_kind = TDX_BODY_TD10;
		else if (body_type == TDX_BODY_TD15 && body_len == TD15_BODY_LEN)
			q->body_kind = TDX_BODY_TD15;
		else
			return quote_refuse(
				reason, reason_len,
				"v5 body type %u with size %u unsupported (want 2/584 or "
				"3/648)",
				body_type, body_len);
	}
	if (!cbs_get_sub(&c, &body, body_len))
		return quote_refuse(reason, reason_len, "truncated in TD report body");
	if (!parse_td_body(&body, q->body_kind, &q->body))
		return quote_refuse(reason, reason_len, "malformed TD report body");
	q->signed_data = start;
	q->signed_len = len - cbs_len(&c);

	if (!cbs_get_u32le(&c, &q->signature_data_len))
		return quote_refuse(reason, reason_len, "truncated before signature data length");
	if (!cbs_get_sub(&c, &sig, q->signature_data_len))
		return quote_refuse(reason, reason_len,
				    "signature data length %u exceeds the %zu bytes left",
				    q->signature_data_len, cbs_len(&c));
	r = parse_signature_data(&sig, q, reason, reason_len);
	if (r < 0)
		return r;
	q->total_len = len - cbs_len(&c);
	return 0;
}

/* Only hex digits and whitespace: meant as hex text (a binary quote starts with 04 00 or 05 00). */
static bool is_hex_text(const uint8_t *in, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isxdigit(in[i]) && !isspace(in[i]))
			return false;
	return true;
}

int quote_decode_file_bytes(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
	uint8_t *buf;
	int r;

	if (!in || in_len == 0)
		return log_error_errno(-EBADMSG, "quote: file is empty");
	if (is_hex_text(in, in_len)) {
		if (in_len > 2 * (size_t)TDX_QUOTE_MAX_LEN + 4096)
			return log_error_errno(-EFBIG, "quote: hex text too large");
		r = hex_decode_alloc((const char *)in, in_len, out, out_len);
		if (r < 0)
			return log_error_errno(r, "quote: hex text with an odd number of digits");
		if (*out_len == 0) {
			free(*out);
			*out = NULL;
			return log_error_errno(-EBADMSG, "quote: hex text holds no bytes");
		}
		return 0;
	}
	buf = malloc(in_len);
	if (!buf)
		return log_error_errno(-ENOMEM, "quote: out of memory");
	memcpy(buf, in, in_len);
	*out = buf;
	*out_len = in_len;
	return 0;
}

uint64_t quote_td_attributes(const struct tdx_quote *q)
{
	uint64_t v = 0;

	for (size_t i = sizeof(q->body.td_attributes); i > 0; i--)
		v = (v << 8) | q->body.td_attributes[i - 1];
	return v;
}

bool quote_td_debug(const struct tdx_quote *q)
{
	return (quote_td_attributes(q) & TDX_ATTR_DEBUG) != 0;
}
