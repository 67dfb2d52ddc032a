/* The test quote simulator: generated quotes parse to the chosen fields, their signatures and
 * QE binding check out with plain OpenSSL (independently of the DCAP verifier), each tamper flag
 * breaks exactly its check, and the certificates, CRLs and collateral have the documented form. */
#define _GNU_SOURCE /* nftw, FTW_DEPTH */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit-test.h"
#include <json-c/json.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "dcap-test.h"
#include "fileio.h"
#include "hexutil.h"
#include "json_strict.h"
#include "quote.h"
#include "quotesim.h"

struct fixture {
	char dir[64];
	struct quotesim *sim;
};
_Static_assert(offsetof(struct fixture, dir) == 0, "dcap_test_fixture_new() makes dir");

static int setup(void **state)
{
	struct fixture *f = dcap_test_fixture_new(sizeof(*f), "test-quotesim");

	if (!f)
		return -1;
	if (quotesim_ca_create(f->dir, NULL) < 0 || quotesim_load(f->dir, &f->sim) < 0) {
		dcap_test_fixture_free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	quotesim_free(f->sim);
	dcap_test_fixture_free(f);
	return 0;
}

static char *path_in(const struct fixture *f, const char *name)
{
	static char p[256];

	snprintf(p, sizeof(p), "%s/%s", f->dir, name);
	return p;
}

static X509 *cert_load(const char *path)
{
	FILE *fp = fopen(path, "r");
	X509 *x;

	assert_non_null(fp);
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(x);
	return x;
}

/* Raw r||s ECDSA P-256 / SHA-256 check with OpenSSL, independent of the project's verifier. */
static bool ecdsa_raw_ok(EVP_PKEY *key, const uint8_t sig[64], const uint8_t *data, size_t len)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	unsigned char *der = NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int der_len, ok;

	assert_non_null(es);
	assert_non_null(md);
	assert_int_equal(
		ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL)), 1);
	der_len = i2d_ECDSA_SIG(es, &der);
	assert_true(der_len > 0);
	ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
	     EVP_DigestVerify(md, der, (size_t)der_len, data, len) == 1;
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	return ok;
}

static EVP_PKEY *p256_from_raw(const uint8_t xy[64])
{
	uint8_t pt[65] = {0x04};
	EVP_PKEY *key = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	OSSL_PARAM params[3];

	memcpy(pt + 1, xy, 64);
	params[0] = OSSL_PARAM_construct_utf8_string("group", (char *)"P-256", 0);
	params[1] = OSSL_PARAM_construct_octet_string("pub", pt, sizeof(pt));
	params[2] = OSSL_PARAM_construct_end();
	if (ctx && EVP_PKEY_fromdata_init(ctx) == 1)
		EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params);
	EVP_PKEY_CTX_free(ctx);
	return key; /* NULL for a point off the curve */
}

struct checks {
	bool qe_report_sig, qe_binding, quote_sig;
};

static struct checks quote_checks(const struct fixture *f, const struct tdx_quote *q)
{
	X509 *leaf = cert_load(path_in(f, QUOTESIM_PCK_LEAF));
	EVP_PKEY *ak = p256_from_raw(q->attest_key);
	uint8_t h[32];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	struct checks c;

	c.qe_report_sig = ecdsa_raw_ok(X509_get0_pubkey(leaf), q->qe_report_sig, q->qe_report_raw,
				       sizeof(q->qe_report_raw));
	assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
	EVP_DigestUpdate(md, q->attest_key, 64);
	EVP_DigestUpdate(md, q->qe_auth_data, q->qe_auth_len);
	EVP_DigestFinal_ex(md, h, NULL);
	c.qe_binding = memcmp(h, q->qe_report.report_data, 32) == 0;
	c.quote_sig = ak && ecdsa_raw_ok(ak, q->signature, q->signed_data, q->signed_len);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(ak);
	X509_free(leaf);
	return c;
}

static void make_quote(const struct fixture *f, const struct quotesim_quote_opts *o,
		       const uint8_t *rd, uint8_t **buf, size_t *len, struct tdx_quote *q)
{
	char reason[128];

	assert_int_equal(quotesim_quote(f->sim, o, rd, buf, len), 0);
	assert_int_equal(quote_parse(*buf, *len, q, reason, sizeof(reason)), 0);
}

