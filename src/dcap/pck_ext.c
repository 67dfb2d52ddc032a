/* Decodes the SGX extension of a PCK certificate with OpenSSL's generic ASN.1 types: a SEQUENCE
 * of SEQUENCE { OID, value } whose TCB entry nests another such list. */
#include "pck_ext.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include "log.h"

#define SGX_EXT_OID	"1.2.840.113741.1.13.1"
#define SGX_OID_PPID	1
#define SGX_OID_TCB	2
#define SGX_OID_PCE_ID	3
#define SGX_OID_FMSPC	4
#define SGX_OID_SGXTYPE 5
#define TCB_OID_PCESVN	17
#define TCB_OID_CPUSVN	18

enum {
	SEEN_PPID = 1 << 0,
	SEEN_TCB = 1 << 1,
	SEEN_PCE_ID = 1 << 2,
	SEEN_FMSPC = 1 << 3,
	SEEN_SGXTYPE = 1 << 4,
	SEEN_ALL = (1 << 5) - 1,
};

/* Matches oid against SGX_EXT_OID "." sub [ "." *subsub ]: returns the last arc or -1. */
static int oid_arc(const ASN1_OBJECT *oid, int sub)
{
	char txt[80], prefix[64];
	size_t plen;
	const char *rest;
	char *end;
	long v;

	if (OBJ_obj2txt(txt, sizeof(txt), oid, 1) <= 0)
		return -1;
	if (sub > 0)
		snprintf(prefix, sizeof(prefix), "%s.%d.", SGX_EXT_OID, sub);
	else
		snprintf(prefix, sizeof(prefix), "%s.", SGX_EXT_OID);
	plen = strlen(prefix);
	if (strncmp(txt, prefix, plen) != 0)
		return -1;
	rest = txt + plen;
	v = strtol(rest, &end, 10);
	if (end == rest || *end != '\0' || v < 0 || v > 255)
		return -1;
	return (int)v;
}

/* Splits one SEQUENCE { OID, value } element. */
static int pair_get(const ASN1_TYPE *el, STACK_OF(ASN1_TYPE) * *pair, const ASN1_OBJECT **oid,
		    const ASN1_TYPE **val)
{
	const unsigned char *p;
	STACK_OF(ASN1_TYPE) * seq;
	ASN1_TYPE *o;

	if (ASN1_TYPE_get(el) != V_ASN1_SEQUENCE)
		return -EBADMSG;
	p = el->value.sequence->data;
	seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, el->value.sequence->length);
	if (!seq)
		return -EBADMSG;
	if (sk_ASN1_TYPE_num(seq) != 2 ||
	    ASN1_TYPE_get(o = sk_ASN1_TYPE_value(seq, 0)) != V_ASN1_OBJECT) {
		sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
		return -EBADMSG;
	}
	*pair = seq;
	*oid = o->value.object;
	*val = sk_ASN1_TYPE_value(seq, 1);
	return 0;
}

static int get_octets(const ASN1_TYPE *v, uint8_t *out, size_t n)
{
	if (ASN1_TYPE_get(v) != V_ASN1_OCTET_STRING ||
	    (size_t)ASN1_STRING_length(v->value.octet_string) != n)
		return -EBADMSG;
	memcpy(out, ASN1_STRING_get0_data(v->value.octet_string), n);
	return 0;
}

static int get_small_int(const ASN1_TYPE *v, int type, long max, long *out)
{
	long x;

	if (ASN1_TYPE_get(v) != type)
		return -EBADMSG;
	x = type == V_ASN1_ENUMERATED ? ASN1_ENUMERATED_get(v->value.enumerated)
				      : ASN1_INTEGER_get(v->value.integer);
	if (x < 0 || x > max)
		return -EBADMSG;
	*out = x;
	return 0;
}

