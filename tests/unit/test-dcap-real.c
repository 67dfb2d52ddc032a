/* The DCAP verifier on real Intel-signed quotes and collateral from TDX_TESTDATA: PCK fields and
 * signature checks against expected_values.json, every complete set inside and outside its
 * window, byte flips with their specific reasons, collateral tampering, the chain cache and
 * concurrent use. Skips plainly when the data is absent. */
#define _GNU_SOURCE /* nftw (dcap-test.h) */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
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
#include <openssl/bio.h>
#include <openssl/ecdsa.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "dcap/collateral.h"
#include "dcap/dcap.h"
#include "dcap-test.h"
#include "dcap/dcap_util.h"
#include "fileio.h"
#include "hexutil.h"
#include "json_strict.h"
#include "dcap/intel_root.h"
#include "dcap/pck_ext.h"
#include "quote.h"
#include "quotesim.h"
#include "dcap/tcb_eval.h"

static const char *tdx_dir(void)
{
	static char probe[4096];
	const char *d = getenv("TDX_TESTDATA");

	if (!d || !*d)
		return NULL;
	snprintf(probe, sizeof(probe), "%s/expected_values.json", d);
	return access(probe, R_OK) == 0 ? d : NULL;
}

#define SKIP_WITHOUT_DATA()                                                     \
	do {                                                                    \
		if (!tdx_dir()) {                                               \
			print_message("skipped: TDX_TESTDATA not available\n"); \
			skip();                                                 \
		}                                                               \
	} while (0)

static char *data_path(const char *rel)
{
	static char path[8][4096];
	static int next;
	char *p = path[next++ % 8];

	snprintf(p, 4096, "%s/%s", tdx_dir(), rel);
	return p;
}

static void load_quote(const char *rel, uint8_t **buf, size_t *len)
{
	_cleanup_free_ uint8_t *raw = NULL;
	size_t raw_len;

	assert_int_equal(file_read_all(data_path(rel), 1 << 20, &raw, &raw_len), 0);
	assert_int_equal(quote_decode_file_bytes(raw, raw_len, buf, len), 0);
}

static time_t at(const char *s)
{
	time_t t;

	assert_int_equal(dcap_time_parse_rfc3339(s, &t), 0);
	return t;
}

/* ---- the compiled-in root ----------------------------------------------------------------- */

static void test_intel_root_pinned(void **state)
{
	static const char want[] =
		"44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3";
	uint8_t digest[32];
	char hex[65];

	(void)state;
	assert_int_equal(
		dcap_sha256(intel_sgx_root_ca_der, intel_sgx_root_ca_der_len, NULL, 0, digest), 0);
	hex_encode(digest, sizeof(digest), hex);
	assert_string_equal(hex, want);
}

/* ---- PCK fields and signature checks of every quote -------------------------------------- */

static void expect_hex_field(struct json_object *e, const char *key, const uint8_t *p, size_t n)
{
	struct json_object *v;
	char *hex = hex_encode_alloc(p, n);

	assert_true(json_object_object_get_ex(e, key, &v));
	if (strcmp(json_object_get_string(v), hex) != 0)
		fail_msg("%s = %s, expected %s", key, hex, json_object_get_string(v));
	free(hex);
}

static int64_t int_field(struct json_object *e, const char *key)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(e, key, &v));
	return json_object_get_int64(v);
}

static void time_field(struct json_object *e, const char *key, const ASN1_TIME *t)
{
	struct json_object *v;
	char want[40], got[32];
	time_t tt;

	assert_true(json_object_object_get_ex(e, key, &v));
	assert_int_equal(dcap_asn1_time_to_time(t, &tt), 0);
	dcap_time_format(tt, got, sizeof(got));
	/* expected form: 2025-02-06T23:25:51+00:00 */
	snprintf(want, sizeof(want), "%.19sZ", json_object_get_string(v));
	assert_string_equal(got, want);
}