static void test_v4_fields(void **state)
{
	struct fixture *f = *state;
	struct quotesim_quote_opts o;
	struct tdx_quote q;
	uint8_t rd[64], *buf = NULL, *chain = NULL;
	size_t len, chain_len;
	struct checks c;

	quotesim_quote_opts_init(f->sim, &o);
	for (int i = 0; i < 64; i++)
		rd[i] = (uint8_t)(i * 3);
	memset(o.body.mrtd, 0xab, sizeof(o.body.mrtd));
	memset(o.body.rtmr[2], 0xcd, sizeof(o.body.rtmr[2]));
	memset(o.body.mrconfigid, 0x42, sizeof(o.body.mrconfigid));
	o.body.xfam[0] = 0x07;
	make_quote(f, &o, rd, &buf, &len, &q);

	assert_int_equal(q.version, 4);
	assert_int_equal(q.att_key_type, 2);
	assert_int_equal(q.tee_type, TDX_TEE_TYPE_TDX);
	assert_int_equal(q.body_kind, TDX_BODY_TD10);
	assert_int_equal(q.signed_len, 48 + 584);
	assert_int_equal(q.total_len, len);
	assert_memory_equal(q.body.mrtd, o.body.mrtd, TDX_MR_LEN);
	assert_memory_equal(q.body.rtmr[2], o.body.rtmr[2], TDX_MR_LEN);
	assert_memory_equal(q.body.rtmr[0], o.body.rtmr[0], TDX_MR_LEN);
	assert_memory_equal(q.body.mrconfigid, o.body.mrconfigid, TDX_MR_LEN);
	assert_memory_equal(q.body.xfam, o.body.xfam, 8);
	assert_memory_equal(q.body.tee_tcb_svn, o.body.tee_tcb_svn, 16);
	assert_memory_equal(q.body.report_data, rd, 64);
	assert_memory_equal(q.user_data, o.user_data, 20);
	assert_false(quote_td_debug(&q));
	assert_int_equal(q.cert_data_type, 6);
	assert_int_equal(q.qe_report.isvprodid, 2);
	assert_int_equal(q.qe_report.isvsvn, o.qe_isvsvn);
	assert_int_equal(q.qe_auth_len, 32);
	/* The embedded chain is pck_chain.pem followed by one counted NUL. */
	assert_int_equal(file_read_all(path_in(f, QUOTESIM_PCK_CHAIN), 1 << 16, &chain, &chain_len),
			 0);
	assert_int_equal(q.pck_chain_len, chain_len + 1);
	assert_memory_equal(q.pck_chain_pem, chain, chain_len);
	assert_int_equal(q.pck_chain_pem[chain_len], 0);

	c = quote_checks(f, &q);
	assert_true(c.qe_report_sig);
	assert_true(c.qe_binding);
	assert_true(c.quote_sig);
	free(chain);
	free(buf);
}

static void test_v5_bodies(void **state)
{
	struct fixture *f = *state;
	struct quotesim_quote_opts o;
	struct tdx_quote q;
	uint8_t *buf = NULL;
	size_t len;
	struct checks c;

	quotesim_quote_opts_init(f->sim, &o);
	o.version = 5;
	o.body_type = TDX_BODY_TD15;
	memset(o.body.tee_tcb_svn2, 0x07, 16);
	memset(o.body.mrservicetd, 0x99, TDX_MR_LEN);
	make_quote(f, &o, NULL, &buf, &len, &q);
	assert_int_equal(q.version, 5);
	assert_int_equal(q.body_kind, TDX_BODY_TD15);
	assert_int_equal(q.signed_len, 48 + 6 + 648);
	assert_int_equal(buf[48], 3);
	assert_memory_equal(q.body.tee_tcb_svn2, o.body.tee_tcb_svn2, 16);
	assert_memory_equal(q.body.mrservicetd, o.body.mrservicetd, TDX_MR_LEN);
	c = quote_checks(f, &q);
	assert_true(c.qe_report_sig && c.qe_binding && c.quote_sig);
	free(buf);

	o.body_type = TDX_BODY_TD10;
	make_quote(f, &o, NULL, &buf, &len, &q);
	assert_int_equal(q.body_kind, TDX_BODY_TD10);
	assert_int_equal(q.signed_len, 48 + 6 + 584);
	c = quote_checks(f, &q);
	assert_true(c.qe_report_sig && c.qe_binding && c.quote_sig);
	free(buf);

	o.body_type = 1; /* SGX enclave body: not a TD quote */
	assert_int_equal(quotesim_quote(f->sim, &o, NULL, &buf, &len), -EINVAL);
	o.version = 3;
	assert_int_equal(quotesim_quote(f->sim, &o, NULL, &buf, &len), -EINVAL);
}

