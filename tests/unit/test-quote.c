/* quote_parse() on every real quote in TDX_TESTDATA (against expected_values.json) and on
 * malformed input: truncation, oversize, wrong versions and certification data types. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit-test.h"
#include <json-c/json.h>

#include "fileio.h"
#include "hexutil.h"
#include "quote.h"

/* Fields of expected_values.json checked by test-dcap-real (PCK certificate and signatures). */
static const char *const verifier_fields[] = {
	"file",
	"encoding",
	"pck_chain_subjects_CN",
	"pck_leaf_serial",
	"pck_leaf_not_before",
	"pck_leaf_not_after",
	"pck_fmspc",
	"pck_pceid",
	"pck_pcesvn",
	"pck_cpusvn",
	"pck_sgx_tcb_comp_svns",
	"pck_sgx_type",
	"pck_ppid",
	"checks",
};

static const char *testdata(void)
{
	const char *d = getenv("TDX_TESTDATA");
	static char path[4096];

	if (!d || !*d)
		return NULL;
	snprintf(path, sizeof(path), "%s/expected_values.json", d);
	if (access(path, R_OK) != 0)
		return NULL;
	return d;
}

static int load_quote(const char *path, uint8_t **buf, size_t *len)
{
	uint8_t *raw = NULL;
	size_t raw_len;
	int r;

	r = file_read_all(path, 1 << 20, &raw, &raw_len);
	if (r < 0)
		return r;
	r = quote_decode_file_bytes(raw, raw_len, buf, len);
	free(raw);
	return r;
}

static void add_hex(struct json_object *o, const char *key, const uint8_t *p, size_t n)
{
	char *s = hex_encode_alloc(p, n);

	assert_non_null(s);
	json_object_object_add(o, key, json_object_new_string(s));
	free(s);
}