static void check_pck_fields(struct json_object *e, const struct tdx_quote *q)
{
	STACK_OF(X509) *chain = NULL;
	struct json_object *v, *checks;
	struct pck_ext ext;
	EVP_PKEY *att = NULL;
	uint8_t binding[32];
	X509 *root;
	const unsigned char *p = intel_sgx_root_ca_der;
	char cn[128], serial[80];
	ASN1_INTEGER *sn;
	BIGNUM *bn;
	char *bnhex;

	assert_int_equal(dcap_certs_parse(q->pck_chain_pem, q->pck_chain_len, 3, &chain), 0);
	assert_int_equal(sk_X509_num(chain), 3);
	assert_true(json_object_object_get_ex(e, "pck_chain_subjects_CN", &v));
	for (int i = 0; i < 3; i++) {
		dcap_cert_cn(sk_X509_value(chain, i), cn, sizeof(cn));
		assert_string_equal(cn, json_object_get_string(json_object_array_get_idx(v, i)));
	}
	assert_int_equal(pck_ext_parse(sk_X509_value(chain, 0), &ext), 0);
	expect_hex_field(e, "pck_fmspc", ext.fmspc, 6);
	expect_hex_field(e, "pck_pceid", ext.pce_id, 2);
	expect_hex_field(e, "pck_cpusvn", ext.cpusvn, 16);
	expect_hex_field(e, "pck_ppid", ext.ppid, 16);
	assert_int_equal(int_field(e, "pck_pcesvn"), ext.pce_svn);
	assert_int_equal(int_field(e, "pck_sgx_type"), ext.sgx_type);
	assert_true(json_object_object_get_ex(e, "pck_sgx_tcb_comp_svns", &v));
	assert_int_equal(json_object_array_length(v), 16);
	for (int i = 0; i < 16; i++)
		assert_int_equal(json_object_get_int(json_object_array_get_idx(v, i)),
				 ext.sgx_tcb_svn[i]);
	sn = X509_get_serialNumber(sk_X509_value(chain, 0));
	bn = ASN1_INTEGER_to_BN(sn, NULL);
	bnhex = BN_bn2hex(bn);
	for (char *c = bnhex; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	snprintf(serial, sizeof(serial), "0x%s", bnhex);
	assert_true(json_object_object_get_ex(e, "pck_leaf_serial", &v));
	assert_string_equal(serial, json_object_get_string(v));
	OPENSSL_free(bnhex);
	BN_free(bn);
	time_field(e, "pck_leaf_not_before", X509_get0_notBefore(sk_X509_value(chain, 0)));
	time_field(e, "pck_leaf_not_after", X509_get0_notAfter(sk_X509_value(chain, 0)));

	/* "checks": every one is true for every quote here. */
	assert_true(json_object_object_get_ex(e, "checks", &checks));
	root = d2i_X509(NULL, &p, (long)intel_sgx_root_ca_der_len);
	assert_non_null(root);
	assert_int_equal(X509_cmp(root, sk_X509_value(chain, 2)), 0);
	assert_int_equal(
		X509_verify(sk_X509_value(chain, 0), X509_get0_pubkey(sk_X509_value(chain, 1))), 1);
	assert_int_equal(X509_verify(sk_X509_value(chain, 1), X509_get0_pubkey(root)), 1);
	assert_int_equal(X509_verify(root, X509_get0_pubkey(root)), 1);
	assert_int_equal(dcap_ecdsa_verify(X509_get0_pubkey(sk_X509_value(chain, 0)),
					   q->qe_report_sig, q->qe_report_raw, 384),
			 0);
	assert_int_equal(dcap_sha256(q->attest_key, 64, q->qe_auth_data, q->qe_auth_len, binding),
			 0);
	assert_memory_equal(binding, q->qe_report.report_data, 32);
	assert_int_equal(dcap_p256_key_from_xy(q->attest_key, &att), 0);
	assert_int_equal(dcap_ecdsa_verify(att, q->signature, q->signed_data, q->signed_len), 0);
	json_object_object_foreach (checks, key, val) {
		if (json_object_is_type(val, json_type_boolean))
			assert_true(json_object_get_boolean(val));
		(void)key;
	}
	EVP_PKEY_free(att);
	X509_free(root);
	sk_X509_pop_free(chain, X509_free);
}

static void test_pck_fields_and_signatures(void **state)
{
	_cleanup_(json_object_putp) struct json_object *all = NULL;
	size_t n;

	(void)state;
	SKIP_WITHOUT_DATA();
	all = json_object_from_file(data_path("expected_values.json"));
	assert_non_null(all);
	n = json_object_array_length(all);
	assert_int_equal(n, 13);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(all, i), *file, *dbg;
		struct tdx_quote q;
		uint8_t *buf = NULL;
		size_t len;

		assert_true(json_object_object_get_ex(e, "file", &file));
		load_quote(json_object_get_string(file), &buf, &len);
		assert_int_equal(quote_parse(buf, len, &q, NULL, 0), 0);
		check_pck_fields(e, &q);
		assert_true(json_object_object_get_ex(e, "td_attributes_debug_bit", &dbg));
		assert_int_equal(quote_td_debug(&q), json_object_get_boolean(dbg));
		free(buf);
	}
}

static void test_debug_td(void **state)
{
	struct tdx_quote q;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;

	(void)state;
	SKIP_WITHOUT_DATA();
	load_quote("quotes/trustee_tdx_quote_4_debugtd.bin", &buf, &len);
	assert_int_equal(quote_parse(buf, len, &q, NULL, 0), 0);
	assert_true(quote_td_debug(&q));
	assert_int_equal(quote_td_attributes(&q) & TDX_ATTR_DEBUG, TDX_ATTR_DEBUG);
}

/* ---- complete sets ------------------------------------------------------------------------ */

struct set {
	const char *name;
	const char *quote;
	struct dcap_collateral_files files;
	const char *inside, *before, *after;
	int result; /* dcap_verify() inside the window */
	const char *status;
};