static void test_debug_and_layout_options(void **state)
{
	struct fixture *f = *state;
	struct quotesim_quote_opts o;
	struct tdx_quote q;
	uint8_t *buf = NULL;
	size_t len, unpadded;

	quotesim_quote_opts_init(f->sim, &o);
	o.body.td_attributes[0] |= 0x01;
	o.chain_nul = false;
	make_quote(f, &o, NULL, &buf, &len, &q);
	assert_true(quote_td_debug(&q));
	assert_int_not_equal(q.pck_chain_pem[q.pck_chain_len - 1], 0);
	unpadded = len;
	free(buf);

	o.pad_to = 8000;
	make_quote(f, &o, NULL, &buf, &len, &q);
	assert_int_equal(len, 8000);
	assert_int_equal(q.total_len, unpadded);
	for (size_t i = unpadded; i < len; i++)
		assert_int_equal(buf[i], 0);
	free(buf);

	/* Wrong certification data types are emitted as asked; the parser refuses them. */
	quotesim_quote_opts_init(f->sim, &o);
	o.cert_data_type = 5;
	assert_int_equal(quotesim_quote(f->sim, &o, NULL, &buf, &len), 0);
	assert_int_not_equal(quote_parse(buf, len, &q, NULL, 0), 0);
	free(buf);
	o.cert_data_type = 6;
	o.inner_cert_data_type = 4;
	assert_int_equal(quotesim_quote(f->sim, &o, NULL, &buf, &len), 0);
	assert_int_not_equal(quote_parse(buf, len, &q, NULL, 0), 0);
	free(buf);
}

/* Each tamper flag breaks exactly the check it names and leaves the others intact. */
static void test_tamper(void **state)
{
	static const struct {
		const char *name;
		bool qe_report_sig, qe_binding, quote_sig;
	} cases[] = {
		{"header", true, true, false},	     {"body", true, true, false},
		{"quote-sig", true, true, false},    {"attest-key", true, false, false},
		{"qe-report", false, true, true},    {"qe-report-sig", false, true, true},
		{"qe-auth-data", true, false, true}, {"qe-report-data", true, false, true},
	};
	struct fixture *f = *state;
	struct quotesim_quote_opts o;
	struct tdx_quote q;
	uint8_t *buf = NULL, *clean = NULL;
	size_t len, clean_len, diff;
	unsigned flag;
	struct checks c;

	quotesim_quote_opts_init(f->sim, &o);
	make_quote(f, &o, NULL, &clean, &clean_len, &q);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(quotesim_tamper_from_name(cases[i].name, &flag), 0);
		o.tamper = flag;
		make_quote(f, &o, NULL, &buf, &len, &q);
		assert_int_equal(len, clean_len);
		c = quote_checks(f, &q);
		if (c.qe_report_sig != cases[i].qe_report_sig ||
		    c.qe_binding != cases[i].qe_binding || c.quote_sig != cases[i].quote_sig)
			fail_msg("tamper %s: qe_report_sig %d binding %d quote_sig %d",
				 cases[i].name, c.qe_report_sig, c.qe_binding, c.quote_sig);
		/* A flip (not a re-signing) differs from an honest quote where it says; signatures
		 * are randomised, so only count that something besides them changed. */
		diff = 0;
		for (size_t k = 0; k < 48 + 584; k++)
			diff += buf[k] != clean[k];
		if (strcmp(cases[i].name, "header") == 0 || strcmp(cases[i].name, "body") == 0)
			assert_int_equal(diff, 1);
		else
			assert_int_equal(diff, 0);
		free(buf);
	}
	assert_int_equal(quotesim_tamper_from_name("everything", &flag), -EINVAL);
	free(clean);
}

/* The PCK leaf carries the SGX extension with the platform's values, DER-walked here with
 * OpenSSL's generic ASN.1 types. */
