/* tdx-keyd verify-quote: verifies one quote file against collateral files and prints the result
 * as one JSON object, with the replay of the event logs given. Exit 0 verified (and the logs
 * replay), 1 refused, 2 usage error or unreadable input. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "cleanup.h"
#include "cmd_dispatch.h"
#include "commands.h"
#include "dcap/dcap.h"
#include "dcap/dcap_util.h"
#include "eventlog.h"
#include "fileio.h"
#include "hexutil.h"
#include "json_build.h"
#include "log.h"
#include "quote.h"

#define QUOTE_FILE_MAX (2 * TDX_QUOTE_MAX_LEN + 4096) /* hex text of the largest quote */

static const char usage[] =
	"usage: tdx-keyd verify-quote --quote FILE [--collateral FILE] [--tcb-info FILE]\n"
	"         [--qe-identity FILE] [--pck-crl FILE] [--root-crl FILE]\n"
	"         [--tcb-signing-chain FILE] [--root-ca FILE] [--at RFC3339]\n"
	"         [--eventlog CCEL-FILE] [--aa-eventlog AAEL-FILE]\n";

static int add_hex(struct json_object *o, const char *key, const uint8_t *p, size_t n)
{
	_cleanup_free_ char *s = hex_encode_alloc(p, n);

	return s ? json_add_string(o, key, s) : -ENOMEM;
}

#define BODY_FIELD(key, member)                                   \
	{                                                         \
		key, offsetof(struct tdx_td_body, member),        \
			sizeof(((struct tdx_td_body *)0)->member) \
	}

/* The TD's measurements in the report, in this order. */
static const struct {
	const char *key;
	size_t offset, len;
} body_fields[] = {
	BODY_FIELD("tee_tcb_svn", tee_tcb_svn),
	BODY_FIELD("mrseam", mrseam),
	BODY_FIELD("mrtd", mrtd),
	BODY_FIELD("rtmr0", rtmr[0]),
	BODY_FIELD("rtmr1", rtmr[1]),
	BODY_FIELD("rtmr2", rtmr[2]),
	BODY_FIELD("rtmr3", rtmr[3]),
	BODY_FIELD("mrconfigid", mrconfigid),
	BODY_FIELD("mrowner", mrowner),
	BODY_FIELD("mrownerconfig", mrownerconfig),
	BODY_FIELD("report_data", report_data),
	BODY_FIELD("td_attributes", td_attributes),
	BODY_FIELD("xfam", xfam),
};

/* The members of the report; -ENOMEM when one could not be added. */
static int result_fill(struct json_object *o, const struct dcap_result *res,
		       const struct tdx_quote *q, bool parsed, bool test_root)
{
	struct json_object *adv = json_object_new_array();
	int r;

	r = json_add_member(o, "verified", json_object_new_boolean(res->verified));
	if (r == 0 && !res->verified)
		r = json_add_string(o, "reason", res->reason);
	if (r == 0 && test_root)
		r = json_add_member(o, "test_root", json_object_new_boolean(true));
	if (r == 0)
		r = json_add_string(o, "tcb_status",
				    res->has_tcb_status ? tcb_status_name(res->tcb_status) : NULL);
	for (size_t i = 0; adv && r == 0 && i < res->n_advisory_ids; i++)
		if (json_object_array_add(adv, json_object_new_string(res->advisory_ids[i])) < 0)
			r = -ENOMEM;
	if (r < 0) {
		json_object_put(adv);
		return r;
	}
	r = json_add_member(o, "advisory_ids", adv);
	if (r < 0 || !parsed)
		return r;
	r = json_add_member(o, "quote_version", json_object_new_int(q->version));
	for (size_t i = 0; r == 0 && i < sizeof(body_fields) / sizeof(body_fields[0]); i++)
		r = add_hex(o, body_fields[i].key,
			    (const uint8_t *)&q->body + body_fields[i].offset, body_fields[i].len);
	if (r == 0)
		r = json_add_member(o, "debug", json_object_new_boolean(quote_td_debug(q)));
	if (r == 0)
		r = add_hex(o, "fmspc", res->fmspc, sizeof(res->fmspc));
	if (r == 0)
		r = json_add_member(o, "qe_svn", json_object_new_int(res->qe_svn));
	if (r == 0)
		r = json_add_member(o, "pce_svn", json_object_new_int(res->pce_svn));
	return r;
}