static const struct set sets[] = {
	{"dcapqvl-v4-uptodate",
	 "sets/dcapqvl-v4-uptodate/quote.bin",
	 {.bundle = "sets/dcapqvl-v4-uptodate/collateral.json"},
	 "2025-07-19T10:00:34Z",
	 "2025-06-19T10:32:26Z",
	 "2025-07-19T10:00:35Z",
	 0,
	 "UpToDate"},
	{"dcapqvl-near-v4-uptodate",
	 "sets/dcapqvl-near-v4-uptodate/quote.hex",
	 {.bundle = "sets/dcapqvl-near-v4-uptodate/collateral.json"},
	 "2025-09-02T07:41:59Z",
	 "2025-09-02T07:41:58Z",
	 "2025-10-02T07:03:51Z",
	 0,
	 "UpToDate"},
	{"dcapqvl-v5-tcb-notsupported",
	 "sets/dcapqvl-v5-tcb-notsupported/quote.bin",
	 {.bundle = "sets/dcapqvl-v5-tcb-notsupported/collateral.json"},
	 "2026-03-01T00:00:00Z",
	 "2026-02-18T10:58:50Z",
	 "2026-03-20T10:41:15Z",
	 -EACCES,
	 "NotSupported"},
	{"gotdx-v4-2023",
	 "sets/gotdx-v4-2023/quote.bin",
	 {.tcb_info = "sets/gotdx-v4-2023/tcb_info_response.json",
	  .qe_identity = "sets/gotdx-v4-2023/qe_identity_response.json",
	  .pck_crl = "sets/gotdx-v4-2023/pck_crl_platform.der",
	  .root_crl = "sets/gotdx-v4-2023/root_ca_crl.der",
	  .tcb_signing_chain = "sets/gotdx-v4-2023/tcb_info_issuer_chain.pem"},
	 "2023-07-01T01:00:00Z",
	 "2023-06-18T08:42:57Z",
	 "2023-07-08T07:24:59Z",
	 -EACCES,
	 "NotSupported"},
	{"gotdx-v5",
	 "sets/gotdx-v5/quote.bin",
	 {.bundle = "sets/dcapqvl-v5-tcb-notsupported/collateral.json",
	  .tcb_info = "sets/gotdx-v5/tcb_info_response_v5.json"},
	 "2026-02-20T00:00:00Z",
	 "2026-02-18T10:42:14Z",
	 "2026-03-03T14:49:26Z",
	 0,
	 "UpToDate"},
};

static struct dcap_collateral *load_set(const struct set *s)
{
	struct dcap_collateral_files f = {0};
	struct dcap_collateral *c = NULL;
	char reason[256];

	f.bundle = s->files.bundle ? data_path(s->files.bundle) : NULL;
	f.tcb_info = s->files.tcb_info ? data_path(s->files.tcb_info) : NULL;
	f.qe_identity = s->files.qe_identity ? data_path(s->files.qe_identity) : NULL;
	f.pck_crl = s->files.pck_crl ? data_path(s->files.pck_crl) : NULL;
	f.root_crl = s->files.root_crl ? data_path(s->files.root_crl) : NULL;
	f.tcb_signing_chain =
		s->files.tcb_signing_chain ? data_path(s->files.tcb_signing_chain) : NULL;
	if (dcap_collateral_load(&f, &c, reason, sizeof(reason)) != 0)
		fail_msg("%s: collateral refused: %s", s->name, reason);
	return c;
}

static void test_sets_inside_and_outside(void **state)
{
	_cleanup_(dcap_verifier_freep) struct dcap_verifier *v = NULL;

	(void)state;
	SKIP_WITHOUT_DATA();
	assert_int_equal(dcap_verifier_new(NULL, &v), 0);
	assert_false(dcap_verifier_is_test_root(v));
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		const struct set *s = &sets[i];
		struct dcap_collateral *c = load_set(s);
		struct dcap_result res;
		struct tdx_quote q;
		uint8_t *buf = NULL;
		size_t len;
		int r;

		load_quote(s->quote, &buf, &len);
		r = dcap_test_verify(v, c, buf, len, at(s->inside), &q, &res);
		if (r != s->result)
			fail_msg("%s: dcap_verify = %d (%s), expected %d", s->name, r, res.reason,
				 s->result);
		assert_string_equal(tcb_status_name(res.tcb_status), s->status);
		assert_int_equal(res.verified, s->result == 0);
		assert_int_equal(res.n_advisory_ids, 0);
		if (s->result != 0)
			assert_non_null(strstr(res.reason, "TCB not supported"));
		/* Twice: the second run uses the cached chain and must agree. */
		assert_int_equal(dcap_test_verify(v, c, buf, len, at(s->inside), &q, &res),
				 s->result);
		/* Outside the window every set is refused as expired, cached or not. */
		r = dcap_test_verify(v, c, buf, len, at(s->before), &q, &res);
		if (r != -EKEYEXPIRED)
			fail_msg("%s before: %d (%s)", s->name, r, res.reason);
		assert_false(res.verified);
		r = dcap_test_verify(v, c, buf, len, at(s->after), &q, &res);
		if (r != -EKEYEXPIRED)
			fail_msg("%s after: %d (%s)", s->name, r, res.reason);
		assert_false(res.verified);
		print_message("%s: %s inside, refused outside (%s)\n", s->name, s->status,
			      res.reason);
		free(buf);
		dcap_collateral_free(c);
	}
}

static void test_result_fields(void **state)
{
	_cleanup_(dcap_verifier_freep) struct dcap_verifier *v = NULL;
	_cleanup_(dcap_collateral_freep) struct dcap_collateral *c = NULL;
	struct dcap_result res;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	time_t nb, na;
	static const uint8_t fmspc[6] = {0xb0, 0xc0, 0x6f, 0, 0, 0};

	(void)state;
	SKIP_WITHOUT_DATA();
	assert_int_equal(dcap_verifier_new(NULL, &v), 0);
	c = load_set(&sets[0]);
	load_quote(sets[0].quote, &buf, &len);
	assert_int_equal(dcap_test_verify(v, c, buf, len, at(sets[0].inside), NULL, &res), 0);
	assert_true(res.verified);
	assert_string_equal(res.reason, "");
	assert_memory_equal(res.fmspc, fmspc, 6);
	assert_int_equal(res.pce_svn, 11);
	assert_int_equal(res.qe_svn, 6);
	assert_int_equal(res.tcb_eval_number, 17);
	dcap_collateral_window(c, &nb, &na);
	assert_int_equal(nb, at("2025-06-19T10:32:27Z"));
	assert_int_equal(na, at("2025-07-19T10:00:34Z"));
	/* Without collateral: parsed, not verified, and it says why. */
	assert_int_not_equal(dcap_test_verify(v, NULL, buf, len, at(sets[0].inside), NULL, &res),
			     0);
	assert_false(res.verified);
	assert_non_null(strstr(res.reason, "collateral missing"));
	assert_memory_equal(res.fmspc, fmspc, 6);
}