static void test_pck_leaf_extension(void **state)
{
	struct fixture *f = *state;
	struct quotesim_ca_opts def;
	X509 *leaf = cert_load(path_in(f, QUOTESIM_PCK_LEAF));
	ASN1_OBJECT *oid = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
	int idx = X509_get_ext_by_OBJ(leaf, oid, -1);
	const ASN1_OCTET_STRING *data;
	const unsigned char *p;
	STACK_OF(ASN1_TYPE) * top;
	bool fmspc_seen = false, type_seen = false;
	char name[64];

	quotesim_ca_opts_init(&def);
	assert_true(idx >= 0);
	assert_false(X509_EXTENSION_get_critical(X509_get_ext(leaf, idx)));
	data = X509_EXTENSION_get_data(X509_get_ext(leaf, idx));
	p = ASN1_STRING_get0_data(data);
	top = d2i_ASN1_SEQUENCE_ANY(NULL, &p, ASN1_STRING_length(data));
	assert_non_null(top);
	assert_int_equal(sk_ASN1_TYPE_num(top), 7);
	for (int i = 0; i < sk_ASN1_TYPE_num(top); i++) {
		ASN1_TYPE *e = sk_ASN1_TYPE_value(top, i);
		const unsigned char *q;
		STACK_OF(ASN1_TYPE) * pair;
		ASN1_TYPE *val;

		assert_int_equal(ASN1_TYPE_get(e), V_ASN1_SEQUENCE);
		q = e->value.sequence->data;
		pair = d2i_ASN1_SEQUENCE_ANY(NULL, &q, e->value.sequence->length);
		assert_non_null(pair);
		assert_int_equal(sk_ASN1_TYPE_num(pair), 2);
		OBJ_obj2txt(name, sizeof(name), sk_ASN1_TYPE_value(pair, 0)->value.object, 1);
		val = sk_ASN1_TYPE_value(pair, 1);
		if (strcmp(name, "1.2.840.113741.1.13.1.4") == 0) {
			assert_int_equal(ASN1_TYPE_get(val), V_ASN1_OCTET_STRING);
			assert_int_equal(val->value.octet_string->length, 6);
			assert_memory_equal(val->value.octet_string->data, def.platform.fmspc, 6);
			fmspc_seen = true;
		} else if (strcmp(name, "1.2.840.113741.1.13.1.5") == 0) {
			assert_int_equal(ASN1_TYPE_get(val), V_ASN1_ENUMERATED);
			type_seen = true;
		}
		sk_ASN1_TYPE_pop_free(pair, ASN1_TYPE_free);
	}
	assert_true(fmspc_seen && type_seen);
	sk_ASN1_TYPE_pop_free(top, ASN1_TYPE_free);
	ASN1_OBJECT_free(oid);
	X509_free(leaf);
}

/* The chain verifies to the generated root with both CRLs; the names are Intel's (docs/verify.md).
 */
static void test_chain_and_crls(void **state)
{
	struct fixture *f = *state;
	X509 *root = cert_load(path_in(f, QUOTESIM_ROOT_CA));
	X509 *ca = cert_load(path_in(f, QUOTESIM_PCK_CA));
	X509 *leaf = cert_load(path_in(f, QUOTESIM_PCK_LEAF));
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
	const char *names[] = {QUOTESIM_PCK_CRL, QUOTESIM_ROOT_CRL};
	char cn[128];

	X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, cn, sizeof(cn));
	assert_non_null(strstr(cn, "SGX PCK Certificate"));
	X509_NAME_get_text_by_NID(X509_get_subject_name(ca), NID_commonName, cn, sizeof(cn));
	assert_string_equal(cn, "Test SGX PCK Platform CA");
	for (size_t i = 0; i < 2; i++) {
		uint8_t *der = NULL;
		size_t len;
		const unsigned char *p;
		X509_CRL *crl;

		assert_int_equal(file_read_all(path_in(f, names[i]), 1 << 16, &der, &len), 0);
		p = der;
		crl = d2i_X509_CRL(NULL, &p, (long)len);
		assert_non_null(crl);
		assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(i == 0 ? ca : root)), 1);
		sk_X509_CRL_push(crls, crl);
		free(der);
	}
	X509_STORE_add_cert(store, root);
	sk_X509_push(untrusted, ca);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, leaf, untrusted), 1);
	X509_STORE_CTX_set0_crls(ctx, crls);
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	if (X509_verify_cert(ctx) != 1)
		fail_msg("chain: %s", X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	X509_STORE_CTX_free(ctx);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	sk_X509_free(untrusted);
	X509_STORE_free(store);
	X509_free(leaf);
	X509_free(ca);
	X509_free(root);
}