/* The report of one verification; NULL when out of memory. */
static struct json_object *result_json(const struct dcap_result *res, const struct tdx_quote *q,
				       bool parsed, bool test_root)
{
	struct json_object *o = json_object_new_object();

	if (o && result_fill(o, res, q, parsed, test_root) < 0) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

/* Adds "eventlog" to out: the replay of the given logs against the quote (verified or not).
 * Returns 0 when they replay, -EACCES/-EBADMSG when they do not or are malformed (reported in
 * out), -EIO when a file cannot be read. */
static int eventlog_json(const char *ccel_path, const char *aael_path, const struct tdx_td_body *b,
			 struct json_object *out)
{
	_cleanup_free_ uint8_t *ccel = NULL, *aael = NULL;
	struct json_object *report = NULL;
	struct eventlog el;
	size_t ccel_len = 0, aael_len = 0;
	char reason[320] = "";
	unsigned mismatch;
	int r;

	if ((ccel_path && file_read_all(ccel_path, CCEL_MAX_LEN, &ccel, &ccel_len) < 0) ||
	    (aael_path && file_read_all(aael_path, AAEL_MAX_LEN, &aael, &aael_len) < 0)) {
		log_error("verify-quote: cannot read the event log");
		return -EIO;
	}
	r = eventlog_parse(&el, ccel, ccel_len, aael, aael_len, reason, sizeof(reason));
	if (r < 0) {
		report = json_object_new_object();
		if (json_add_member(out, "eventlog", report) < 0 ||
		    json_add_string(report, "replay", "malformed") < 0 ||
		    json_add_string(report, "reason", reason) < 0)
			return -ENOMEM;
		return r;
	}
	r = eventlog_report(&el, b, &report);
	if (r == 0)
		r = json_add_member(out, "eventlog", report);
	if (r == 0 && eventlog_replay(&el, b, &mismatch, reason, sizeof(reason)) < 0) {
		log_error("verify-quote: %s", reason);
		r = -EACCES;
	}
	eventlog_done(&el);
	return r;
}

int cmd_verify_quote(int argc, char **argv)
{
	const char *quote_path = NULL, *root_ca = NULL, *ccel_path = NULL, *aael_path = NULL;
	const char *at_text = NULL;
	struct dcap_collateral_files files = {0};
	const struct cmd_option opts[] = {
		CMD_OPT("quote", 0, true, &quote_path),
		CMD_OPT("collateral", 0, false, &files.bundle),
		CMD_OPT("tcb-info", 0, false, &files.tcb_info),
		CMD_OPT("qe-identity", 0, false, &files.qe_identity),
		CMD_OPT("pck-crl", 0, false, &files.pck_crl),
		CMD_OPT("root-crl", 0, false, &files.root_crl),
		CMD_OPT("tcb-signing-chain", 0, false, &files.tcb_signing_chain),
		CMD_OPT("root-ca", 0, false, &root_ca),
		CMD_OPT("at", 0, false, &at_text),
		CMD_OPT("eventlog", 0, false, &ccel_path),
		CMD_OPT("aa-eventlog", 0, false, &aael_path),
	};
	struct dcap_collateral *coll = NULL;
	struct dcap_verifier *verifier = NULL;
	struct dcap_result res = {0};
	struct tdx_quote q = {0};
	struct json_object *out = NULL;
	_cleanup_free_ uint8_t *raw = NULL, *quote = NULL;
	size_t raw_len, quote_len;
	time_t at = time(NULL);
	bool parsed = false;
	int r, ret = CMD_EXIT_USAGE;

	r = cmd_options_parse(argc, argv, usage, opts, ARRAY_SIZE(opts), NULL, 0);
	if (r >= 0)
		return r;
	if (at_text && dcap_time_parse_rfc3339(at_text, &at) < 0) {
		log_error("verify-quote: --at '%s' is not an RFC 3339 time", at_text);
		return CMD_EXIT_USAGE;
	}

	r = file_read_all(quote_path, QUOTE_FILE_MAX, &raw, &raw_len);
	if (r < 0) {
		log_error_errno(r, "verify-quote: cannot read %s", quote_path);
		return CMD_EXIT_USAGE;
	}
	r = quote_decode_file_bytes(raw, raw_len, &quote, &quote_len);
	if (r < 0) {
		log_error_errno(r, "verify-quote: %s is neither a binary quote nor hex text",
				quote_path);
		return CMD_EXIT_USAGE;
	}
	r = dcap_verifier_new(root_ca, &verifier);
	if (r < 0)
		return CMD_EXIT_USAGE;

	if (files.bundle || files.tcb_info || files.qe_identity || files.pck_crl ||
	    files.root_crl || files.tcb_signing_chain) {
		char why[200];

		r = dcap_collateral_load(&files, &coll, why, sizeof(why));
		if (r < 0 && r != -EBADMSG && r != -EKEYREJECTED) {
			ret = CMD_EXIT_USAGE; /* unreadable or incomplete */
			goto out;
		}
		if (r < 0) {
			/* Refused collateral: still report what the quote says. */
			parsed = quote_parse(quote, quote_len, &q, NULL, 0) == 0;
			snprintf(res.reason, sizeof(res.reason), "collateral refused: %s", why);
			ret = CMD_EXIT_FAILED;
			goto print;
		}
	}
	parsed = quote_parse(quote, quote_len, &q, res.reason, sizeof(res.reason)) == 0;
	ret = parsed && dcap_verify(verifier, coll, &q, NULL, at, &res) == 0 ? CMD_EXIT_OK
									     : CMD_EXIT_FAILED;
print:
	/* Platform facts not established by the verification are read (unverified) for the
	 * report; `verified` stays false in that case. */
	if (parsed && !res.verified)
		(void)dcap_quote_pck_info(&q, &res);
	out = result_json(&res, &q, parsed, dcap_verifier_is_test_root(verifier));
	if (!out) {
		log_error("verify-quote: out of memory");
		ret = CMD_EXIT_USAGE;
		goto out;
	}
	if (parsed && (ccel_path || aael_path)) {
		r = eventlog_json(ccel_path, aael_path, &q.body, out);
		if (r == -EIO) {
			ret = CMD_EXIT_USAGE;
			json_object_put(out);
			goto out;
		}
		if (r < 0)
			ret = CMD_EXIT_FAILED;
	}
	printf("%s\n", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PRETTY |
								   JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(out);
out:
	dcap_collateral_free(coll);
	dcap_verifier_free(verifier);
	return ret;
}