/* ---- byte flips ----------------------------------------------------------------------------- */

struct flip {
	const char *what;
	size_t offset;
	int result;
	const char *reason;
};

static void test_byte_flips(void **state)
{
	/* v4 layout: header 0..47, body 48..631, sig len 632, signature 636, attestation key 700,
	 * cert type 764, cert len 766, QE report 770, QE report sig 1154, auth len 1218, auth
	 * data 1220, inner type 1252, inner len 1254, PCK chain 1258. */
	static const struct flip flips[] = {
		{"header user data", 30, -EKEYREJECTED, "quote signature"},
		{"header reserved", 9, -EKEYREJECTED, "quote signature"},
		{"QE vendor ID", 12, -EBADMSG, "vendor"},
		{"body TEE_TCB_SVN", 48, -EKEYREJECTED, "quote signature"},
		{"body MRTD", 48 + 136 + 5, -EKEYREJECTED, "quote signature"},
		{"body REPORTDATA", 631, -EKEYREJECTED, "quote signature"},
		{"quote signature r", 640, -EKEYREJECTED, "quote signature"},
		{"quote signature s", 699, -EKEYREJECTED, "quote signature"},
		{"attestation key", 710, -EKEYREJECTED, "bind the attestation key"},
		{"QE report CPUSVN", 770, -EKEYREJECTED, "QE report signature"},
		{"QE report REPORTDATA", 770 + 320, -EKEYREJECTED, "QE report signature"},
		{"QE report signature", 1160, -EKEYREJECTED, "QE report signature"},
		{"QE auth data", 1225, -EKEYREJECTED, "bind the attestation key"},
		{"cert data type", 764, -EBADMSG, "certification data type"},
		{"inner cert data type", 1252, -EBADMSG, "inner certification data type"},
		{"signature data length", 633, -EBADMSG, "signature data length"},
		{"PCK leaf PEM body", 1258 + 200, -EBADMSG, "PCK"},
		{"version 4 -> 5", 0, -EBADMSG, "v5 body type"},
		{"version high byte", 1, -EBADMSG, "version 260 unsupported"},
		{"TEE type", 4, -EBADMSG, "not TDX"},
		{"attestation key type", 2, -EBADMSG, "attestation key type 3"},
	};
	_cleanup_(dcap_verifier_freep) struct dcap_verifier *v = NULL;
	_cleanup_(dcap_collateral_freep) struct dcap_collateral *c = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;

	(void)state;
	SKIP_WITHOUT_DATA();
	assert_int_equal(dcap_verifier_new(NULL, &v), 0);
	c = load_set(&sets[0]);
	load_quote(sets[0].quote, &buf, &len);
	for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
		const struct flip *f = &flips[i];
		struct dcap_result res;
		int r;

		buf[f->offset] ^= 0x01;
		r = dcap_test_verify(v, c, buf, len, at(sets[0].inside), NULL, &res);
		buf[f->offset] ^= 0x01;
		if (r != f->result || !strstr(res.reason, f->reason))
			fail_msg("flip %s: %d '%s', expected %d '%s'", f->what, r, res.reason,
				 f->result, f->reason);
		assert_false(res.verified);
	}
	/* Bytes after signature_data_len are never hashed nor checked. */
	buf[len - 1] ^= 0xff;
	{
		struct dcap_result res;

		assert_int_equal(dcap_test_verify(v, c, buf, len, at(sets[0].inside), NULL, &res),
				 0);
		/* Truncated and oversized input. */
		assert_int_equal(dcap_test_verify(v, c, buf, 4935, at(sets[0].inside), NULL, &res),
				 -EBADMSG);
		assert_non_null(strstr(res.reason, "signature data length 4300 exceeds"));
		assert_int_equal(dcap_test_verify(v, c, buf, 100, at(sets[0].inside), NULL, &res),
				 -EBADMSG);
	}
	{
		uint8_t *big = calloc(1, TDX_QUOTE_MAX_LEN + 1);
		struct dcap_result res;

		memcpy(big, buf, len);
		assert_int_equal(dcap_test_verify(v, c, big, TDX_QUOTE_MAX_LEN + 1,
						  at(sets[0].inside), NULL, &res),
				 -EBADMSG);
		assert_non_null(strstr(res.reason, "larger than"));
		free(big);
	}
}

/* ---- trust anchor, collateral mix-ups and tampering -------------------------------------- */