static struct json_object *json_file(const char *path)
{
	uint8_t *data = NULL;
	size_t len;
	struct json_object *o;

	assert_int_equal(file_read_all(path, 1 << 20, &data, &len), 0);
	o = json_tokener_parse((const char *)data);
	free(data);
	assert_non_null(o);
	return o;
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(o, key, &v));
	assert_true(json_object_is_type(v, json_type_string));
	return json_object_get_string(v);
}

/* Re-issued collateral carries the requested windows, statuses and revocations, and its
 * signatures cover the embedded bytes exactly. */
static void test_collateral_variants(void **state)
{
	struct fixture *f = *state;
	struct quotesim_collateral_opts co = {0};
	char dir[96], path[160];
	X509 *tcb_signer, *leaf = cert_load(path_in(f, QUOTESIM_PCK_LEAF));
	_cleanup_(json_object_putp) struct json_object *bundle = NULL, *ti = NULL;
	_cleanup_free_ uint8_t *der = NULL, *crl_hex = NULL;
	struct json_object *levels, *tcb;
	uint8_t sig[64];
	size_t len;
	const char *text;
	const unsigned char *p;
	X509_CRL *crl;
	X509_REVOKED *rev = NULL;

	snprintf(dir, sizeof(dir), "%s/variant", f->dir);
	co.tcb_info.not_before = 1700000000; /* 2023-11-14T22:13:20Z */
	co.tcb_info.not_after = 1700086400;
	co.stale_tcb = true;
	co.revoke_pck = true;
	co.tcb_eval_number = 19;
	assert_int_equal(quotesim_collateral_write(f->sim, dir, &co), 0);

	snprintf(path, sizeof(path), "%s/%s", dir, QUOTESIM_TCB_SIGNING_CHAIN);
	tcb_signer = cert_load(path);
	snprintf(path, sizeof(path), "%s/%s", dir, QUOTESIM_COLLATERAL);
	bundle = json_file(path);
	text = jstr(bundle, "tcb_info");
	assert_int_equal(hex_decode_exact(jstr(bundle, "tcb_info_signature"), 128, sig, 64), 0);
	assert_true(ecdsa_raw_ok(X509_get0_pubkey(tcb_signer), sig, (const uint8_t *)text,
				 strlen(text)));
	assert_int_equal(hex_decode_exact(jstr(bundle, "qe_identity_signature"), 128, sig, 64), 0);
	text = jstr(bundle, "qe_identity");
	assert_true(ecdsa_raw_ok(X509_get0_pubkey(tcb_signer), sig, (const uint8_t *)text,
				 strlen(text)));
	assert_non_null(strstr(text, "\"id\":\"TD_QE\",\"version\":2"));

	ti = json_tokener_parse(jstr(bundle, "tcb_info"));
	assert_non_null(ti);
	assert_string_equal(jstr(ti, "id"), "TDX");
	assert_string_equal(jstr(ti, "issueDate"), "2023-11-14T22:13:20Z");
	assert_string_equal(jstr(ti, "nextUpdate"), "2023-11-15T22:13:20Z");
	assert_string_equal(jstr(ti, "fmspc"), "00906ED50000");
	assert_true(json_object_object_get_ex(ti, "tcbLevels", &levels));
	assert_int_equal(json_object_array_length(levels), 3);
	assert_string_equal(jstr(json_object_array_get_idx(levels, 0), "tcbStatus"), "UpToDate");
	assert_string_equal(jstr(json_object_array_get_idx(levels, 1), "tcbStatus"), "OutOfDate");
	assert_true(json_object_object_get_ex(json_object_array_get_idx(levels, 1), "tcb", &tcb));
	assert_true(json_object_object_get_ex(ti, "tcbEvaluationDataNumber", &tcb));
	assert_int_equal(json_object_get_int(tcb), 19);

	/* The revoked case lists the PCK leaf in the PCK CRL (hex in the bundle, DER beside). */
	assert_int_equal(hex_decode_alloc(jstr(bundle, "pck_crl"), strlen(jstr(bundle, "pck_crl")),
					  &crl_hex, &len),
			 0);
	snprintf(path, sizeof(path), "%s/%s", dir, QUOTESIM_PCK_CRL);
	assert_int_equal(file_read_all(path, 1 << 16, &der, &len), 0);
	p = der;
	crl = d2i_X509_CRL(NULL, &p, (long)len);
	assert_non_null(crl);
	assert_memory_equal(crl_hex, der, len);
	assert_int_equal(X509_CRL_get0_by_serial(crl, &rev, X509_get0_serialNumber(leaf)), 1);

	X509_CRL_free(crl);
	X509_free(tcb_signer);
	X509_free(leaf);
}

