/* The Intel SGX extension (OID 1.2.840.113741.1.13.1) of a PCK certificate: FMSPC, PCE-ID, TCB. */
#pragma once

#include <stdint.h>

#include <openssl/x509.h>

struct pck_ext {
	uint8_t ppid[16];
	uint8_t sgx_tcb_svn[16]; /* SGX TCB component SVNs 1..16 */
	uint16_t pce_svn;
	uint8_t cpusvn[16];
	uint8_t pce_id[2];
	uint8_t fmspc[6];
	int sgx_type; /* 0 Standard, 1 Scalable, 2 Scalable with integrity */
};

/* Reads the extension of a PCK leaf certificate. Every field above is required. Returns 0 or
 * -EBADMSG with the reason logged. */
int pck_ext_parse(X509 *leaf, struct pck_ext *out);
