/* tdx-keyd policy-from-quote: prints a policy accepting exactly the TD of a reference quote;
 * with --eventlog/--aa-eventlog its RTMR1-3 are given per event. With collateral the quote is
 * verified first; without, stderr says plainly that it was not. Exit 0 printed, 1 refused,
 * 2 usage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "cmd_dispatch.h"
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
	int r, ret = CMD_EXIT_FAILED;

	r = dcap_verifier_new(root_ca, &verifier);
	if (r < 0)
		return CMD_EXIT_USAGE;
	r = dcap_collateral_load(files, &coll, why, sizeof(why));
	if (r < 0) {
		log_error("%s: collateral refused: %s", path, why);
		ret = r == -EBADMSG || r == -EKEYREJECTED ? CMD_EXIT_FAILED : CMD_EXIT_USAGE;
		goto out;
	}
	r = dcap_verify(verifier, coll, q, NULL, time(NULL), &res);
	if (r < 0) {
		log_error("%s: quote NOT verified: %s", path, res.reason);
		goto out;
	}
	log_info("%s: quote verified against the collateral (TCB status %s)", path,
		 tcb_status_name(res.tcb_status));
	ret = CMD_EXIT_OK;
out:
	dcap_collateral_free(coll);
	dcap_verifier_free(verifier);
	return ret;
}

int cmd_policy_from_quote(int argc, char **argv)
{
	static const char usage[] =
		"usage: tdx-keyd policy-from-quote --quote FILE [--id ID] [--resource "
		"REPO/TYPE/TAG]\n"
		"         [--collateral FILE [--root-ca FILE]] [--eventlog CCEL-FILE]\n"
		"         [--aa-eventlog AAEL-FILE]\n";
	const char *quote_path = NULL, *id = "image", *resource = "default/disk/root";
	const char *ccel_path = NULL, *aael_path = NULL, *root_ca = NULL;
	struct dcap_collateral_files files = {0};
	const struct cmd_option opts[] = {
		CMD_OPT("quote", 'q', true, &quote_path),
		CMD_OPT("id", 'i', false, &id),
		CMD_OPT("resource", 'r', false, &resource),
		CMD_OPT("eventlog", 0, false, &ccel_path),
		CMD_OPT("aa-eventlog", 0, false, &aael_path),
		CMD_OPT("collateral", 0, false, &files.bundle),
		CMD_OPT("root-ca", 0, false, &root_ca),
	};
	_cleanup_free_ uint8_t *raw = NULL, *quote = NULL, *ccel = NULL, *aael = NULL;
	_cleanup_free_ char *doc = NULL;
	size_t raw_len, quote_len, ccel_len = 0, aael_len = 0;
	struct eventlog el = {0};
	struct tdx_quote q;
	char reason[320];
	unsigned mismatch;
	int r, ret = CMD_EXIT_FAILED;

	r = cmd_options_parse(argc, argv, usage, opts, ARRAY_SIZE(opts), NULL, 0);
	if (r >= 0)
		return r;
	if (!policy_resource_path_valid(resource)) {
		log_error("--resource '%s' is not repo/type/tag", resource);
		return CMD_EXIT_USAGE;
	}
	r = file_read_all(quote_path, 4 * TDX_QUOTE_MAX_LEN, &raw, &raw_len);
	if (r < 0)
		return CMD_EXIT_FAILED;
	r = quote_decode_file_bytes(raw, raw_len, &quote, &quote_len);
	if (r < 0) {
		log_error_errno(r, "%s: neither a binary nor a hex quote", quote_path);
		return CMD_EXIT_FAILED;
	}
	r = quote_parse(quote, quote_len, &q, reason, sizeof(reason));
	if (r < 0) {
		log_error("%s: %s", quote_path, reason);
		return CMD_EXIT_FAILED;
	}
	if (quote_td_debug(&q)) {
		log_error("%s: the TD has DEBUG set; tdx-keyd never releases to a debug TD",
			  quote_path);
		return CMD_EXIT_FAILED;
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
		return CMD_EXIT_FAILED;
	r = eventlog_parse(&el, ccel, ccel_len, aael, aael_len, reason, sizeof(reason));
	if (r < 0) {
		log_error("%s", reason);
		return CMD_EXIT_FAILED;
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
	ret = CMD_EXIT_OK;
out:
	eventlog_done(&el);
	return ret;
}