/* PCS response form: {"tcbInfo":<signed bytes>,"signature":"hex"}. */
static void test_pcs_response_form(void **state)
{
	struct fixture *f = *state;
	uint8_t *doc = NULL, sig[64];
	size_t len;
	const char *start, *end;
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	X509 *signer = cert_load(path_in(f, QUOTESIM_TCB_SIGNING));

	assert_int_equal(file_read_all(path_in(f, QUOTESIM_TCB_INFO), 1 << 20, &doc, &len), 0);
	o = json_tokener_parse((const char *)doc);
	assert_non_null(o);
	start = strstr((const char *)doc, "{\"tcbInfo\":");
	end = strstr((const char *)doc, ",\"signature\":\"");
	assert_ptr_equal(start, (const char *)doc);
	assert_non_null(end);
	start += strlen("{\"tcbInfo\":");
	assert_int_equal(hex_decode_exact(jstr(o, "signature"), 128, sig, 64), 0);
	assert_true(ecdsa_raw_ok(X509_get0_pubkey(signer), sig, (const uint8_t *)start,
				 (size_t)(end - start)));
	free(doc);
	X509_free(signer);
}

/* The QE report matches the QE identity as the verifier checks it (docs/verify.md). */
static void test_qe_report_matches_identity(void **state)
{
	struct fixture *f = *state;
	struct json_object *doc = json_file(path_in(f, QUOTESIM_QE_IDENTITY)), *qi, *v;
	struct tdx_quote q;
	uint8_t *buf = NULL, mrsigner[32], attrs[16], mask[16];
	size_t len;

	make_quote(f, NULL, NULL, &buf, &len, &q);
	assert_true(json_object_object_get_ex(doc, "enclaveIdentity", &qi));
	assert_string_equal(jstr(qi, "id"), "TD_QE");
	assert_int_equal(hex_decode_exact(jstr(qi, "mrsigner"), 64, mrsigner, 32), 0);
	assert_memory_equal(mrsigner, q.qe_report.mrsigner, 32);
	assert_true(json_object_object_get_ex(qi, "isvprodid", &v));
	assert_int_equal(json_object_get_int(v), q.qe_report.isvprodid);
	assert_int_equal(hex_decode_exact(jstr(qi, "attributes"), 32, attrs, 16), 0);
	assert_int_equal(hex_decode_exact(jstr(qi, "attributesMask"), 32, mask, 16), 0);
	for (int i = 0; i < 16; i++)
		assert_int_equal(q.qe_report.attributes[i] & mask[i], attrs[i]);
	assert_int_equal(q.qe_report.miscselect, 0);
	json_object_put(doc);
	free(buf);
}

/* The QE report is signed once at load, as a real QE's is at its start: two quotes carry the same
 * QE report signature (ECDSA is randomised) while each has its own quote signature; a QE ISVSVN
 * other than the default still gets a fresh, matching QE report. */
static void test_qe_report_presigned(void **state)
{
	struct fixture *f = *state;
	struct quotesim_quote_opts o;
	struct tdx_quote q1, q2, q3;
	uint8_t *b1 = NULL, *b2 = NULL, *b3 = NULL;
	size_t l1, l2, l3;

	make_quote(f, NULL, NULL, &b1, &l1, &q1);
	make_quote(f, NULL, NULL, &b2, &l2, &q2);
	assert_memory_equal(q1.qe_report_sig, q2.qe_report_sig, 64);
	assert_memory_not_equal(q1.signature, q2.signature, 64);
	quotesim_quote_opts_init(f->sim, &o);
	o.qe_isvsvn++;
	make_quote(f, &o, NULL, &b3, &l3, &q3);
	assert_int_equal(q3.qe_report.isvsvn, o.qe_isvsvn);
	assert_memory_not_equal(q1.qe_report_sig, q3.qe_report_sig, 64);
	free(b1);
	free(b2);
	free(b3);
}

/* Stored quote defaults come back from quotesim_quote_opts_init() after a reload; a malformed
 * defaults file is refused at load. */