static void test_other_root_refused(void **state)
{
	_cleanup_(dcap_verifier_freep) struct dcap_verifier *v = NULL;
	_cleanup_(dcap_collateral_freep) struct dcap_collateral *c = NULL;
	struct dcap_result res;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;

	(void)state;
	SKIP_WITHOUT_DATA();
	/* Any other certificate as the anchor: here the TCB signing certificate. */
	assert_int_equal(
		dcap_verifier_new(data_path("sets/gotdx-v4-2023/tcb_info_issuer_chain.pem"), &v),
		-EBADMSG);
	{
		char path[] = "/tmp/test-dcap-root-XXXXXX";
		int fd = mkstemp(path);
		uint8_t *pem = NULL;
		size_t pem_len;
		char *end;

		assert_true(fd >= 0);
		assert_int_equal(
			file_read_all(data_path("sets/gotdx-v4-2023/tcb_info_issuer_chain.pem"),
				      1 << 16, &pem, &pem_len),
			0);
		end = strstr((char *)pem, "-----END CERTIFICATE-----");
		assert_non_null(end);
		end += strlen("-----END CERTIFICATE-----\n");
		assert_int_equal(write(fd, pem, (size_t)(end - (char *)pem)), end - (char *)pem);
		close(fd);
		free(pem);
		assert_int_equal(dcap_verifier_new(path, &v), 0);
		unlink(path);
	}
	assert_true(dcap_verifier_is_test_root(v));
	c = load_set(&sets[0]);
	load_quote(sets[0].quote, &buf, &len);
	assert_int_equal(dcap_test_verify(v, c, buf, len, at(sets[0].inside), NULL, &res),
			 -EKEYREJECTED);
	assert_non_null(strstr(res.reason, "root other than the trusted test root"));
}

static void test_collateral_for_other_platform(void **state)
{
	_cleanup_(dcap_verifier_freep) struct dcap_verifier *v = NULL;
	_cleanup_(dcap_collateral_freep) struct dcap_collateral *c = NULL;
	struct dcap_result res;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	int r;

	(void)state;
	SKIP_WITHOUT_DATA();
	assert_int_equal(dcap_verifier_new(NULL, &v), 0);
	/* v4-uptodate's quote (FMSPC b0c06f000000) against the near set's collateral (20a06f...),
	 * at a time valid for that collateral; its PCK CRL is the same platform CA's. */
	c = load_set(&sets[1]);
	load_quote(sets[0].quote, &buf, &len);
	r = dcap_test_verify(v, c, buf, len, at(sets[1].inside), NULL, &res);
	if (r != -EACCES || !strstr(res.reason, "FMSPC"))
		fail_msg("%d %s", r, res.reason);
}

static char *write_temp(const char *content, size_t len)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/test-dcap-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	close(fd);
	return path;
}

/* Replaces the first occurrence of `from` in bundle field `key` and loads the result. */
static int load_tampered_bundle(const char *key, const char *from, const char *to, char *reason,
				size_t reason_len)
{
	struct json_object *b = json_object_from_file(data_path(sets[0].files.bundle)), *v;
	struct dcap_collateral_files f = {0};
	struct dcap_collateral *c = NULL;
	char *s, *hit, *path;
	const char *out;
	int r;

	assert_non_null(b);
	assert_true(json_object_object_get_ex(b, key, &v));
	s = strdup(json_object_get_string(v));
	hit = strstr(s, from);
	assert_non_null(hit);
	assert_int_equal(strlen(from), strlen(to));
	memcpy(hit, to, strlen(to));
	json_object_object_add(b, key, json_object_new_string(s));
	free(s);
	out = json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN);
	path = write_temp(out, strlen(out));
	f.bundle = path;
	r = dcap_collateral_load(&f, &c, reason, reason_len);
	unlink(path);
	dcap_collateral_free(c);
	json_object_put(b);
	return r;
}

static void test_collateral_tampering(void **state)
{
	char reason[256];

	(void)state;
	SKIP_WITHOUT_DATA();
	assert_int_equal(load_tampered_bundle("tcb_info", "\"UpToDate\"", "\"OutOfDate", reason,
					      sizeof(reason)),
			 -EBADMSG); /* no longer JSON */
	/* Malformed fields are named, before any signature is looked at. */
	assert_int_equal(load_tampered_bundle("tcb_info", "\"fmspc\":\"B0C06F000000\"",
					      "\"fmspc\":\"B0C06F00000Z\"", reason, sizeof(reason)),
			 -EBADMSG);
	assert_string_equal(reason, "TCB info: 'fmspc' is not 6 bytes of hex");
	assert_int_equal(load_tampered_bundle("qe_identity", "\"version\":2", "\"version\":3",
					      reason, sizeof(reason)),
			 -EBADMSG);
	assert_string_equal(reason, "QE identity: version 3 unsupported (want 2)");
	assert_int_equal(load_tampered_bundle("tcb_info", "\"pcesvn\":11", "\"pcesvn\":10", reason,
					      sizeof(reason)),
			 -EKEYREJECTED);
	assert_non_null(strstr(reason, "TCB info signature"));
	assert_int_equal(load_tampered_bundle("qe_identity", "\"isvsvn\":4", "\"isvsvn\":1", reason,
					      sizeof(reason)),
			 -EKEYREJECTED);
	assert_non_null(strstr(reason, "QE identity signature"));
	assert_int_equal(
		load_tampered_bundle("tcb_info_signature", "a", "b", reason, sizeof(reason)),
		-EKEYREJECTED);
	/* A PCS response with a second "tcbInfo" member is refused, not guessed at. */
	{
		struct dcap_collateral_files f = {0};
		struct dcap_collateral *c = NULL;
		uint8_t *doc = NULL;
		size_t len;
		char *dup, *path;

		assert_int_equal(
			file_read_all(data_path("sets/gotdx-v4-2023/tcb_info_response.json"),
				      1 << 20, &doc, &len),
			0);
		dup = malloc(len + 32);
		snprintf(dup, len + 32, "{\"tcbInfo\":{},%s", (char *)doc + 1);
		path = write_temp(dup, strlen(dup));
		f = (struct dcap_collateral_files){0};
		f.tcb_info = path;
		f.bundle = data_path(sets[0].files.bundle);
		assert_int_equal(dcap_collateral_load(&f, &c, reason, sizeof(reason)), -EBADMSG);
		unlink(path);
		free(dup);
		free(doc);
	}
}

