/* libFuzzer harness: the DCAP collateral parsers of tdx-keyd (collateral comes from a PCCS or a
 * cache directory and is parsed before its signatures are checked). The first byte picks the
 * parser: TCB info / QE identity PCS bodies, certificate chains (+ PCK extensions), CRLs, and
 * RFC 3339 times. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "dcap/collateral.h"
#include "dcap/dcap_util.h"
#include "dcap/pck_ext.h"
#include "fuzz-common.h"

static struct tcb_info tcb;
static struct qe_identity qe;

FUZZ_INIT_QUIET("fuzz-collateral")

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *doc, *raw;
	size_t len, raw_len;
	STACK_OF(X509) *certs = NULL;
	X509_CRL *crl = NULL;
	struct pck_ext ext;
	char *s;
	time_t t;

	switch (fuzz_pick(data, size, 5, &doc, &len)) {
	case 0:
		if (json_raw_member(doc, len, "tcbInfo", &raw, &raw_len) == 0)
			tcb_info_parse(raw, raw_len, &tcb, NULL, 0);
		break;
	case 1:
		if (json_raw_member(doc, len, "enclaveIdentity", &raw, &raw_len) == 0)
			qe_identity_parse(raw, raw_len, &qe, NULL, 0);
		break;
	case 2:
		if (dcap_certs_parse(data + 1, len, 8, &certs) == 0) {
			if (sk_X509_num(certs) > 0)
				pck_ext_parse(sk_X509_value(certs, 0), &ext);
			sk_X509_pop_free(certs, X509_free);
		}
		break;
	case 3:
		if (dcap_crl_parse(data + 1, len, &crl) == 0)
			X509_CRL_free(crl);
		break;
	case 4:
		s = malloc(len + 1);
		if (!s)
			return 0;
		memcpy(s, doc, len);
		s[len] = '\0';
		dcap_time_parse_rfc3339(s, &t);
		free(s);
		break;
	}
	return 0;
}