static void add_int(struct json_object *o, const char *key, int64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

/* Every field the parser is responsible for, named as in expected_values.json. */
static struct json_object *parsed_fields(const uint8_t *buf, size_t len, const struct tdx_quote *q)
{
	struct json_object *o = json_object_new_object();
	const struct tdx_td_body *b = &q->body;
	char tee[16];

	add_int(o, "file_size", (int64_t)len);
	add_int(o, "quote_version", q->version);
	add_int(o, "att_key_type", q->att_key_type);
	snprintf(tee, sizeof(tee), "0x%x", q->tee_type);
	json_object_object_add(o, "tee_type", json_object_new_string(tee));
	add_int(o, "header_reserved_bytes_8_11_le",
		(int64_t)((uint32_t)buf[8] | (uint32_t)buf[9] << 8 | (uint32_t)buf[10] << 16 |
			  (uint32_t)buf[11] << 24));
	add_hex(o, "qe_vendor_id", q->qe_vendor_id, sizeof(q->qe_vendor_id));
	add_hex(o, "header_user_data", q->user_data, sizeof(q->user_data));
	if (q->version == 5) {
		add_int(o, "v5_body_type", q->body_kind);
		add_int(o, "v5_body_size", q->body_kind == TDX_BODY_TD15 ? 648 : 584);
	} else {
		json_object_object_add(o, "v5_body_type", NULL);
		json_object_object_add(o, "v5_body_size", NULL);
	}
	json_object_object_add(
		o, "body_kind",
		json_object_new_string(q->body_kind == TDX_BODY_TD15 ? "TD15" : "TD10"));
	add_hex(o, "tee_tcb_svn", b->tee_tcb_svn, sizeof(b->tee_tcb_svn));
	add_hex(o, "mrseam", b->mrseam, sizeof(b->mrseam));
	add_hex(o, "mrsignerseam", b->mrsignerseam, sizeof(b->mrsignerseam));
	add_hex(o, "seamattributes", b->seam_attributes, sizeof(b->seam_attributes));
	add_hex(o, "tdattributes", b->td_attributes, sizeof(b->td_attributes));
	add_hex(o, "xfam", b->xfam, sizeof(b->xfam));
	add_hex(o, "mrtd", b->mrtd, sizeof(b->mrtd));
	add_hex(o, "mrconfigid", b->mrconfigid, sizeof(b->mrconfigid));
	add_hex(o, "mrowner", b->mrowner, sizeof(b->mrowner));
	add_hex(o, "mrownerconfig", b->mrownerconfig, sizeof(b->mrownerconfig));
	for (int i = 0; i < 4; i++) {
		char key[8];

		snprintf(key, sizeof(key), "rtmr%d", i);
		add_hex(o, key, b->rtmr[i], TDX_MR_LEN);
	}
	add_hex(o, "reportdata", b->report_data, sizeof(b->report_data));
	if (q->body_kind == TDX_BODY_TD15) {
		add_hex(o, "tee_tcb_svn2", b->tee_tcb_svn2, sizeof(b->tee_tcb_svn2));
		add_hex(o, "mrservicetd", b->mrservicetd, sizeof(b->mrservicetd));
	}
	json_object_object_add(o, "td_attributes_debug_bit",
			       json_object_new_boolean(quote_td_debug(q)));
	add_int(o, "signature_data_len", q->signature_data_len);
	add_int(o, "bytes_after_signature_data", (int64_t)(len - q->total_len));
	add_hex(o, "attestation_public_key_xy", q->attest_key, sizeof(q->attest_key));
	add_int(o, "cert_data_outer_type", q->cert_data_type);
	add_int(o, "cert_data_outer_len", q->signature_data_len - 64 - 64 - 2 - 4);
	add_int(o, "qe_report_isvprodid", q->qe_report.isvprodid);
	add_int(o, "qe_report_isvsvn", q->qe_report.isvsvn);
	add_hex(o, "qe_report_mrsigner", q->qe_report.mrsigner, 32);
	add_hex(o, "qe_report_mrenclave", q->qe_report.mrenclave, 32);
	add_hex(o, "qe_report_attributes", q->qe_report.attributes, 16);
	add_int(o, "qe_report_miscselect", q->qe_report.miscselect);
	add_hex(o, "qe_report_cpusvn", q->qe_report.cpusvn, 16);
	add_hex(o, "qe_report_reportdata", q->qe_report.report_data, 64);
	add_int(o, "qe_auth_data_len", q->qe_auth_len);
	add_hex(o, "qe_auth_data", q->qe_auth_data, q->qe_auth_len);
	add_int(o, "cert_data_inner_type", 5);
	add_int(o, "cert_data_inner_len", (int64_t)q->pck_chain_len);
	return o;
}

static bool is_verifier_field(const char *key)
{
	for (size_t i = 0; i < sizeof(verifier_fields) / sizeof(verifier_fields[0]); i++)
		if (!strcmp(key, verifier_fields[i]))
			return true;
	return false;
}

static void test_expected_values(void **state)
{
	struct json_object *all, *ent, *file;
	const char *dir = testdata();
	char path[4096];
	size_t n, compared = 0;

	(void)state;
	if (!dir) {
		print_message("skipped: TDX_TESTDATA not available\n");
		skip();
	}
	snprintf(path, sizeof(path), "%s/expected_values.json", dir);
	all = json_object_from_file(path);
	assert_non_null(all);
	assert_true(json_object_is_type(all, json_type_array));
	n = json_object_array_length(all);
	assert_int_equal(n, 13);
	for (size_t i = 0; i < n; i++) {
		struct json_object *got, *want;
		struct tdx_quote q;
		uint8_t *buf = NULL;
		size_t len;
		char reason[256];

		ent = json_object_array_get_idx(all, i);
		assert_true(json_object_object_get_ex(ent, "file", &file));
		snprintf(path, sizeof(path), "%s/%s", dir, json_object_get_string(file));
		assert_int_equal(load_quote(path, &buf, &len), 0);
		if (quote_parse(buf, len, &q, reason, sizeof(reason)) != 0)
			fail_msg("%s: %s", path, reason);
		got = parsed_fields(buf, len, &q);
		json_object_object_foreach (ent, key, val) {
			if (is_verifier_field(key))
				continue;
			if (!json_object_object_get_ex(got, key, &want))
				fail_msg("%s: field %s not produced by the parser", path, key);
			if (!json_object_equal(val, want))
				fail_msg("%s: %s = %s, expected %s", path, key,
					 json_object_to_json_string(want),
					 json_object_to_json_string(val));
			compared++;
		}
		json_object_put(got);
		free(buf);
	}
	print_message("compared %zu fields of %zu quotes\n", compared, n);
	json_object_put(all);
}

static int load_first_quote(uint8_t **buf, size_t *len)
{
	const char *dir = testdata();
	char path[4096];

	if (!dir)
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/sets/dcapqvl-v4-uptodate/quote.bin", dir);
	return load_quote(path, buf, len);
}

static void expect_refused(const uint8_t *buf, size_t len, const char *substr)
{
	struct tdx_quote q;
	char reason[256];

	assert_int_equal(quote_parse(buf, len, &q, reason, sizeof(reason)), -EBADMSG);
	if (!strstr(reason, substr))
		fail_msg("reason '%s' does not mention '%s'", reason, substr);
}

static void test_truncated(void **state)
{
	struct tdx_quote q;
	uint8_t *buf = NULL;
	size_t len;

	(void)state;
	if (load_first_quote(&buf, &len) < 0) {
		print_message("skipped: TDX_TESTDATA not available\n");
		skip();
	}
	assert_int_equal(quote_parse(buf, len, &q, NULL, 0), 0);
	/* Every prefix shorter than the real quote is refused without reading past it. */
	for (size_t n = 0; n < q.total_len; n++) {
		uint8_t *copy = malloc(n ? n : 1);

		memcpy(copy, buf, n);
		assert_int_equal(quote_parse(copy, n, &q, NULL, 0), -EBADMSG);
		free(copy);
	}
	expect_refused(buf, 20, "truncated in header");
	expect_refused(buf, 632, "truncated before signature data length");
	expect_refused(buf, 700, "signature data length 4300 exceeds");
	free(buf);
}

static void test_oversized_and_trailing(void **state)
{
	struct tdx_quote q;
	uint8_t *buf = NULL, *big;
	size_t len;

	(void)state;
	if (load_first_quote(&buf, &len) < 0) {
		print_message("skipped: TDX_TESTDATA not available\n");
		skip();
	}
	big = calloc(1, TDX_QUOTE_MAX_LEN + 1);
	memcpy(big, buf, len);
	expect_refused(big, TDX_QUOTE_MAX_LEN + 1, "larger than");
	/* Trailing bytes up to the limit are allowed, but never part of the quote. */
	assert_int_equal(quote_parse(big, TDX_QUOTE_MAX_LEN, &q, NULL, 0), 0);
	assert_int_equal(q.total_len, 4936);
	assert_int_equal(q.signed_len, 632);
	free(big);
	free(buf);
}

/* Writes the little-endian field of width bytes (2 or 4) at off with bad, expects the quote
 * refused with a reason mentioning why, then writes good back. */
static void expect_field_refused(uint8_t *buf, size_t len, size_t off, size_t width, uint32_t bad,
				 uint32_t good, const char *why)
{
	for (size_t i = 0; i < width; i++)
		buf[off + i] = (bad >> (8 * i)) & 0xff;
	expect_refused(buf, len, why);
	for (size_t i = 0; i < width; i++)
		buf[off + i] = (good >> (8 * i)) & 0xff;
}

static void test_bad_fields(void **state)
{
	uint8_t *buf = NULL;
	size_t len;
	/* v4 offsets: signature data at 636; cert data type at 636+128; inner type after
	 * QE report (384), signature (64), auth len (2) and auth data (32). */
	const size_t cert_type = 636 + 128, inner_type = cert_type + 6 + 384 + 64 + 2 + 32;

	(void)state;
	if (load_first_quote(&buf, &len) < 0) {
		print_message("skipped: TDX_TESTDATA not available\n");
		skip();
	}
	expect_field_refused(buf, len, 0, 2, 3, 4, "version 3 unsupported");
	expect_field_refused(buf, len, 2, 2, 3, 2, "attestation key type 3");
	expect_field_refused(buf, len, 4, 4, 0, 0x81, "not TDX");
	expect_field_refused(buf, len, cert_type, 2, 5, 6, "certification data type 5 unsupported");
	expect_field_refused(buf, len, inner_type, 2, 4, 5,
			     "inner certification data type 4 unsupported");
	/* signature_data_len one byte short or long: the nested lengths no longer fit. */
	expect_field_refused(buf, len, 632, 4, 4299, 4300, "truncated in certification data");
	expect_field_refused(buf, len, 632, 4, 4301, 4300,
			     "unexpected bytes after certification data");
	/* Inner chain size larger than its container. */
	expect_field_refused(buf, len, inner_type + 2, 4, 3679, 3678,
			     "truncated in PCK certificate chain");
	/* QE auth data length running past its container. */
	expect_field_refused(buf, len, inner_type - 34, 2, 0xffff, 32,
			     "truncated in QE authentication data");
	struct tdx_quote q;
	assert_int_equal(quote_parse(buf, len, &q, NULL, 0), 0);
	free(buf);
}

static void test_v5_body_descriptor(void **state)
{
	const char *dir = testdata();
	struct tdx_quote q;
	char path[4096];
	uint8_t *buf = NULL;
	size_t len;

	(void)state;
	if (!dir) {
		print_message("skipped: TDX_TESTDATA not available\n");
		skip();
	}
	snprintf(path, sizeof(path), "%s/quotes/trustee_tdx_quote_5_v5.bin", dir);
	assert_int_equal(load_quote(path, &buf, &len), 0);
	assert_int_equal(quote_parse(buf, len, &q, NULL, 0), 0);
	assert_int_equal(q.body_kind, TDX_BODY_TD15);
	assert_int_equal(q.signed_len, 54 + 648);
	expect_field_refused(buf, len, 48, 2, 1, 3, "v5 body type 1");
	expect_field_refused(buf, len, 50, 4, 584, 648, "v5 body type 3 with size 584");
	assert_int_equal(quote_parse(buf, len, &q, NULL, 0), 0);
	free(buf);
}

static void test_decode_file_bytes(void **state)
{
	static const char hex[] = "0400 0200\n8100000a\n";
	static const uint8_t bin[] = {4, 0, 2, 0};
	uint8_t *out = NULL;
	size_t n;

	(void)state;
	assert_int_equal(quote_decode_file_bytes((const uint8_t *)hex, strlen(hex), &out, &n), 0);
	assert_int_equal(n, 8);
	assert_int_equal(out[0], 4);
	assert_int_equal(out[7], 0x0a);
	free(out);
	assert_int_equal(quote_decode_file_bytes(bin, sizeof(bin), &out, &n), 0);
	assert_int_equal(n, 4);
	assert_memory_equal(out, bin, 4);
	free(out);
	assert_int_not_equal(quote_decode_file_bytes(bin, 0, &out, &n), 0);
	/* Hex text must decode to whole bytes, and to at least one. */
	assert_int_not_equal(quote_decode_file_bytes((const uint8_t *)"0400f\n", 6, &out, &n), 0);
	assert_int_not_equal(quote_decode_file_bytes((const uint8_t *)" \n", 2, &out, &n), 0);
}

UNIT_TEST_MAIN(NULL, NULL, cmocka_unit_test(test_expected_values), cmocka_unit_test(test_truncated),
	       cmocka_unit_test(test_oversized_and_trailing), cmocka_unit_test(test_bad_fields),
	       cmocka_unit_test(test_v5_body_descriptor), cmocka_unit_test(test_decode_file_bytes))