/* The root CA CRL slot given the PCK CRL (another issuer): the intermediate's revocation status
 * is unknown, so the chain is refused. */
static void test_root_crl_swapped(void **state)
{
	struct json_object *b, *v;
	struct dcap_collateral_files f = {0};
	_cleanup_(dcap_collateral_freep) struct dcap_collateral *c = NULL;
	_cleanup_(dcap_verifier_freep) struct dcap_verifier *v2 = NULL;
	struct dcap_result res;
	uint8_t *der = NULL, *buf = NULL;
	size_t der_len, len;
	char *path;
	int r;

	(void)state;
	SKIP_WITHOUT_DATA();
	b = json_object_from_file(data_path(sets[0].files.bundle));
	assert_non_null(b);
	assert_true(json_object_object_get_ex(b, "pck_crl", &v));
	assert_int_equal(hex_decode_alloc(json_object_get_string(v),
					  (size_t)json_object_get_string_len(v), &der, &der_len),
			 0);
	path = write_temp((const char *)der, der_len);
	f.bundle = data_path(sets[0].files.bundle);
	f.root_crl = path;
	assert_int_equal(dcap_collateral_load(&f, &c, NULL, 0), 0);
	unlink(path);
	assert_int_equal(dcap_verifier_new(NULL, &v2), 0);
	load_quote(sets[0].quote, &buf, &len);
	r = dcap_test_verify(v2, c, buf, len, at(sets[0].inside), NULL, &res);
	if (r != -EKEYREJECTED || !strstr(res.reason, "CRL"))
		fail_msg("%d %s", r, res.reason);
	free(buf);
	free(der);
	json_object_put(b);
}

static void test_raw_member(void **state)
{
	static const char doc[] = " { \"a\" : \"x}\\\"{\" , \"tcbInfo\":{\"k\":[1,{\"s\":\"}\"}]} ,"
				  "\"signature\":\"00\"}\n";
	const char *v;
	size_t n;

	(void)state;
	assert_int_equal(json_raw_member(doc, strlen(doc), "tcbInfo", &v, &n), 0);
	assert_int_equal(n, strlen("{\"k\":[1,{\"s\":\"}\"}]}"));
	assert_memory_equal(v, "{\"k\":[1,{\"s\":\"}\"}]}", n);
	assert_int_equal(json_raw_member(doc, strlen(doc), "enclaveIdentity", &v, &n), -ENOENT);
	assert_int_equal(json_raw_member(doc, strlen(doc) - 3, "tcbInfo", &v, &n), -EBADMSG);
	assert_int_equal(json_raw_member("[1]", 3, "tcbInfo", &v, &n), -EBADMSG);
	assert_int_equal(json_raw_member("{\"tcbInfo\":1,\"tcbInfo\":2}", 25, "tcbInfo", &v, &n),
			 -EBADMSG);
}

/* ---- the TCB rules on hand-made collateral --------------------------------------------- */

