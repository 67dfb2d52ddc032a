/* libFuzzer harness: DCAP verification of an untrusted quote (quote_parse, then dcap_verify: the
 * PCK chain carried in the quote, QE report, signatures, TCB evaluation) against fixed test
 * collateral. The test hierarchy comes from $FUZZ_DCAP_CA (made by make fuzz-seeds, so that the
 * seed quotes chain to it) or, without it, is generated at start-up. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dcap/dcap.h"
#include "quotesim.h"
#include "fuzz-common.h"

/* Configuration: set once before fuzzing starts. */
static struct dcap_verifier *verifier;
static struct dcap_collateral *collateral;
static time_t verify_time;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *ca = getenv("FUZZ_DCAP_CA");
	char tmp[64], p[6][160], root[160];
	struct dcap_collateral_files files;
	struct quotesim_ca_opts o;

	(void)argc;
	(void)argv;
	fuzz_log_quiet("fuzz-dcap-verify");
	if (!ca || !*ca) {
		snprintf(tmp, sizeof(tmp), "/tmp/fuzz-dcap-XXXXXX");
		if (!mkdtemp(tmp))
			abort();
		quotesim_ca_opts_init(&o);
		if (quotesim_ca_create(tmp, &o) < 0)
			abort();
		ca = tmp; /* left behind on purpose: a few KiB, for reproducing */
	}
	snprintf(p[0], sizeof(p[0]), "%s/tcb_info.json", ca);
	snprintf(p[1], sizeof(p[1]), "%s/qe_identity.json", ca);
	snprintf(p[2], sizeof(p[2]), "%s/pck_crl.der", ca);
	snprintf(p[3], sizeof(p[3]), "%s/root_crl.der", ca);
	snprintf(p[4], sizeof(p[4]), "%s/tcb_signing_chain.pem", ca);
	snprintf(p[5], sizeof(p[5]), "%s/pck_crl_chain.pem", ca);
	snprintf(root, sizeof(root), "%s/root_ca.pem", ca);
	files = (struct dcap_collateral_files){.tcb_info = p[0],
					       .qe_identity = p[1],
					       .pck_crl = p[2],
					       .root_crl = p[3],
					       .tcb_signing_chain = p[4],
					       .pck_crl_chain = p[5]};
	if (dcap_collateral_load(&files, &collateral, NULL, 0) < 0 ||
	    dcap_verifier_new(root, &verifier) < 0)
		abort();
	verify_time = time(NULL);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dcap_result res;
	struct tdx_quote q;

	memset(&res, 0, sizeof(res));
	if (quote_parse(data, size, &q, res.reason, sizeof(res.reason)) < 0) {
		if (!res.reason[0])
			__builtin_trap(); /* a refusal always names its reason */
		return 0;
	}
	if (dcap_verify(verifier, collateral, &q, NULL, verify_time, &res) == 0) {
		if (!res.verified || q.total_len > size)
			__builtin_trap();
	} else if (res.verified || !res.reason[0]) {
		__builtin_trap(); /* a refusal always names its reason */
	}
	return 0;
}