static void test_quote_defaults(void **state)
{
	struct fixture *f = *state;
	struct quotesim_quote_opts o, back;
	struct quotesim *s = NULL;
	struct tdx_quote q;
	uint8_t *buf = NULL;
	size_t len;
	char dir[96], path[160];
	static const char bad[] = "{\"mrtd\":\"zz\"}";

	snprintf(dir, sizeof(dir), "%s/defaults", f->dir);
	assert_int_equal(quotesim_ca_create(dir, NULL), 0);

	quotesim_quote_opts_init(NULL, &o);
	o.version = 5;
	o.body_type = TDX_BODY_TD15;
	o.body.td_attributes[0] |= 0x01;
	memset(o.body.mrtd, 0x77, TDX_MR_LEN);
	memset(o.body.rtmr[3], 0x33, TDX_MR_LEN);
	memset(o.body.mrservicetd, 0x44, TDX_MR_LEN);
	o.qe_isvsvn = 9;
	o.chain_nul = false;
	o.pad_to = 6000;
	o.tamper = QUOTESIM_TAMPER_BODY | QUOTESIM_TAMPER_QE_AUTH_DATA;
	assert_int_equal(quotesim_quote_defaults_write(dir, &o), 0);
	assert_int_equal(quotesim_load(dir, &s), 0);
	quotesim_quote_opts_init(s, &back);
	assert_memory_equal(&back.body, &o.body, sizeof(o.body));
	assert_int_equal(back.version, 5);
	assert_int_equal(back.body_type, TDX_BODY_TD15);
	assert_int_equal(back.qe_isvsvn, 9);
	assert_false(back.chain_nul);
	assert_int_equal(back.pad_to, 6000);
	assert_int_equal(back.tamper, o.tamper);
	assert_memory_equal(back.user_data, o.user_data, sizeof(o.user_data));

	/* What the agent's simulator source does: defaults, then its REPORTDATA. */
	assert_int_equal(quotesim_quote(s, &back, NULL, &buf, &len), 0);
	assert_int_equal(len, 6000);
	assert_int_equal(quote_parse(buf, len, &q, NULL, 0), 0);
	assert_true(quote_td_debug(&q));
	assert_int_equal(q.version, 5);
	assert_memory_equal(q.body.rtmr[3], o.body.rtmr[3], TDX_MR_LEN);
	free(buf);
	quotesim_free(s);
	s = NULL;

	/* A hierarchy without the file keeps the built-in defaults. */
	quotesim_quote_opts_init(f->sim, &back);
	quotesim_quote_opts_init(NULL, &o);
	assert_memory_equal(&back.body, &o.body, sizeof(o.body));

	snprintf(path, sizeof(path), "%s/%s", dir, QUOTESIM_QUOTE_DEFAULTS);
	assert_int_equal(file_write_private(path, bad, strlen(bad), 1), 0);
	assert_int_equal(quotesim_load(dir, &s), -EINVAL);
	assert_null(s);
}

static void test_load_errors(void **state)
{
	struct fixture *f = *state;
	struct quotesim *s = NULL;
	char dir[96];
	static const char bad_params[] = "{\"format\":1,\"fmspc\":42}";

	assert_int_equal(quotesim_load("/nonexistent/quotesim", &s), -ENOENT);
	assert_null(s);
	/* A directory with a malformed parameters file is refused with -EINVAL. */
	snprintf(dir, sizeof(dir), "%s/broken", f->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(dir, sizeof(dir), "%s/broken/%s", f->dir, QUOTESIM_PARAMS);
	assert_int_equal(file_write_private(dir, bad_params, strlen(bad_params), 1), 0);
	snprintf(dir, sizeof(dir), "%s/broken", f->dir);
	assert_int_equal(quotesim_load(dir, &s), -EINVAL);
	assert_null(s);
}

UNIT_TEST_MAIN(setup, teardown, cmocka_unit_test(test_v4_fields), cmocka_unit_test(test_v5_bodies),
	       cmocka_unit_test(test_debug_and_layout_options), cmocka_unit_test(test_tamper),
	       cmocka_unit_test(test_pck_leaf_extension), cmocka_unit_test(test_chain_and_crls),
	       cmocka_unit_test(test_collateral_variants), cmocka_unit_test(test_pcs_response_form),
	       cmocka_unit_test(test_qe_report_matches_identity),
	       cmocka_unit_test(test_qe_report_presigned), cmocka_unit_test(test_quote_defaults),
	       cmocka_unit_test(test_load_errors))
