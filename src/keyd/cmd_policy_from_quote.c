/* tdx-keyd policy-from-quote: prints a policy accepting exactly the TD of a reference quote;
 * with --eventlog/--aa-eventlog its RTMR1-3 are given per event. With collateral the quote is
 * verified first; without, stderr says plainly that it was not. Exit 0 printed, 1 refused,
 * 2 usage. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "commands.h"
#include "dcap/dcap.h"
#include "eventlog.h"
#include "fileio.h"
#include "log.h"
#include "policy.h"
#include "quote.h"

/* Verifies the quote against the given collateral: 0 verified, 1 refused, 2 unreadable. */
static int verify_reference(const struct dcap_collateral_files *files, const char *root_ca,
			    const char *path, const struct tdx_quote *q)
{
	struct dcap_collateral *coll = NULL;
	struct dcap_verifier *verifier = NULL;
	struct dcap_result res = {0};
	char why[200];
	int r, ret = 1;

	r = dcap_verifier_new(root_ca, &verifier);
	if (r < 0)
		return 2;
	r = dcap_collateral_load(files, &coll, why, sizeof(why));
	if (r < 0) {
		log_error("%s: collateral refused: %s", path, why);
		ret = r == -EBADMSG || r == -EKEYREJECTED ? 1 : 2;
		goto out;
	}
	r = dcap_verify(verifier, coll, q, time(NULL), &res);
	if (r < 0) {
		log_error("%s: quote NOT verified: %s", path, res.reason);
		goto out;
	}
	log_info("%s: quote verified against the collateral (TCB status %s)", path,
		 tcb_status_name(res.tcb_status));
	ret = 0;
out:
	dcap_collateral_free(coll);
	dcap_verifier_free(verifier);
	return ret;
}

int cmd_policy_from_quote(int argc, char **argv)
{
	static const struct option opts[] = {{"quote", required_argument, NULL, 'q'},
					     {"id", required_argument, NULL, 'i'},
					     {"resource", required_argument, NULL, 'r'},
					     {"eventlog", required_argument, NULL, 'l'},
					     {"aa-eventlog", required_argument, NULL, 'L'},
					     {"collateral", required_argument, NULL, 'c'},
					     {"root-ca", required_argument, NULL, 'R'},
					     {"help", no_argument, NULL, 'h'},
					     {}};
	static const char usage[] =
		"usage: tdx-keyd policy-from-quote --quote FILE [--id ID] [--resource "
		"REPO/TYPE/TAG]\n"
		"         [--collateral FILE [--root-ca FILE]] [--eventlog CCEL-FILE]\n"
		"         [--aa-eventlog AAEL-FILE]\n";
	const char *quote_path = NULL, *id = "image", *resource = "default/disk/root";
	const char *ccel_path = NULL, *aael_path = NULL, *root_ca = NULL;
	struct dcap_collateral_files files = {0};
	_cleanup_free_ uint8_t *raw = NULL, *quote = NULL, *ccel = NULL, *aael = NULL;
	_cleanup_free_ char *doc = NULL;
	size_t raw_len, quote_len, ccel_len = 0, aael_len = 0;
	struct eventlog el = {0};
	struct tdx_quote q;
	char reason[320];
	unsigned mismatch;
	int c, r, ret = 1;

	while ((c = getopt_long(argc, argv, "q:i:r:h", opts, NULL)) >= 0) {
		switch (c) {
		case 'q':
			quote_path = optarg;
			break;
		case 'i':
			id = optarg;
			break;
		case 'r':
			resource = optarg;
			break;
		case 'l':
			ccel_path = optarg;
			break;
		case 'L':
			aael_path = optarg;
			break;
		case 'c':
			files.bundle = optarg;
			break;
		case 'R':
			root_ca = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return 2;
		}
	}
	if (!quote_path || optind != argc) {
		fputs(usage, stderr);
		return 2;
	}
	if (!policy_resource_path_valid(resource)) {
		log_error("--resource '%s' is not repo/type/tag", resource);
		return 2;
	}
	r = file_read_all(quote_path, 4 * TDX_QUOTE_MAX_LEN, &raw, &raw_len);
	if (r < 0)
		return 1;
	r = quote_decode_file_bytes(raw, raw_len, &quote, &quote_len);
	if (r < 0) {
		log_error_errno(r, "%s: neither a binary nor a hex quote", quote_path);
		return 1;
	}
	r = quote_parse(quote, quote_len, &q, reason, sizeof(reason));
	if (r < 0) {
		log_error("%s: %s", quote_path, reason);
		return 1;
	}
	if (quote_td_debug(&q)) {
		log_error("%s: the TD has DEBUG set; tdx-keyd never releases to a debug TD",
			  quote_path);
		return 1;
	}
	if (files.bundle) {
		r = verify_reference(&files, root_ca, quote_path, &q);
		if (r != 0)
			return r;
	} else {
		log_warn("%s: quote NOT verified (no --collateral given): its measurements are "
			 "copied as they are; check that it comes from the image you mean",
			 quote_path);
	}
	if ((ccel_path && file_read_all(ccel_path, CCEL_MAX_LEN, &ccel, &ccel_len) < 0) ||
	    (aael_path && file_read_all(aael_path, AAEL_MAX_LEN, &aael, &aael_len) < 0))
		return 1;
	r = eventlog_parse(&el, ccel, ccel_len, aael, aael_len, reason, sizeof(reason));
	if (r < 0) {
		log_error("%s", reason);
		return 1;
	}
	/* Event-level values are only as good as the log: it must reproduce the quote. */
	if (eventlog_replay(&el, &q.body, &mismatch, reason, sizeof(reason)) < 0) {
		log_error("%s", reason);
		goto out;
	}
	r = policy_from_evidence(&q.body, el.has_ccel ? &el.ccel : NULL, el.aael, id, resource,
				 &doc);
	if (r < 0)
		goto out;
	printf("%s\n", doc);
	ret = 0;
out:
	eventlog_done(&el);
	return ret;
}