static int parse_tcb(const ASN1_TYPE *v, struct pck_ext *e)
{
	STACK_OF(ASN1_TYPE) *list = NULL;
	const unsigned char *p;
	uint32_t seen = 0;
	int r = -EBADMSG;

	if (ASN1_TYPE_get(v) != V_ASN1_SEQUENCE)
		return log_error_errno(-EBADMSG, "PCK extension: TCB is not a SEQUENCE");
	p = v->value.sequence->data;
	list = d2i_ASN1_SEQUENCE_ANY(NULL, &p, v->value.sequence->length);
	if (!list)
		return log_error_errno(-EBADMSG, "PCK extension: malformed TCB");
	for (int i = 0; i < sk_ASN1_TYPE_num(list); i++) {
		STACK_OF(ASN1_TYPE) *pair = NULL;
		const ASN1_OBJECT *oid;
		const ASN1_TYPE *val;
		long x = 0;
		int arc;

		if (pair_get(sk_ASN1_TYPE_value(list, i), &pair, &oid, &val) < 0) {
			log_error("PCK extension: malformed TCB entry %d", i);
			goto out;
		}
		arc = oid_arc(oid, SGX_OID_TCB);
		if (arc >= 1 && arc <= 16) {
			r = get_small_int(val, V_ASN1_INTEGER, 255, &x);
			e->sgx_tcb_svn[arc - 1] = (uint8_t)x;
		} else if (arc == TCB_OID_PCESVN) {
			r = get_small_int(val, V_ASN1_INTEGER, 65535, &x);
			e->pce_svn = (uint16_t)x;
		} else if (arc == TCB_OID_CPUSVN) {
			r = get_octets(val, e->cpusvn, sizeof(e->cpusvn));
		} else {
			r = 0; /* unknown entries are ignored, as Intel's library does */
			arc = 0;
		}
		sk_ASN1_TYPE_pop_free(pair, ASN1_TYPE_free);
		if (r < 0) {
			log_error("PCK extension: TCB entry %d has a bad value", arc);
			goto out;
		}
		if (arc > 0) {
			if (seen & (UINT32_C(1) << arc)) {
				log_error("PCK extension: TCB entry %d repeated", arc);
				r = -EBADMSG;
				goto out;
			}
			seen |= UINT32_C(1) << arc;
		}
	}
	if (seen != (((UINT32_C(1) << 19) - 1) & ~UINT32_C(1))) {
		log_error("PCK extension: TCB is missing components (have 0x%x)", seen);
		r = -EBADMSG;
		goto out;
	}
	r = 0;
out:
	sk_ASN1_TYPE_pop_free(list, ASN1_TYPE_free);
	return r;
}

int pck_ext_parse(X509 *leaf, struct pck_ext *out)
{
	STACK_OF(ASN1_TYPE) *list = NULL;
	ASN1_OBJECT *ext_oid = NULL;
	const ASN1_OCTET_STRING *data;
	const unsigned char *p;
	struct pck_ext e = {0};
	unsigned seen = 0;
	int idx, r = -EBADMSG;

	ext_oid = OBJ_txt2obj(SGX_EXT_OID, 1);
	if (!ext_oid)
		return log_error_errno(-ENOMEM, "PCK extension: out of memory");
	idx = X509_get_ext_by_OBJ(leaf, ext_oid, -1);
	if (idx < 0) {
		r = log_error_errno(-EBADMSG, "PCK certificate has no SGX extension");
		goto out;
	}
	if (X509_get_ext_by_OBJ(leaf, ext_oid, idx) >= 0) {
		r = log_error_errno(-EBADMSG, "PCK certificate has two SGX extensions");
		goto out;
	}
	data = X509_EXTENSION_get_data(X509_get_ext(leaf, idx));
	p = ASN1_STRING_get0_data(data);
	list = d2i_ASN1_SEQUENCE_ANY(NULL, &p, ASN1_STRING_length(data));
	if (!list || p != ASN1_STRING_get0_data(data) + ASN1_STRING_length(data)) {
		r = log_error_errno(-EBADMSG, "PCK extension: not a DER SEQUENCE");
		goto out;
	}
	for (int i = 0; i < sk_ASN1_TYPE_num(list); i++) {
		STACK_OF(ASN1_TYPE) *pair = NULL;
		const ASN1_OBJECT *oid;
		const ASN1_TYPE *val;
		unsigned bit = 0;
		long x = 0;
		int arc;

		if (pair_get(sk_ASN1_TYPE_value(list, i), &pair, &oid, &val) < 0) {
			r = log_error_errno(-EBADMSG, "PCK extension: malformed entry %d", i);
			goto out;
		}
		arc = oid_arc(oid, 0);
		switch (arc) {
		case SGX_OID_PPID:
			r = get_octets(val, e.ppid, sizeof(e.ppid));
			bit = SEEN_PPID;
			break;
		case SGX_OID_TCB:
			r = parse_tcb(val, &e);
			bit = SEEN_TCB;
			break;
		case SGX_OID_PCE_ID:
			r = get_octets(val, e.pce_id, sizeof(e.pce_id));
			bit = SEEN_PCE_ID;
			break;
		case SGX_OID_FMSPC:
			r = get_octets(val, e.fmspc, sizeof(e.fmspc));
			bit = SEEN_FMSPC;
			break;
		case SGX_OID_SGXTYPE:
			r = get_small_int(val, V_ASN1_ENUMERATED, 2, &x);
			e.sgx_type = (int)x;
			bit = SEEN_SGXTYPE;
			break;
		default:
			r = 0; /* platform instance ID, configuration: not needed */
		}
		sk_ASN1_TYPE_pop_free(pair, ASN1_TYPE_free);
		if (r < 0) {
			r = log_error_errno(-EBADMSG, "PCK extension: entry %d has a bad value",
					    arc);
			goto out;
		}
		if (seen & bit) {
			r = log_error_errno(-EBADMSG, "PCK extension: entry %d repeated", arc);
			goto out;
		}
		seen |= bit;
	}
	if (seen != SEEN_ALL) {
		r = log_error_errno(-EBADMSG, "PCK extension: missing entries (have 0x%x)", seen);
		goto out;
	}
	*out = e;
	r = 0;
out:
	ERR_clear_error();
	sk_ASN1_TYPE_pop_free(list, ASN1_TYPE_free);
	ASN1_OBJECT_free(ext_oid);
	return r;
}