static void test_tcb_rules(void **state)
{
	struct tcb_info *t = calloc(1, sizeof(*t));
	struct pck_ext pck = {0};
	struct tdx_quote q = {0};
	struct tcb_advisories adv = {0};
	enum tcb_status s;
	char reason[256];

	(void)state;
	/* Module TDX_01: ISVSVN >= 4 UpToDate, >= 2 OutOfDate. Two levels: newest needs TDX
	 * component 2 >= 3, the older >= 1 and is OutOfDate with an advisory. */
	t->n_modules = 1;
	strcpy(t->modules[0].id, "TDX_01");
	t->modules[0].n_levels = 2;
	t->modules[0].levels[0] = (struct isv_level){.isvsvn = 4, .status = TCB_UP_TO_DATE};
	t->modules[0].levels[1] = (struct isv_level){.isvsvn = 2, .status = TCB_OUT_OF_DATE};
	memset(t->modules[0].attributes_mask, 0xff, 8);
	t->n_levels = 2;
	t->levels[0].tdx_svn[2] = 3;
	t->levels[0].status = TCB_UP_TO_DATE;
	t->levels[1].tdx_svn[2] = 1;
	t->levels[1].status = TCB_SW_HARDENING_NEEDED;
	t->levels[1].advisories.n = 1;
	strcpy(t->levels[1].advisories.id[0], "INTEL-SA-00001");
	pck.pce_svn = 13;
	q.body_kind = TDX_BODY_TD10;
	q.body.tee_tcb_svn[0] = 6; /* module minor */
	q.body.tee_tcb_svn[1] = 1; /* module major: TDX_01 */
	q.body.tee_tcb_svn[2] = 3;

	assert_int_equal(tdx_tcb_evaluate(t, &pck, &q, TCB_UP_TO_DATE, &s, &adv, reason, 256), 0);
	assert_int_equal(s, TCB_UP_TO_DATE);
	assert_int_equal(adv.n, 0);
	/* QE OutOfDate lowers UpToDate to OutOfDate; QE Revoked revokes. */
	assert_int_equal(tdx_tcb_evaluate(t, &pck, &q, TCB_OUT_OF_DATE, &s, &adv, reason, 256), 0);
	assert_int_equal(s, TCB_OUT_OF_DATE);
	assert_int_equal(tdx_tcb_evaluate(t, &pck, &q, TCB_REVOKED, &s, &adv, reason, 256), 0);
	assert_int_equal(s, TCB_REVOKED);
	/* Older TDX component: the second level, with its advisory. */
	q.body.tee_tcb_svn[2] = 2;
	assert_int_equal(tdx_tcb_evaluate(t, &pck, &q, TCB_UP_TO_DATE, &s, &adv, reason, 256), 0);
	assert_int_equal(s, TCB_SW_HARDENING_NEEDED);
	assert_int_equal(adv.n, 1);
	assert_string_equal(adv.id[0], "INTEL-SA-00001");
	/* Module ISVSVN 3: module OutOfDate lowers SWHardeningNeeded to OutOfDate. */
	q.body.tee_tcb_svn[0] = 3;
	assert_int_equal(tdx_tcb_evaluate(t, &pck, &q, TCB_UP_TO_DATE, &s, &adv, reason, 256), 0);
	assert_int_equal(s, TCB_OUT_OF_DATE);
	/* TDX 1.5 with TEE_TCB_SVN2 on the current module: relaunch advised. */
	q.body_kind = TDX_BODY_TD15;
	q.body.tee_tcb_svn2[0] = 4;
	q.body.tee_tcb_svn2[1] = 1;
	q.body.tee_tcb_svn2[2] = 3;
	assert_int_equal(tdx_tcb_evaluate(t, &pck, &q, TCB_UP_TO_DATE, &s, &adv, reason, 256), 0);
	assert_int_equal(s, TCB_TD_RELAUNCH_ADVISED);
	q.body_kind = TDX_BODY_TD10;
	/* Module ISVSVN 1: below every module level. */
	q.body.tee_tcb_svn[0] = 1;
	assert_int_equal(tdx_tcb_evaluate(t, &pck, &q, TCB_UP_TO_DATE, &s, &adv, reason, 256),
			 -EACCES);
	assert_int_equal(s, TCB_NOT_SUPPORTED);
	/* Unknown module major, non-zero MRSIGNERSEAM, SEAM attributes. */
	q.body.tee_tcb_svn[0] = 6;
	q.body.tee_tcb_svn[1] = 3;
	assert_int_equal(tdx_tcb_evaluate(t, &pck, &q, TCB_UP_TO_DATE, &s, &adv, reason, 256),
			 -EACCES);
	assert_non_null(strstr(reason, "TDX_03"));
	q.body.tee_tcb_svn[1] = 1;
	q.body.mrsignerseam[0] = 1;
	assert_int_equal(tdx_tcb_evaluate(t, &pck, &q, TCB_UP_TO_DATE, &s, &adv, reason, 256),
			 -EACCES);
	assert_non_null(strstr(reason, "MRSIGNERSEAM"));
	q.body.mrsignerseam[0] = 0;
	q.body.seam_attributes[0] = 1;
	assert_int_equal(tdx_tcb_evaluate(t, &pck, &q, TCB_UP_TO_DATE, &s, &adv, reason, 256),
			 -EACCES);
	q.body.seam_attributes[0] = 0;
	/* PCESVN below every level: SGX level not found. */
	t->levels[0].pce_svn = t->levels[1].pce_svn = 14;
	assert_int_equal(tdx_tcb_evaluate(t, &pck, &q, TCB_UP_TO_DATE, &s, &adv, reason, 256),
			 -EACCES);
	assert_non_null(strstr(reason, "SGX TCB"));
	free(t);
}

/* ---- collateral signed by a key that is not a TCB signing key (generated hierarchy) ------ */

static char *sign_hex(const char *key_path, const char *msg, size_t len)
{
	static char hex[129];
	uint8_t *pem = NULL, rs[64], der[80];
	size_t pem_len, der_len = sizeof(der);
	const unsigned char *p = der;
	EVP_PKEY *key;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	ECDSA_SIG *sig;
	BIO *bio;

	assert_int_equal(file_read_all(key_path, 1 << 16, &pem, &pem_len), 0);
	bio = BIO_new_mem_buf(pem, (int)pem_len);
	key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	assert_non_null(key);
	assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key), 1);
	assert_int_equal(EVP_DigestSign(md, der, &der_len, (const uint8_t *)msg, len), 1);
	sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	assert_non_null(sig);
	assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs, 32), 32);
	assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs + 32, 32), 32);
	hex_encode(rs, sizeof(rs), hex);
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(key);
	BIO_free(bio);
	free(pem);
	return hex;
}

static void test_tcb_info_signed_by_pck_key(void **state)
{
	char dir[] = "/tmp/test-dcap-signer-XXXXXX", path[4][512], *doc;
	struct dcap_collateral_files f = {0};
	struct quotesim_quote_opts o;
	struct dcap_collateral *c = NULL;
	struct dcap_verifier *v = NULL;
	struct quotesim *sim = NULL;
	struct dcap_result res;
	uint8_t *tcb = NULL, *quote = NULL;
	const char *raw;
	size_t tcb_len, raw_len, quote_len;
	int r;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(quotesim_ca_create(dir, NULL), 0);
	assert_int_equal(quotesim_load(dir, &sim), 0);
	/* Re-sign the generated TCB info with the PCK leaf key, chain = PCK leaf, CA, root. */
	snprintf(path[0], sizeof(path[0]), "%s/%s", dir, QUOTESIM_TCB_INFO);
	assert_int_equal(file_read_all(path[0], 1 << 20, &tcb, &tcb_len), 0);
	assert_int_equal(json_raw_member((const char *)tcb, tcb_len, "tcbInfo", &raw, &raw_len), 0);
	snprintf(path[1], sizeof(path[1]), "%s/%s", dir, QUOTESIM_PCK_LEAF_KEY);
	doc = malloc(raw_len + 200);
	snprintf(doc, raw_len + 200, "{\"tcbInfo\":%.*s,\"signature\":\"%s\"}", (int)raw_len, raw,
		 sign_hex(path[1], raw, raw_len));
	snprintf(path[2], sizeof(path[2]), "%s/forged_tcb_info.json", dir);
	assert_int_equal(file_write_private(path[2], doc, strlen(doc), 1), 0);
	snprintf(path[3], sizeof(path[3]), "%s/%s", dir, QUOTESIM_PCK_CHAIN);

	f.bundle = NULL;
	snprintf(path[0], sizeof(path[0]), "%s/%s", dir, QUOTESIM_COLLATERAL);
	f.bundle = path[0];
	f.tcb_info = path[2];
	{
		/* Only the TCB info's chain is swapped: the QE identity keeps its real signer. */
		static char bundle_path[600];
		struct json_object *b = json_object_from_file(path[0]);
		uint8_t *chain = NULL;
		size_t chain_len;
		const char *out;

		assert_non_null(b);
		assert_int_equal(file_read_all(path[3], 1 << 16, &chain, &chain_len), 0);
		json_object_object_add(
			b, "tcb_info_issuer_chain",
			json_object_new_string_len((const char *)chain, (int)chain_len));
		out = json_object_to_json_string(b);
		snprintf(bundle_path, sizeof(bundle_path), "%s/forged_collateral.json", dir);
		assert_int_equal(file_write_private(bundle_path, out, strlen(out), 1), 0);
		f.bundle = bundle_path;
		json_object_put(b);
		free(chain);
	}
	/* The signature itself verifies (with the PCK leaf's key)... */
	assert_int_equal(dcap_collateral_load(&f, &c, NULL, 0), 0);
	snprintf(path[1], sizeof(path[1]), "%s/%s", dir, QUOTESIM_ROOT_CA);
	assert_int_equal(dcap_verifier_new(path[1], &v), 0);
	quotesim_quote_opts_init(sim, &o);
	assert_int_equal(quotesim_quote(sim, &o, NULL, &quote, &quote_len), 0);
	/* ...but a PCK key is not a TCB signing key. */
	r = dcap_test_verify(v, c, quote, quote_len, time(NULL), NULL, &res);
	if (r != -EKEYREJECTED || !strstr(res.reason, "TCB info signer"))
		fail_msg("%d %s", r, res.reason);
	/* Sanity: the generated collateral as issued verifies. */
	dcap_collateral_free(c);
	c = NULL;
	f = (struct dcap_collateral_files){.bundle = path[0]};
	assert_int_equal(dcap_collateral_load(&f, &c, NULL, 0), 0);
	assert_int_equal(dcap_test_verify(v, c, quote, quote_len, time(NULL), NULL, &res), 0);

	dcap_collateral_free(c);
	dcap_verifier_free(v);
	quotesim_free(sim);
	free(quote);
	free(doc);
	free(tcb);
	{
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		assert_int_equal(system(cmd), 0);
	}
}

/* ---- concurrency ------------------------------------------------------------------------- */

static void test_concurrent(void **state)
{
	_cleanup_(dcap_verifier_freep) struct dcap_verifier *v = NULL;
	_cleanup_(dcap_collateral_freep) struct dcap_collateral *c = NULL;
	struct dcap_test_worker w[4];
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;

	(void)state;
	SKIP_WITHOUT_DATA();
	assert_int_equal(dcap_verifier_new(NULL, &v), 0);
	c = load_set(&sets[0]);
	load_quote(sets[0].quote, &buf, &len);
	assert_int_equal(dcap_test_workers_run(&(struct dcap_test_worker){.v = v,
									  .c = c,
									  .quote = buf,
									  .len = len,
									  .at = at(sets[0].inside),
									  .iterations = 200},
					       w, 4),
			 0);
	for (int i = 0; i < 4; i++) {
		assert_false(w[i].failed);
		assert_int_equal(w[i].done, 200);
	}
}

UNIT_TEST_MAIN(NULL, NULL, cmocka_unit_test(test_intel_root_pinned),
	       cmocka_unit_test(test_raw_member), cmocka_unit_test(test_tcb_rules),
	       cmocka_unit_test(test_pck_fields_and_signatures), cmocka_unit_test(test_debug_td),
	       cmocka_unit_test(test_sets_inside_and_outside), cmocka_unit_test(test_result_fields),
	       cmocka_unit_test(test_byte_flips), cmocka_unit_test(test_other_root_refused),
	       cmocka_unit_test(test_collateral_for_other_platform),
	       cmocka_unit_test(test_collateral_tampering), cmocka_unit_test(test_root_crl_swapped),
	       cmocka_unit_test(test_tcb_info_signed_by_pck_key), cmocka_unit_test(test_concurrent))
