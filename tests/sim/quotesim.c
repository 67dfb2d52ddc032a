#include "quotesim.h"

#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cleanup.h"
#include "fileio.h"
#include "hexutil.h"
#include "json_strict.h"
#include "jwk.h"
#include "kbs_msg.h"
#include "log.h"

#define SGX_EXT_OID   "1.2.840.113741.1.13.1"
#define QE_AUTH_LEN   32
#define QE_REPORT_LEN 384
#define TD10_BODY_LEN 584
#define TD15_BODY_LEN 648
#define HEADER_LEN    48
#define FILE_MAX      (1024 * 1024)
#define DAY	      86400

static const uint8_t intel_qe_vendor_id[16] = {0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
					       0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};
/* QE report ATTRIBUTES as real TD QEs report them; the QE identity masks byte 0 with 0xfb. */
static const uint8_t qe_attributes[16] = {0x15, 0, 0, 0, 0, 0, 0, 0, 0xe7, 0, 0, 0, 0, 0, 0, 0};
static const uint8_t default_tee_tcb_svn[16] = {3, 1, 3};
static const uint8_t default_sgx_svn[16] = {3, 3, 2, 2, 4, 1, 0, 5};
static const uint8_t default_fmspc[6] = {0x00, 0x90, 0x6e, 0xd5, 0x00, 0x00};
#define QE_ISVSVN_DEFAULT 8
#define QE_ISVSVN_OLD	  4

struct quotesim {
	char *dir;
	struct quotesim_platform platform;
	EVP_PKEY *root_key, *pck_ca_key, *pck_leaf_key, *tcb_key, *attest_key;
	X509 *root, *pck_ca, *pck_leaf, *tcb_signing;
	char *pck_chain_pem;
	uint8_t attest_pub[64];
	uint8_t qe_mrsigner[32];
	bool has_quote_defaults; /* quote_defaults.json was present */
	struct quotesim_quote_opts quote_defaults;
	/* The QE report and its PCK signature, made once at load as a real QE's is at its start:
	 * a quote then costs one ECDSA signature, as a TD's does. */
	bool qe_presigned;
	uint16_t qe_presigned_isvsvn;
	uint8_t qe_presigned_report[QE_REPORT_LEN], qe_presigned_sig[64];
};

static int ossl_fail(const char *what)
{
	unsigned long e = ERR_get_error();

	ERR_clear_error();
	return log_error_errno(-EIO, "quotesim: %s failed: %s", what,
			       e ? ERR_reason_error_string(e) : "unknown OpenSSL error");
}

/* The QE's MRSIGNER: a fixed test value, distinct from Intel's. */
static void qe_mrsigner_fill(uint8_t out[32])
{
	static const char tag[] = "tdx-unlock quotesim test QE";

	EVP_Digest(tag, sizeof(tag) - 1, out, NULL, EVP_sha256(), NULL);
}

void quotesim_ca_opts_init(struct quotesim_ca_opts *o)
{
	memset(o, 0, sizeof(*o));
	memcpy(o->platform.fmspc, default_fmspc, sizeof(default_fmspc));
	memcpy(o->platform.sgx_tcb_svn, default_sgx_svn, sizeof(default_sgx_svn));
	memcpy(o->platform.cpusvn, default_sgx_svn, sizeof(default_sgx_svn));
	o->platform.pce_svn = 13;
	for (size_t i = 0; i < sizeof(o->platform.ppid); i++)
		o->platform.ppid[i] = (uint8_t)(0xa0 + i);
}

static void window_or_default(const struct quotesim_window *w, time_t now, time_t before,
			      time_t after, time_t *nb, time_t *na)
{
	if (w->not_before == 0 && w->not_after == 0) {
		*nb = now - before;
		*na = now + after;
	} else {
		*nb = w->not_before;
		*na = w->not_after;
	}
}

static void format_time(time_t t, char out[32])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void hex_upper(const uint8_t *in, size_t len, char *out)
{
	hex_encode(in, len, out);
	for (size_t i = 0; out[i]; i++)
		out[i] = (char)toupper((unsigned char)out[i]);
}

static int path_join(const char *dir, const char *name, char *out, size_t out_len)
{
	int n = snprintf(out, out_len, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= out_len)
		return log_error_errno(-ENAMETOOLONG, "quotesim: path %s/%s too long", dir, name);
	return 0;
}

static int write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[PATH_MAX];
	int r;

	r = path_join(dir, name, path, sizeof(path));
	if (r < 0)
		return r;
	return file_write_private(path, data, len, 1);
}

static int read_file(const char *dir, const char *name, uint8_t **data, size_t *len)
{
	char path[PATH_MAX];
	int r;

	r = path_join(dir, name, path, sizeof(path));
	if (r < 0)
		return r;
	return file_read_all(path, FILE_MAX, data, len);
}

/* Writes the memory BIO's contents to dir/name. */
static int write_bio(const char *dir, const char *name, BIO *bio)
{
	char *data;
	long len = BIO_get_mem_data(bio, &data);

	if (len < 0)
		return ossl_fail("BIO_get_mem_data");
	return write_file(dir, name, data, (size_t)len);
}

static int write_key(const char *dir, const char *name, EVP_PKEY *key)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int r;

	if (!bio)
		return -ENOMEM;
	if (!PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL))
		r = ossl_fail("PEM_write_bio_PrivateKey");
	else
		r = write_bio(dir, name, bio);
	BIO_free(bio);
	return r;
}

/* Writes the certificates as one PEM file, in the order given. */
static int write_certs(const char *dir, const char *name, X509 *const *certs, size_t n)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int r = 0;

	if (!bio)
		return -ENOMEM;
	for (size_t i = 0; i < n && r == 0; i++)
		if (!PEM_write_bio_X509(bio, certs[i]))
			r = ossl_fail("PEM_write_bio_X509");
	if (r == 0)
		r = write_bio(dir, name, bio);
	BIO_free(bio);
	return r;
}

static void *pem_key_read(BIO *bio)
{
	return PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
}

static void *pem_cert_read(BIO *bio)
{
	return PEM_read_bio_X509(bio, NULL, NULL, NULL);
}

/* Reads dir/name and parses it with pem_read; the file's bytes are wiped (they may be a key). */
static int load_pem(const char *dir, const char *name, void *(*pem_read)(BIO *), const char *what,
		    void **out)
{
	uint8_t *data = NULL;
	size_t len;
	BIO *bio = NULL;
	int r;

	r = read_file(dir, name, &data, &len);
	if (r < 0)
		return r;
	bio = BIO_new_mem_buf(data, (int)len);
	if (!bio) {
		r = -ENOMEM;
		goto out;
	}
	*out = pem_read(bio);
	if (!*out)
		r = log_error_errno(-EINVAL, "quotesim: %s/%s: not a PEM %s", dir, name, what);
out:
	BIO_free(bio);
	OPENSSL_clear_free(data, len);
	return r;
}

static int load_key(const char *dir, const char *name, EVP_PKEY **out)
{
	void *key = NULL;
	int r = load_pem(dir, name, pem_key_read, "private key", &key);

	*out = key;
	return r;
}

static int load_cert(const char *dir, const char *name, X509 **out)
{
	void *cert = NULL;
	int r = load_pem(dir, name, pem_cert_read, "certificate", &cert);

	*out = cert;
	return r;
}

/* ECDSA P-256 / SHA-256 signature as raw r||s (the form quotes and collateral carry). */
static int sign_raw(EVP_PKEY *key, const void *data, size_t len, uint8_t sig[64])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char der[80];
	const unsigned char *p = der;
	size_t der_len = sizeof(der);
	ECDSA_SIG *es = NULL;
	const BIGNUM *r_bn, *s_bn;
	int r = 0;

	if (!md)
		return -ENOMEM;
	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, der, &der_len, data, len) != 1) {
		r = ossl_fail("ECDSA sign");
		goto out;
	}
	es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	if (!es) {
		r = ossl_fail("d2i_ECDSA_SIG");
		goto out;
	}
	ECDSA_SIG_get0(es, &r_bn, &s_bn);
	if (BN_bn2binpad(r_bn, sig, 32) != 32 || BN_bn2binpad(s_bn, sig + 32, 32) != 32)
		r = ossl_fail("BN_bn2binpad");
out:
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(md);
	return r;
}

static int ec_p256_generate(EVP_PKEY **out)
{
	*out = EVP_EC_gen("P-256");
	return *out ? 0 : ossl_fail("EVP_EC_gen");
}

static int ec_pub_raw(EVP_PKEY *key, uint8_t out[64])
{
	uint8_t pt[65];
	size_t len = 0;

	if (!EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &len) ||
	    len != 65 || pt[0] != 0x04)
		return ossl_fail("reading the P-256 public point");
	memcpy(out, pt + 1, 64);
	return 0;
}

/* ---- certificates ---- */

/* cn_bmp: cn's bytes as they are, as a BMPString (hostile-input tests). */
static X509_NAME *make_name(const char *cn, bool cn_bmp)
{
	X509_NAME *n = X509_NAME_new();

	if (!n)
		return NULL;
	if (!X509_NAME_add_entry_by_txt(n, "CN", cn_bmp ? V_ASN1_BMPSTRING : MBSTRING_UTF8,
					(const unsigned char *)cn, -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
					(const unsigned char *)"tdx-unlock quotesim", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(n, "C", MBSTRING_ASC, (const unsigned char *)"ZZ", -1, -1,
					0)) {
		X509_NAME_free(n);
		return NULL;
	}
	return n;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return ossl_fail(value);
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : ossl_fail("X509_add_ext");
}

static int random_serial(ASN1_INTEGER *serial)
{
	uint8_t b[20];
	BIGNUM *bn;
	int r = 0;

	if (RAND_bytes(b, sizeof(b)) != 1)
		return ossl_fail("RAND_bytes");
	b[0] = (b[0] & 0x7f) | 0x01; /* positive, and always 20 bytes like Intel's */
	bn = BN_bin2bn(b, sizeof(b), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, serial))
		r = ossl_fail("serial number");
	BN_free(bn);
	return r;
}

/* An ASN1_TYPE of the given type holding value (taken), or NULL (value freed) when value_ok is
 * false or allocation fails. */
static ASN1_TYPE *type_take(int type, ASN1_STRING *value, bool value_ok)
{
	ASN1_TYPE *t = value_ok ? ASN1_TYPE_new() : NULL;

	if (!t) {
		ASN1_STRING_free(value);
		return NULL;
	}
	ASN1_TYPE_set(t, type, value);
	return t;
}

static ASN1_TYPE *type_octets(const uint8_t *b, size_t n)
{
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();

	return type_take(V_ASN1_OCTET_STRING, os, os && ASN1_OCTET_STRING_set(os, b, (int)n));
}

static ASN1_TYPE *type_integer(long v)
{
	ASN1_INTEGER *i = ASN1_INTEGER_new();

	return type_take(V_ASN1_INTEGER, i, i && ASN1_INTEGER_set(i, v));
}

static ASN1_TYPE *type_enumerated(long v)
{
	ASN1_ENUMERATED *e = ASN1_ENUMERATED_new();

	return type_take(V_ASN1_ENUMERATED, e, e && ASN1_ENUMERATED_set(e, v));
}

static ASN1_TYPE *type_boolean(int v)
{
	static const int true_value = 1;
	ASN1_TYPE *t = ASN1_TYPE_new();

	/* For BOOLEAN only whether the value pointer is NULL matters. */
	if (t && !ASN1_TYPE_set1(t, V_ASN1_BOOLEAN, v ? &true_value : NULL)) {
		ASN1_TYPE_free(t);
		return NULL;
	}
	return t;
}

/* Wraps a stack of entries as one SEQUENCE-valued ASN1_TYPE; frees the stack. */
static ASN1_TYPE *type_sequence(STACK_OF(ASN1_TYPE) * items)
{
	unsigned char *buf = NULL;
	ASN1_STRING *der = NULL;
	ASN1_TYPE *t = NULL;
	int len;

	len = i2d_ASN1_SEQUENCE_ANY(items, &buf);
	if (len <= 0)
		goto out;
	der = ASN1_STRING_new();
	t = ASN1_TYPE_new();
	if (!der || !t || !ASN1_STRING_set(der, buf, len)) {
		ASN1_TYPE_free(t);
		t = NULL;
		goto out;
	}
	ASN1_TYPE_set(t, V_ASN1_SEQUENCE, der);
	der = NULL;
out:
	ASN1_STRING_free(der);
	OPENSSL_free(buf);
	sk_ASN1_TYPE_pop_free(items, ASN1_TYPE_free);
	return t;
}

/* ASN1_TYPE holding SEQUENCE{OID, value}, taking ownership of value. */
static ASN1_TYPE *sgx_pair(const char *oid, ASN1_TYPE *value)
{
	STACK_OF(ASN1_TYPE) *seq = sk_ASN1_TYPE_new_null();
	ASN1_TYPE *t_oid = ASN1_TYPE_new(), *ret = NULL;
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);

	if (!seq || !t_oid || !obj || !value)
		goto out;
	ASN1_TYPE_set(t_oid, V_ASN1_OBJECT, obj);
	obj = NULL;
	if (!sk_ASN1_TYPE_push(seq, t_oid))
		goto out;
	t_oid = NULL;
	if (!sk_ASN1_TYPE_push(seq, value))
		goto out;
	value = NULL;
	ret = type_sequence(TAKE_PTR(seq));
out:
	ASN1_OBJECT_free(obj);
	ASN1_TYPE_free(t_oid);
	ASN1_TYPE_free(value);
	sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
	return ret;
}

/* Pushes SEQUENCE{oid, value} onto items; NULL value (allocation failure) fails. */
static bool push_pair(STACK_OF(ASN1_TYPE) * items, const char *oid, ASN1_TYPE *value)
{
	ASN1_TYPE *pair = sgx_pair(oid, value);

	if (!pair || !sk_ASN1_TYPE_push(items, pair)) {
		ASN1_TYPE_free(pair);
		return false;
	}
	return true;
}

/* The DER of the SGX extension (docs/verify.md), as Intel's PCK leaves lay it out: a
 * Platform-CA leaf ends with the platform instance ID and configuration, a Processor-CA leaf
 * has neither. */
static int sgx_extension_der(const struct quotesim_platform *p, bool platform_ca,
			     unsigned char **out, int *out_len)
{
	STACK_OF(ASN1_TYPE) *top = sk_ASN1_TYPE_new_null(), *tcb = sk_ASN1_TYPE_new_null(),
			    *config = sk_ASN1_TYPE_new_null();
	uint8_t instance_id[16];
	char oid[64];
	bool ok = top && tcb && config;

	for (int i = 0; ok && i < 16; i++) {
		snprintf(oid, sizeof(oid), SGX_EXT_OID ".2.%d", i + 1);
		ok = push_pair(tcb, oid, type_integer(p->sgx_tcb_svn[i]));
	}
	ok = ok && push_pair(tcb, SGX_EXT_OID ".2.17", type_integer(p->pce_svn));
	ok = ok && push_pair(tcb, SGX_EXT_OID ".2.18", type_octets(p->cpusvn, 16));
	ok = ok && push_pair(config, SGX_EXT_OID ".7.1", type_boolean(0));
	ok = ok && push_pair(config, SGX_EXT_OID ".7.2", type_boolean(1));
	ok = ok && push_pair(config, SGX_EXT_OID ".7.3", type_boolean(1));
	memset(instance_id, 0x5a, sizeof(instance_id));

	ok = ok && push_pair(top, SGX_EXT_OID ".1", type_octets(p->ppid, 16));
	if (ok) {
		ok = push_pair(top, SGX_EXT_OID ".2", type_sequence(tcb));
		tcb = NULL;
	}
	ok = ok && push_pair(top, SGX_EXT_OID ".3", type_octets(p->pce_id, 2));
	ok = ok && push_pair(top, SGX_EXT_OID ".4", type_octets(p->fmspc, 6));
	ok = ok && push_pair(top, SGX_EXT_OID ".5", type_enumerated(1)); /* Scalable */
	ok = ok && (!platform_ca || push_pair(top, SGX_EXT_OID ".6", type_octets(instance_id, 16)));
	if (ok && platform_ca) {
		ok = push_pair(top, SGX_EXT_OID ".7", type_sequence(config));
		config = NULL;
	}
	if (ok) {
		*out = NULL;
		*out_len = i2d_ASN1_SEQUENCE_ANY(top, out);
		ok = *out_len > 0;
	}
	sk_ASN1_TYPE_pop_free(top, ASN1_TYPE_free);
	sk_ASN1_TYPE_pop_free(tcb, ASN1_TYPE_free);
	sk_ASN1_TYPE_pop_free(config, ASN1_TYPE_free);
	return ok ? 0 : ossl_fail("building the SGX extension");
}

static int add_sgx_extension(X509 *cert, const struct quotesim_platform *p, bool platform_ca)
{
	unsigned char *der = NULL;
	int der_len = 0, r;
	ASN1_OCTET_STRING *os = NULL;
	ASN1_OBJECT *obj = NULL;
	X509_EXTENSION *ext = NULL;

	r = sgx_extension_der(p, platform_ca, &der, &der_len);
	if (r < 0)
		return r;
	os = ASN1_OCTET_STRING_new();
	obj = OBJ_txt2obj(SGX_EXT_OID, 1);
	if (!os || !obj || !ASN1_OCTET_STRING_set(os, der, der_len)) {
		r = ossl_fail("SGX extension");
		goto out;
	}
	ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os);
	if (!ext || !X509_add_ext(cert, ext, -1))
		r = ossl_fail("adding the SGX extension");
out:
	X509_EXTENSION_free(ext);
	ASN1_OBJECT_free(obj);
	ASN1_OCTET_STRING_free(os);
	OPENSSL_free(der);
	return r;
}

enum cert_kind { CERT_ROOT, CERT_PCK_CA, CERT_PCK_LEAF, CERT_PCK_LEAF_PROCESSOR, CERT_TCB_SIGNING };

/* Issues a certificate for key under issuer (NULL issuer = self-signed root). */
static int issue_cert(enum cert_kind kind, const char *cn, bool cn_bmp, EVP_PKEY *key, X509 *issuer,
		      EVP_PKEY *issuer_key, time_t nb, time_t na,
		      const struct quotesim_platform *platform, X509 **out)
{
	X509 *cert = X509_new();
	X509_NAME *name = make_name(cn, cn_bmp);
	int r = 0;

	if (!cert || !name) {
		r = -ENOMEM;
		goto out;
	}
	if (!issuer) {
		issuer = cert;
		issuer_key = key;
	}
	if (!X509_set_version(cert, X509_VERSION_3) || !X509_set_subject_name(cert, name) ||
	    !X509_set_issuer_name(cert, X509_get_subject_name(issuer)) ||
	    !ASN1_TIME_set(X509_getm_notBefore(cert), nb) ||
	    !ASN1_TIME_set(X509_getm_notAfter(cert), na) || !X509_set_pubkey(cert, key)) {
		r = ossl_fail("certificate fields");
		goto out;
	}
	r = random_serial(X509_get_serialNumber(cert));
	if (r < 0)
		goto out;
	r = add_ext(cert, issuer, NID_subject_key_identifier, "hash");
	if (r == 0 && kind != CERT_ROOT)
		r = add_ext(cert, issuer, NID_authority_key_identifier, "keyid:always");
	if (r < 0)
		goto out;
	switch (kind) {
	case CERT_ROOT:
		r = add_ext(cert, issuer, NID_basic_constraints, "critical,CA:TRUE,pathlen:1");
		if (r == 0)
			r = add_ext(cert, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
		break;
	case CERT_PCK_CA:
		r = add_ext(cert, issuer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
		if (r == 0)
			r = add_ext(cert, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
		break;
	case CERT_PCK_LEAF:
	case CERT_PCK_LEAF_PROCESSOR:
	case CERT_TCB_SIGNING:
		r = add_ext(cert, issuer, NID_basic_constraints, "critical,CA:FALSE");
		if (r == 0)
			r = add_ext(cert, issuer, NID_key_usage,
				    "critical,digitalSignature,nonRepudiation");
		if (r == 0 && kind != CERT_TCB_SIGNING)
			r = add_sgx_extension(cert, platform, kind == CERT_PCK_LEAF);
		break;
	}
	if (r < 0)
		goto out;
	if (!X509_sign(cert, issuer_key, EVP_sha256())) {
		r = ossl_fail("X509_sign");
		goto out;
	}
	*out = cert;
	cert = NULL;
out:
	X509_NAME_free(name);
	X509_free(cert);
	return r;
}

/* ---- CRLs ---- */

static int crl_add_serial(X509_CRL *crl, const ASN1_INTEGER *serial, time_t when)
{
	X509_REVOKED *rev = X509_REVOKED_new();
	ASN1_TIME *t = ASN1_TIME_set(NULL, when);
	int r = 0;

	if (!rev || !t || !X509_REVOKED_set_serialNumber(rev, (ASN1_INTEGER *)serial) ||
	    !X509_REVOKED_set_revocationDate(rev, t) || !X509_CRL_add0_revoked(crl, rev)) {
		X509_REVOKED_free(rev);
		r = ossl_fail("CRL entry");
	}
	ASN1_TIME_free(t);
	return r;
}

/* Issues a DER CRL by issuer, listing `revoked` (may be NULL) and `filler` unrelated serials. */
static int issue_crl(X509 *issuer, EVP_PKEY *issuer_key, time_t this_update, time_t next_update,
		     const ASN1_INTEGER *revoked, unsigned filler, uint32_t number,
		     unsigned char **der, int *der_len)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *tu = ASN1_TIME_set(NULL, this_update), *tn = ASN1_TIME_set(NULL, next_update);
	ASN1_INTEGER *num = ASN1_INTEGER_new(), *serial = ASN1_INTEGER_new();
	X509V3_CTX ctx;
	X509_EXTENSION *aki = NULL;
	int r = 0;

	if (!crl || !tu || !tn || !num || !serial) {
		r = -ENOMEM;
		goto out;
	}
	if (!X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)) ||
	    !X509_CRL_set1_lastUpdate(crl, tu) || !X509_CRL_set1_nextUpdate(crl, tn)) {
		r = ossl_fail("CRL fields");
		goto out;
	}
	for (unsigned i = 0; i < filler && r == 0; i++) {
		r = random_serial(serial);
		if (r == 0)
			r = crl_add_serial(crl, serial, this_update - DAY);
	}
	if (r == 0 && revoked)
		r = crl_add_serial(crl, revoked, this_update);
	if (r < 0)
		goto out;
	X509V3_set_ctx(&ctx, issuer, NULL, NULL, crl, 0);
	aki = X509V3_EXT_nconf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always");
	if (!aki || !X509_CRL_add_ext(crl, aki, -1) ||
	    !ASN1_INTEGER_set(num, number ? (long)number : 1) ||
	    !X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0)) {
		r = ossl_fail("CRL extensions");
		goto out;
	}
	X509_CRL_sort(crl);
	if (!X509_CRL_sign(crl, issuer_key, EVP_sha256())) {
		r = ossl_fail("X509_CRL_sign");
		goto out;
	}
	*der = NULL;
	*der_len = i2d_X509_CRL(crl, der);
	if (*der_len <= 0)
		r = ossl_fail("i2d_X509_CRL");
out:
	X509_EXTENSION_free(aki);
	ASN1_INTEGER_free(serial);
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(tn);
	ASN1_TIME_free(tu);
	X509_CRL_free(crl);
	return r;
}

/* ---- TCB info and QE identity ---- */

static struct json_object *json_hex_upper(const uint8_t *b, size_t n)
{
	char s[2 * 64 + 1];

	hex_upper(b, n, s);
	return json_object_new_string(s);
}

static struct json_object *json_time(time_t t)
{
	char s[32];

	format_time(t, s);
	return json_object_new_string(s);
}

/* {"svn":N} components, with category/type on the first ones as Intel writes them. */
static struct json_object *tcb_components(const uint8_t svn[16], bool tdx)
{
	struct json_object *arr = json_object_new_array();

	for (int i = 0; arr && i < 16; i++) {
		struct json_object *c = json_object_new_object();

		json_object_object_add(c, "svn", json_object_new_int(svn[i]));
		if (i == 0) {
			json_object_object_add(c, "category",
					       json_object_new_string(tdx ? "OS/VMM" : "BIOS"));
			json_object_object_add(
				c, "type",
				json_object_new_string(tdx ? "TDX Module"
							   : "Early Microcode Update"));
		}
		json_object_array_add(arr, c);
	}
	return arr;
}

static struct json_object *advisories(void)
{
	struct json_object *a = json_object_new_array();

	json_object_array_add(a, json_object_new_string("INTEL-SA-00000"));
	return a;
}

/* {"tcb":tcb,"tcbDate":date,"tcbStatus":status} (taking tcb), with advisories unless
 * UpToDate. */
static struct json_object *level_object(struct json_object *tcb, const char *date,
					const char *status)
{
	struct json_object *level = json_object_new_object();

	json_object_object_add(level, "tcb", tcb);
	json_object_object_add(level, "tcbDate", json_object_new_string(date));
	json_object_object_add(level, "tcbStatus", json_object_new_string(status));
	if (strcmp(status, "UpToDate") != 0)
		json_object_object_add(level, "advisoryIDs", advisories());
	return level;
}

static struct json_object *tcb_level(const uint8_t sgx[16], int pcesvn, const uint8_t tdx[16],
				     const char *date, const char *status)
{
	struct json_object *tcb = json_object_new_object();

	json_object_object_add(tcb, "sgxtcbcomponents", tcb_components(sgx, false));
	json_object_object_add(tcb, "pcesvn", json_object_new_int(pcesvn));
	json_object_object_add(tcb, "tdxtcbcomponents", tcb_components(tdx, true));
	return level_object(tcb, date, status);
}

static struct json_object *isvsvn_level(int isvsvn, const char *date, const char *status)
{
	struct json_object *tcb = json_object_new_object();

	json_object_object_add(tcb, "isvsvn", json_object_new_int(isvsvn));
	return level_object(tcb, date, status);
}

static void module_identity_fields(struct json_object *o)
{
	static const uint8_t zero48[48], zero8[8];
	static const uint8_t ones8[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

	json_object_object_add(o, "mrsigner", json_hex_upper(zero48, sizeof(zero48)));
	json_object_object_add(o, "attributes", json_hex_upper(zero8, sizeof(zero8)));
	json_object_object_add(o, "attributesMask", json_hex_upper(ones8, sizeof(ones8)));
}

/* The tcbInfo object (TDX, version 3) for the platform, serialised compactly. */
static char *tcb_info_text(const struct quotesim_platform *p,
			   const struct quotesim_collateral_opts *o, time_t issue, time_t next)
{
	struct json_object *ti = json_object_new_object(), *mod = json_object_new_object(),
			   *ids = json_object_new_array(), *tdx01 = json_object_new_object(),
			   *mod_levels = json_object_new_array(), *levels = json_object_new_array();
	const char *status =
		o->tcb_status ? o->tcb_status : (o->stale_tcb ? "OutOfDate" : "UpToDate");
	uint8_t newer_sgx[16], newer_tdx[16], zero[16] = {0};
	char *text = NULL;
	const char *s;

	if (!ti || !mod || !ids || !tdx01 || !mod_levels || !levels)
		goto out;
	json_object_object_add(ti, "id", json_object_new_string("TDX"));
	json_object_object_add(ti, "version", json_object_new_int(3));
	json_object_object_add(ti, "issueDate", json_time(issue));
	json_object_object_add(ti, "nextUpdate", json_time(next));
	json_object_object_add(ti, "fmspc",
			       json_hex_upper(o->tcb_fmspc ? o->tcb_fmspc : p->fmspc, 6));
	json_object_object_add(ti, "pceId", json_hex_upper(p->pce_id, 2));
	json_object_object_add(ti, "tcbType", json_object_new_int(0));
	json_object_object_add(ti, "tcbEvaluationDataNumber",
			       json_object_new_int64(o->tcb_eval_number ? o->tcb_eval_number : 17));
	module_identity_fields(mod);
	json_object_object_add(ti, "tdxModule", json_object_get(mod));

	json_object_object_add(tdx01, "id", json_object_new_string("TDX_01"));
	module_identity_fields(tdx01);
	json_object_array_add(mod_levels, isvsvn_level(default_tee_tcb_svn[0],
						       "2024-11-13T00:00:00Z", "UpToDate"));
	json_object_array_add(mod_levels, isvsvn_level(1, "2023-08-09T00:00:00Z", "OutOfDate"));
	json_object_object_add(tdx01, "tcbLevels", json_object_get(mod_levels));
	json_object_array_add(ids, json_object_get(tdx01));
	json_object_object_add(ti, "tdxModuleIdentities", json_object_get(ids));

	if (o->stale_tcb) {
		/* A newer level the platform does not reach: higher SGX and TDX microcode SVNs. */
		memcpy(newer_sgx, p->sgx_tcb_svn, 16);
		memcpy(newer_tdx, default_tee_tcb_svn, 16);
		newer_sgx[0]++;
		newer_tdx[2]++;
		json_object_array_add(levels, tcb_level(newer_sgx, p->pce_svn, newer_tdx,
							"2025-11-12T00:00:00Z", "UpToDate"));
	}
	json_object_array_add(levels, tcb_level(p->sgx_tcb_svn, p->pce_svn, default_tee_tcb_svn,
						"2024-11-13T00:00:00Z", status));
	json_object_array_add(levels,
			      tcb_level(zero, 0, zero, "2018-01-04T00:00:00Z", "OutOfDate"));
	json_object_object_add(ti, "tcbLevels", json_object_get(levels));

	s = json_object_to_json_string_ext(ti,
					   JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	text = s ? strdup(s) : NULL;
out:
	json_object_put(levels);
	json_object_put(mod_levels);
	json_object_put(tdx01);
	json_object_put(ids);
	json_object_put(mod);
	json_object_put(ti);
	return text;
}

static char *qe_identity_text(const struct quotesim *s, const struct quotesim_collateral_opts *o,
			      time_t issue, time_t next)
{
	static const uint8_t miscselect[4], misc_mask[4] = {0xff, 0xff, 0xff, 0xff};
	static const uint8_t attr_mask[16] = {0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	struct json_object *qi = json_object_new_object(), *levels = json_object_new_array();
	uint8_t attrs[16], mrsigner[32];
	char *text = NULL;
	const char *str;

	if (!qi || !levels)
		goto out;
	for (size_t i = 0; i < 16; i++)
		attrs[i] = qe_attributes[i] & attr_mask[i];
	memcpy(mrsigner, s->qe_mrsigner, 32);
	if (o->qe_mismatch)
		mrsigner[0] ^= 0xff;
	json_object_object_add(qi, "id", json_object_new_string("TD_QE"));
	json_object_object_add(qi, "version", json_object_new_int(2));
	json_object_object_add(qi, "issueDate", json_time(issue));
	json_object_object_add(qi, "nextUpdate", json_time(next));
	json_object_object_add(qi, "tcbEvaluationDataNumber",
			       json_object_new_int64(o->tcb_eval_number ? o->tcb_eval_number : 17));
	json_object_object_add(qi, "miscselect", json_hex_upper(miscselect, 4));
	json_object_object_add(qi, "miscselectMask", json_hex_upper(misc_mask, 4));
	json_object_object_add(qi, "attributes", json_hex_upper(attrs, 16));
	json_object_object_add(qi, "attributesMask", json_hex_upper(attr_mask, 16));
	json_object_object_add(qi, "mrsigner", json_hex_upper(mrsigner, 32));
	json_object_object_add(qi, "isvprodid", json_object_new_int(2));
	json_object_array_add(levels,
			      isvsvn_level(QE_ISVSVN_DEFAULT, "2024-11-13T00:00:00Z", "UpToDate"));
	json_object_array_add(levels,
			      isvsvn_level(QE_ISVSVN_OLD, "2023-02-15T00:00:00Z", "OutOfDate"));
	json_object_object_add(qi, "tcbLevels", json_object_get(levels));
	str = json_object_to_json_string_ext(qi, JSON_C_TO_STRING_PLAIN |
							 JSON_C_TO_STRING_NOSLASHESCAPE);
	text = str ? strdup(str) : NULL;
out:
	json_object_put(levels);
	json_object_put(qi);
	return text;
}

/* Signs text with the TCB signing key; sig_hex receives 128 lowercase hex digits. */
static int sign_text_hex(const struct quotesim *s, const char *text, char sig_hex[129])
{
	uint8_t sig[64];
	int r;

	r = sign_raw(s->tcb_key, text, strlen(text), sig);
	if (r < 0)
		return r;
	hex_encode(sig, sizeof(sig), sig_hex);
	return 0;
}

/* {"<key>":<text>,"signature":"<hex>"} with text embedded byte for byte (the signed bytes). */
static int write_signed_json(const char *dir, const char *name, const char *key, const char *text,
			     const char *sig_hex)
{
	size_t cap = strlen(key) + strlen(text) + strlen(sig_hex) + 32;
	char *doc = malloc(cap);
	int n, r;

	if (!doc)
		return -ENOMEM;
	n = snprintf(doc, cap, "{\"%s\":%s,\"signature\":\"%s\"}", key, text, sig_hex);
	if (n < 0 || (size_t)n >= cap) {
		free(doc);
		return -EOVERFLOW;
	}
	r = write_file(dir, name, doc, (size_t)n);
	free(doc);
	return r;
}

static char *certs_pem(X509 *const *certs, size_t n)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *ret = NULL;
	long len;

	if (!bio)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!PEM_write_bio_X509(bio, certs[i]))
			goto out;
	len = BIO_get_mem_data(bio, &data);
	if (len >= 0)
		ret = strndup(data, (size_t)len);
out:
	BIO_free(bio);
	return ret;
}

int quotesim_collateral_write(const struct quotesim *s, const char *out_dir,
			      const struct quotesim_collateral_opts *o)
{
	static const struct quotesim_collateral_opts defaults;
	time_t now = time(NULL), nb, na;
	char *tcb_text = NULL, *qe_text = NULL, *tcb_chain = NULL, *crl_chain = NULL;
	char *pck_crl_hex = NULL, *root_crl_hex = NULL;
	char tcb_sig[129], qe_sig[129];
	unsigned char *pck_crl = NULL, *root_crl = NULL;
	int pck_crl_len = 0, root_crl_len = 0, r;
	struct json_object *bundle = NULL;
	const char *bundle_text;

	if (!o)
		o = &defaults;
	if (mkdir(out_dir, 0700) < 0 && errno != EEXIST)
		return log_error_errno(-errno, "quotesim: cannot create %s: %m", out_dir);

	window_or_default(&o->tcb_info, now, 3600, 30 * DAY, &nb, &na);
	tcb_text = tcb_info_text(&s->platform, o, nb, na);
	window_or_default(&o->qe_identity, now, 3600, 30 * DAY, &nb, &na);
	qe_text = qe_identity_text(s, o, nb, na);
	tcb_chain = certs_pem((X509 *[]){s->tcb_signing, s->root}, 2);
	crl_chain = certs_pem((X509 *[]){s->pck_ca, s->root}, 2);
	if (!tcb_text || !qe_text || !tcb_chain || !crl_chain) {
		r = log_error_errno(-ENOMEM, "quotesim: out of memory building collateral");
		goto out;
	}
	r = sign_text_hex(s, tcb_text, tcb_sig);
	if (r == 0)
		r = sign_text_hex(s, qe_text, qe_sig);
	if (r < 0)
		goto out;

	window_or_default(&o->pck_crl, now, 3600, 30 * DAY, &nb, &na);
	r = issue_crl(s->pck_ca, s->pck_ca_key, nb, na,
		      o->revoke_pck ? X509_get0_serialNumber(s->pck_leaf) : NULL, 3, o->crl_number,
		      &pck_crl, &pck_crl_len);
	if (r < 0)
		goto out;
	window_or_default(&o->root_crl, now, 3600, 30 * DAY, &nb, &na);
	r = issue_crl(s->root, s->root_key, nb, na,
		      o->revoke_pck_ca ? X509_get0_serialNumber(s->pck_ca) : NULL, 0, o->crl_number,
		      &root_crl, &root_crl_len);
	if (r < 0)
		goto out;

	r = write_signed_json(out_dir, QUOTESIM_TCB_INFO, "tcbInfo", tcb_text, tcb_sig);
	if (r == 0)
		r = write_signed_json(out_dir, QUOTESIM_QE_IDENTITY, "enclaveIdentity", qe_text,
				      qe_sig);
	if (r == 0)
		r = write_file(out_dir, QUOTESIM_PCK_CRL, pck_crl, (size_t)pck_crl_len);
	if (r == 0)
		r = write_file(out_dir, QUOTESIM_ROOT_CRL, root_crl, (size_t)root_crl_len);
	if (r == 0)
		r = write_file(out_dir, QUOTESIM_TCB_SIGNING_CHAIN, tcb_chain, strlen(tcb_chain));
	if (r == 0)
		r = write_file(out_dir, QUOTESIM_PCK_CRL_CHAIN, crl_chain, strlen(crl_chain));
	if (r == 0 && strcmp(out_dir, s->dir) != 0)
		r = write_certs(out_dir, QUOTESIM_ROOT_CA, &s->root, 1);
	if (r < 0)
		goto out;

	/* The dcap-qvl QuoteCollateralV3 bundle: same signed bytes, as JSON strings. */
	pck_crl_hex = hex_encode_alloc(pck_crl, (size_t)pck_crl_len);
	root_crl_hex = hex_encode_alloc(root_crl, (size_t)root_crl_len);
	bundle = json_object_new_object();
	if (!pck_crl_hex || !root_crl_hex || !bundle) {
		r = -ENOMEM;
		goto out;
	}
	json_object_object_add(bundle, "pck_crl_issuer_chain", json_object_new_string(crl_chain));
	json_object_object_add(bundle, "root_ca_crl", json_object_new_string(root_crl_hex));
	json_object_object_add(bundle, "pck_crl", json_object_new_string(pck_crl_hex));
	json_object_object_add(bundle, "tcb_info_issuer_chain", json_object_new_string(tcb_chain));
	json_object_object_add(bundle, "tcb_info", json_object_new_string(tcb_text));
	json_object_object_add(bundle, "tcb_info_signature", json_object_new_string(tcb_sig));
	json_object_object_add(bundle, "qe_identity_issuer_chain",
			       json_object_new_string(tcb_chain));
	json_object_object_add(bundle, "qe_identity", json_object_new_string(qe_text));
	json_object_object_add(bundle, "qe_identity_signature", json_object_new_string(qe_sig));
	bundle_text = json_object_to_json_string_ext(
		bundle, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	r = bundle_text ? write_file(out_dir, QUOTESIM_COLLATERAL, bundle_text, strlen(bundle_text))
			: -ENOMEM;
out:
	json_object_put(bundle);
	free(pck_crl_hex);
	free(root_crl_hex);
	OPENSSL_free(pck_crl);
	OPENSSL_free(root_crl);
	free(tcb_text);
	free(qe_text);
	free(tcb_chain);
	free(crl_chain);
	return r;
}

/* ---- parameters file ---- */

static int params_write(const char *dir, const struct quotesim_platform *p)
{
	struct json_object *o = json_object_new_object(), *svns = json_object_new_array();
	char hex[2 * 16 + 1];
	const char *text;
	int r;

	if (!o || !svns) {
		json_object_put(o);
		json_object_put(svns);
		return -ENOMEM;
	}
	json_object_object_add(o, "format", json_object_new_int(1));
	hex_encode(p->fmspc, 6, hex);
	json_object_object_add(o, "fmspc", json_object_new_string(hex));
	hex_encode(p->pce_id, 2, hex);
	json_object_object_add(o, "pce_id", json_object_new_string(hex));
	hex_encode(p->ppid, 16, hex);
	json_object_object_add(o, "ppid", json_object_new_string(hex));
	for (int i = 0; i < 16; i++)
		json_object_array_add(svns, json_object_new_int(p->sgx_tcb_svn[i]));
	json_object_object_add(o, "sgx_tcb_svn", svns);
	json_object_object_add(o, "pce_svn", json_object_new_int(p->pce_svn));
	hex_encode(p->cpusvn, 16, hex);
	json_object_object_add(o, "cpusvn", json_object_new_string(hex));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	r = text ? write_file(dir, QUOTESIM_PARAMS, text, strlen(text)) : -ENOMEM;
	json_object_put(o);
	return r;
}

static int params_hex(struct json_object *o, const char *key, uint8_t *out, size_t len)
{
	struct json_object *v;
	const char *s;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return log_error_errno(-EINVAL,
				       "quotesim: " QUOTESIM_PARAMS ": '%s' missing or "
				       "not a string",
				       key);
	s = json_object_get_string(v);
	if (hex_decode_exact(s, strlen(s), out, len) < 0)
		return log_error_errno(-EINVAL,
				       "quotesim: " QUOTESIM_PARAMS ": '%s' is not %zu hex bytes",
				       key, len);
	return 0;
}

static int params_int(struct json_object *o, const char *key, int max, int *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return log_error_errno(
			-EINVAL, "quotesim: " QUOTESIM_PARAMS ": '%s' missing or not an integer",
			key);
	*out = json_object_get_int(v);
	if (*out < 0 || *out > max)
		return log_error_errno(-EINVAL, "quotesim: " QUOTESIM_PARAMS ": '%s' out of range",
				       key);
	return 0;
}

static int params_read(const char *dir, struct quotesim_platform *p)
{
	uint8_t *data = NULL;
	size_t len;
	struct json_object *o = NULL, *svns;
	int r, v = 0;

	r = read_file(dir, QUOTESIM_PARAMS, &data, &len);
	if (r < 0)
		return r;
	o = json_tokener_parse((const char *)data);
	if (!o || !json_object_is_type(o, json_type_object)) {
		r = log_error_errno(-EINVAL, "quotesim: %s/" QUOTESIM_PARAMS ": not a JSON object",
				    dir);
		goto out;
	}
	r = params_hex(o, "fmspc", p->fmspc, 6);
	if (r == 0)
		r = params_hex(o, "pce_id", p->pce_id, 2);
	if (r == 0)
		r = params_hex(o, "ppid", p->ppid, 16);
	if (r == 0)
		r = params_hex(o, "cpusvn", p->cpusvn, 16);
	if (r == 0)
		r = params_int(o, "pce_svn", UINT16_MAX, &v);
	if (r < 0)
		goto out;
	p->pce_svn = (uint16_t)v;
	if (!json_object_object_get_ex(o, "sgx_tcb_svn", &svns) ||
	    !json_object_is_type(svns, json_type_array) || json_object_array_length(svns) != 16) {
		r = log_error_errno(-EINVAL, "quotesim: " QUOTESIM_PARAMS
					     ": 'sgx_tcb_svn' is not an array of 16");
		goto out;
	}
	for (size_t i = 0; i < 16; i++) {
		struct json_object *e = json_object_array_get_idx(svns, i);

		if (!json_object_is_type(e, json_type_int) || json_object_get_int(e) < 0 ||
		    json_object_get_int(e) > 255) {
			r = log_error_errno(-EINVAL, "quotesim: " QUOTESIM_PARAMS
						     ": 'sgx_tcb_svn' entries must be 0..255");
			goto out;
		}
		p->sgx_tcb_svn[i] = (uint8_t)json_object_get_int(e);
	}
out:
	json_object_put(o);
	free(data);
	return r;
}

/* ---- quote defaults (quote_defaults.json) ---- */

static const struct {
	const char *name;
	unsigned flag;
} tamper_names[] = {
	{"header", QUOTESIM_TAMPER_HEADER},
	{"body", QUOTESIM_TAMPER_BODY},
	{"quote-sig", QUOTESIM_TAMPER_QUOTE_SIG},
	{"attest-key", QUOTESIM_TAMPER_ATTEST_KEY},
	{"qe-report", QUOTESIM_TAMPER_QE_REPORT},
	{"qe-report-sig", QUOTESIM_TAMPER_QE_REPORT_SIG},
	{"qe-auth-data", QUOTESIM_TAMPER_QE_AUTH_DATA},
	{"qe-report-data", QUOTESIM_TAMPER_QE_REPORT_DATA},
};

/* Byte-string fields of the TD report body (REPORTDATA is per quote, never a default). */
static const struct {
	const char *key;
	size_t off, len;
} body_fields[] = {
	{"tee_tcb_svn", offsetof(struct tdx_td_body, tee_tcb_svn), 16},
	{"mrseam", offsetof(struct tdx_td_body, mrseam), TDX_MR_LEN},
	{"mrsignerseam", offsetof(struct tdx_td_body, mrsignerseam), TDX_MR_LEN},
	{"seam_attributes", offsetof(struct tdx_td_body, seam_attributes), 8},
	{"td_attributes", offsetof(struct tdx_td_body, td_attributes), 8},
	{"xfam", offsetof(struct tdx_td_body, xfam), 8},
	{"mrtd", offsetof(struct tdx_td_body, mrtd), TDX_MR_LEN},
	{"mrconfigid", offsetof(struct tdx_td_body, mrconfigid), TDX_MR_LEN},
	{"mrowner", offsetof(struct tdx_td_body, mrowner), TDX_MR_LEN},
	{"mrownerconfig", offsetof(struct tdx_td_body, mrownerconfig), TDX_MR_LEN},
	{"rtmr0", offsetof(struct tdx_td_body, rtmr[0]), TDX_MR_LEN},
	{"rtmr1", offsetof(struct tdx_td_body, rtmr[1]), TDX_MR_LEN},
	{"rtmr2", offsetof(struct tdx_td_body, rtmr[2]), TDX_MR_LEN},
	{"rtmr3", offsetof(struct tdx_td_body, rtmr[3]), TDX_MR_LEN},
	{"tee_tcb_svn2", offsetof(struct tdx_td_body, tee_tcb_svn2), 16},
	{"mrservicetd", offsetof(struct tdx_td_body, mrservicetd), TDX_MR_LEN},
};

int quotesim_quote_defaults_write(const char *dir, const struct quotesim_quote_opts *o)
{
	struct json_object *j = json_object_new_object(), *tamper = json_object_new_array();
	char hex[2 * TDX_MR_LEN + 1];
	const char *text;
	int r;

	if (!j || !tamper) {
		json_object_put(j);
		json_object_put(tamper);
		return -ENOMEM;
	}
	if (o->chain_pem_override) {
		json_object_put(j);
		json_object_put(tamper);
		return log_error_errno(-EINVAL, "quotesim: a chain override cannot be a default");
	}
	json_object_object_add(j, "version", json_object_new_int(o->version));
	json_object_object_add(j, "body_type", json_object_new_int(o->body_type));
	for (size_t i = 0; i < ARRAY_SIZE(body_fields); i++) {
		hex_encode((const uint8_t *)&o->body + body_fields[i].off, body_fields[i].len, hex);
		json_object_object_add(j, body_fields[i].key, json_object_new_string(hex));
	}
	hex_encode(o->user_data, sizeof(o->user_data), hex);
	json_object_object_add(j, "user_data", json_object_new_string(hex));
	json_object_object_add(j, "qe_isvsvn", json_object_new_int(o->qe_isvsvn));
	json_object_object_add(j, "cert_data_type", json_object_new_int(o->cert_data_type));
	json_object_object_add(j, "inner_cert_data_type",
			       json_object_new_int(o->inner_cert_data_type));
	json_object_object_add(j, "chain_nul", json_object_new_boolean(o->chain_nul));
	json_object_object_add(j, "pad_to", json_object_new_int64((int64_t)o->pad_to));
	for (size_t i = 0; i < ARRAY_SIZE(tamper_names); i++)
		if (o->tamper & tamper_names[i].flag)
			json_object_array_add(tamper, json_object_new_string(tamper_names[i].name));
	json_object_object_add(j, "tamper", tamper);
	text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY);
	r = text ? write_file(dir, QUOTESIM_QUOTE_DEFAULTS, text, strlen(text)) : -ENOMEM;
	json_object_put(j);
	return r;
}

/* Reads quote_defaults.json if present over the built-in defaults; every key is optional. */
static int quote_defaults_read(struct quotesim *s)
{
	struct json_object *j = NULL, *v;
	struct quotesim_quote_opts *o = &s->quote_defaults;
	uint8_t *data = NULL;
	char path[PATH_MAX];
	size_t len;
	int r, n;

	quotesim_quote_opts_init(NULL, o);
	r = path_join(s->dir, QUOTESIM_QUOTE_DEFAULTS, path, sizeof(path));
	if (r < 0)
		return r;
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return 0; /* optional file: no message */
	r = file_read_all(path, FILE_MAX, &data, &len);
	if (r < 0)
		return r;
	j = json_tokener_parse((const char *)data);
	if (!j || !json_object_is_type(j, json_type_object)) {
		r = log_error_errno(-EINVAL,
				    "quotesim: " QUOTESIM_QUOTE_DEFAULTS ": not a JSON object");
		goto out;
	}
	for (size_t i = 0; i < ARRAY_SIZE(body_fields) && r == 0; i++)
		if (json_object_object_get_ex(j, body_fields[i].key, NULL))
			r = params_hex(j, body_fields[i].key,
				       (uint8_t *)&o->body + body_fields[i].off,
				       body_fields[i].len);
	if (r == 0 && json_object_object_get_ex(j, "user_data", NULL))
		r = params_hex(j, "user_data", o->user_data, sizeof(o->user_data));
#define INT_KEY(key, field, max)                                 \
	if (r == 0 && json_object_object_get_ex(j, key, NULL)) { \
		r = params_int(j, key, max, &n);                 \
		if (r == 0)                                      \
			(field) = n;                             \
	}
	INT_KEY("version", o->version, UINT16_MAX)
	INT_KEY("body_type", o->body_type, UINT16_MAX)
	INT_KEY("qe_isvsvn", o->qe_isvsvn, UINT16_MAX)
	INT_KEY("cert_data_type", o->cert_data_type, UINT16_MAX)
	INT_KEY("inner_cert_data_type", o->inner_cert_data_type, UINT16_MAX)
	INT_KEY("pad_to", o->pad_to, TDX_QUOTE_MAX_LEN)
#undef INT_KEY
	if (r < 0)
		goto out;
	if (json_object_object_get_ex(j, "chain_nul", &v)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			r = log_error_errno(-EINVAL, "quotesim: " QUOTESIM_QUOTE_DEFAULTS
						     ": 'chain_nul' is not a boolean");
			goto out;
		}
		o->chain_nul = json_object_get_boolean(v);
	}
	if (json_object_object_get_ex(j, "tamper", &v)) {
		if (!json_object_is_type(v, json_type_array)) {
			r = log_error_errno(-EINVAL, "quotesim: " QUOTESIM_QUOTE_DEFAULTS
						     ": 'tamper' is not an array");
			goto out;
		}
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			struct json_object *e = json_object_array_get_idx(v, i);
			unsigned flag;

			if (!json_object_is_type(e, json_type_string)) {
				r = log_error_errno(-EINVAL, "quotesim: " QUOTESIM_QUOTE_DEFAULTS
							     ": 'tamper' entries must be strings");
				goto out;
			}
			r = quotesim_tamper_from_name(json_object_get_string(e), &flag);
			if (r < 0)
				goto out;
			o->tamper |= flag;
		}
	}
	s->has_quote_defaults = true;
out:
	json_object_put(j);
	free(data);
	return r;
}

/* ---- hierarchy ---- */

void quotesim_free(struct quotesim *s)
{
	if (!s)
		return;
	EVP_PKEY_free(s->root_key);
	EVP_PKEY_free(s->pck_ca_key);
	EVP_PKEY_free(s->pck_leaf_key);
	EVP_PKEY_free(s->tcb_key);
	EVP_PKEY_free(s->attest_key);
	X509_free(s->root);
	X509_free(s->pck_ca);
	X509_free(s->pck_leaf);
	X509_free(s->tcb_signing);
	free(s->pck_chain_pem);
	free(s->dir);
	free(s);
}

static int quotesim_finish(struct quotesim *s)
{
	s->pck_chain_pem = certs_pem((X509 *[]){s->pck_leaf, s->pck_ca, s->root}, 3);
	if (!s->pck_chain_pem)
		return log_error_errno(-ENOMEM, "quotesim: cannot encode the PCK chain");
	qe_mrsigner_fill(s->qe_mrsigner);
	return ec_pub_raw(s->attest_key, s->attest_pub);
}

int quotesim_ca_create(const char *dir, const struct quotesim_ca_opts *o)
{
	struct quotesim_ca_opts defaults;
	struct quotesim *s = calloc(1, sizeof(*s));
	time_t now = time(NULL), ca_nb, ca_na, leaf_nb, leaf_na;
	int r;

	if (!s)
		return -ENOMEM;
	if (!o) {
		quotesim_ca_opts_init(&defaults);
		o = &defaults;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		r = log_error_errno(-errno, "quotesim: cannot create %s: %m", dir);
		goto out;
	}
	s->dir = strdup(dir);
	if (!s->dir) {
		r = -ENOMEM;
		goto out;
	}
	s->platform = o->platform;
	window_or_default(&o->ca_validity, now, DAY, 3650L * DAY, &ca_nb, &ca_na);
	window_or_default(&o->leaf_validity, now, DAY, 7 * 365L * DAY, &leaf_nb, &leaf_na);

	r = ec_p256_generate(&s->root_key);
	if (r == 0)
		r = ec_p256_generate(&s->pck_ca_key);
	if (r == 0)
		r = ec_p256_generate(&s->pck_leaf_key);
	if (r == 0)
		r = ec_p256_generate(&s->tcb_key);
	if (r == 0)
		r = ec_p256_generate(&s->attest_key);
	if (r == 0)
		r = issue_cert(CERT_ROOT, "Test SGX Root CA", false, s->root_key, NULL, NULL, ca_nb,
			       ca_na, NULL, &s->root);
	if (r == 0)
		r = issue_cert(
			CERT_PCK_CA,
			o->processor_ca ? "Test SGX PCK Processor CA" : "Test SGX PCK Platform CA",
			false, s->pck_ca_key, s->root, s->root_key, ca_nb, ca_na, NULL, &s->pck_ca);
	if (r == 0)
		r = issue_cert(o->processor_ca ? CERT_PCK_LEAF_PROCESSOR : CERT_PCK_LEAF,
			       o->pck_leaf_cn ? o->pck_leaf_cn : "Test SGX PCK Certificate",
			       o->pck_leaf_cn_bmp, s->pck_leaf_key, s->pck_ca, s->pck_ca_key,
			       leaf_nb, leaf_na, &s->platform, &s->pck_leaf);
	if (r == 0)
		r = issue_cert(CERT_TCB_SIGNING, "Test SGX TCB Signing", false, s->tcb_key, s->root,
			       s->root_key, ca_nb, ca_na, NULL, &s->tcb_signing);
	if (r == 0)
		r = quotesim_finish(s);
	if (r != 0)
		goto out;

	r = write_key(dir, QUOTESIM_ROOT_CA_KEY, s->root_key);
	if (r == 0)
		r = write_key(dir, QUOTESIM_PCK_CA_KEY, s->pck_ca_key);
	if (r == 0)
		r = write_key(dir, QUOTESIM_PCK_LEAF_KEY, s->pck_leaf_key);
	if (r == 0)
		r = write_key(dir, QUOTESIM_TCB_SIGNING_KEY, s->tcb_key);
	if (r == 0)
		r = write_key(dir, QUOTESIM_ATTEST_KEY, s->attest_key);
	if (r == 0)
		r = write_certs(dir, QUOTESIM_ROOT_CA, &s->root, 1);
	if (r == 0)
		r = write_certs(dir, QUOTESIM_PCK_CA, &s->pck_ca, 1);
	if (r == 0)
		r = write_certs(dir, QUOTESIM_PCK_LEAF, &s->pck_leaf, 1);
	if (r == 0)
		r = write_certs(dir, QUOTESIM_TCB_SIGNING, &s->tcb_signing, 1);
	if (r == 0)
		r = write_file(dir, QUOTESIM_PCK_CHAIN, s->pck_chain_pem, strlen(s->pck_chain_pem));
	if (r == 0)
		r = params_write(dir, &s->platform);
	if (r == 0)
		r = quotesim_collateral_write(s, dir, &o->collateral);
	if (r == 0) {
		/* A new hierarchy starts from the built-in quote defaults. */
		char path[PATH_MAX];

		r = path_join(dir, QUOTESIM_QUOTE_DEFAULTS, path, sizeof(path));
		if (r == 0 && unlink(path) < 0 && errno != ENOENT)
			r = log_error_errno(-errno, "quotesim: cannot remove %s: %m", path);
	}
out:
	quotesim_free(s);
	return r;
}

static int qe_report_build(const struct quotesim *s, const struct quotesim_quote_opts *o,
			   const uint8_t *auth, size_t auth_len, uint8_t rep[QE_REPORT_LEN]);

static void qe_auth_fill(uint8_t auth[QE_AUTH_LEN])
{
	for (size_t i = 0; i < QE_AUTH_LEN; i++)
		auth[i] = (uint8_t)i; /* as Intel's QE: 00 01 .. 1f */
}

/* Signs the QE report of the default QE ISVSVN once (quotesim_quote() reuses it). */
static int qe_presign(struct quotesim *s)
{
	struct quotesim_quote_opts o;
	uint8_t auth[QE_AUTH_LEN];
	int r;

	quotesim_quote_opts_init(s, &o);
	qe_auth_fill(auth);
	r = qe_report_build(s, &o, auth, sizeof(auth), s->qe_presigned_report);
	if (r == 0)
		r = sign_raw(s->pck_leaf_key, s->qe_presigned_report, QE_REPORT_LEN,
			     s->qe_presigned_sig);
	s->qe_presigned = r == 0;
	s->qe_presigned_isvsvn = o.qe_isvsvn;
	return r;
}

int quotesim_load(const char *dir, struct quotesim **out)
{
	struct quotesim *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->dir = strdup(dir);
	if (!s->dir) {
		r = -ENOMEM;
		goto out;
	}
	r = params_read(dir, &s->platform);
	if (r == 0)
		r = load_key(dir, QUOTESIM_ROOT_CA_KEY, &s->root_key);
	if (r == 0)
		r = load_key(dir, QUOTESIM_PCK_CA_KEY, &s->pck_ca_key);
	if (r == 0)
		r = load_key(dir, QUOTESIM_PCK_LEAF_KEY, &s->pck_leaf_key);
	if (r == 0)
		r = load_key(dir, QUOTESIM_TCB_SIGNING_KEY, &s->tcb_key);
	if (r == 0)
		r = load_key(dir, QUOTESIM_ATTEST_KEY, &s->attest_key);
	if (r == 0)
		r = load_cert(dir, QUOTESIM_ROOT_CA, &s->root);
	if (r == 0)
		r = load_cert(dir, QUOTESIM_PCK_CA, &s->pck_ca);
	if (r == 0)
		r = load_cert(dir, QUOTESIM_PCK_LEAF, &s->pck_leaf);
	if (r == 0)
		r = load_cert(dir, QUOTESIM_TCB_SIGNING, &s->tcb_signing);
	if (r == 0)
		r = quotesim_finish(s);
	if (r == 0)
		r = quote_defaults_read(s);
	if (r == 0)
		r = qe_presign(s);
	if (r < 0)
		goto out;
	*out = s;
	s = NULL;
out:
	quotesim_free(s);
	return r;
}

/* ---- quotes ---- */

void quotesim_quote_opts_init(const struct quotesim *s, struct quotesim_quote_opts *o)
{
	if (s && s->has_quote_defaults) {
		*o = s->quote_defaults;
		return;
	}
	memset(o, 0, sizeof(*o));
	o->version = 4;
	o->body_type = TDX_BODY_TD10;
	memcpy(o->body.tee_tcb_svn, default_tee_tcb_svn, 16);
	memset(o->body.mrseam, 0x5e, TDX_MR_LEN);
	o->body.td_attributes[3] = 0x10; /* SEPT_VE_DISABLE (bit 28), DEBUG clear */
	o->body.xfam[0] = 0xe7;
	o->body.xfam[1] = 0x02;
	o->body.xfam[2] = 0x06;
	memset(o->body.mrtd, 0x11, TDX_MR_LEN);
	for (int i = 0; i < 4; i++)
		memset(o->body.rtmr[i], 0x20 + i, TDX_MR_LEN);
	for (int i = 0; i < 16; i++)
		o->user_data[i] = (uint8_t)(0xc0 + i);
	o->qe_isvsvn = QE_ISVSVN_DEFAULT;
	o->cert_data_type = 6;
	o->inner_cert_data_type = 5;
	o->chain_nul = true;
}

struct qbuf {
	uint8_t *p;
	size_t len, cap;
};

static void put(struct qbuf *b, const void *d, size_t n)
{
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void put_u16(struct qbuf *b, uint16_t v)
{
	uint8_t le[2] = {(uint8_t)v, (uint8_t)(v >> 8)};

	put(b, le, 2);
}

static void put_u32(struct qbuf *b, uint32_t v)
{
	uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};

	put(b, le, 4);
}

static void put_td_body(struct qbuf *b, const struct tdx_td_body *t, bool td15)
{
	put(b, t->tee_tcb_svn, 16);
	put(b, t->mrseam, TDX_MR_LEN);
	put(b, t->mrsignerseam, TDX_MR_LEN);
	put(b, t->seam_attributes, 8);
	put(b, t->td_attributes, 8);
	put(b, t->xfam, 8);
	put(b, t->mrtd, TDX_MR_LEN);
	put(b, t->mrconfigid, TDX_MR_LEN);
	put(b, t->mrowner, TDX_MR_LEN);
	put(b, t->mrownerconfig, TDX_MR_LEN);
	for (int i = 0; i < 4; i++)
		put(b, t->rtmr[i], TDX_MR_LEN);
	put(b, t->report_data, TDX_REPORT_DATA_LEN);
	if (td15) {
		put(b, t->tee_tcb_svn2, 16);
		put(b, t->mrservicetd, TDX_MR_LEN);
	}
}

/* The TD QE's SGX report body (docs/verify.md), binding the attestation key. */
static int qe_report_build(const struct quotesim *s, const struct quotesim_quote_opts *o,
			   const uint8_t *auth, size_t auth_len, uint8_t rep[QE_REPORT_LEN])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int r = 0;

	if (!md)
		return -ENOMEM;
	memset(rep, 0, QE_REPORT_LEN);
	memcpy(rep + 0, s->platform.cpusvn, 16);
	memcpy(rep + 48, qe_attributes, 16);
	memset(rep + 64, 0x3e, 32); /* MRENCLAVE */
	memcpy(rep + 128, s->qe_mrsigner, 32);
	rep[256] = 2; /* ISVPRODID of the TD QE */
	rep[258] = (uint8_t)o->qe_isvsvn;
	rep[259] = (uint8_t)(o->qe_isvsvn >> 8);
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, s->attest_pub, 64) != 1 ||
	    EVP_DigestUpdate(md, auth, auth_len) != 1 ||
	    EVP_DigestFinal_ex(md, rep + 320, NULL) != 1)
		r = ossl_fail("QE report data hash");
	EVP_MD_CTX_free(md);
	return r;
}

int quotesim_quote(const struct quotesim *s, const struct quotesim_quote_opts *o,
		   const uint8_t report_data[TDX_REPORT_DATA_LEN], uint8_t **out, size_t *out_len)
{
	struct quotesim_quote_opts defaults;
	struct tdx_td_body body;
	struct qbuf b = {0};
	uint8_t auth[QE_AUTH_LEN], qe_report[QE_REPORT_LEN], qe_sig[64], sig[64];
	const char *chain;
	size_t body_len, chain_len, inner_len, cert_len, sig_data_len, signed_len, total;
	size_t off_sig, off_key, off_qe, off_qe_sig, off_auth;
	int r;

	if (!o) {
		quotesim_quote_opts_init(s, &defaults);
		o = &defaults;
	}
	if (o->version != 4 && o->version != 5)
		return log_error_errno(-EINVAL, "quotesim: quote version %u unsupported (4 or 5)",
				       o->version);
	if (o->version == 5 && o->body_type != TDX_BODY_TD10 && o->body_type != TDX_BODY_TD15)
		return log_error_errno(-EINVAL, "quotesim: v5 body type %u unsupported (2 or 3)",
				       o->body_type);
	body = o->body;
	if (report_data)
		memcpy(body.report_data, report_data, TDX_REPORT_DATA_LEN);
	else
		memset(body.report_data, 0, TDX_REPORT_DATA_LEN);

	qe_auth_fill(auth);
	if (s->qe_presigned && o->qe_isvsvn == s->qe_presigned_isvsvn &&
	    !(o->tamper & QUOTESIM_TAMPER_QE_REPORT_DATA)) {
		memcpy(qe_report, s->qe_presigned_report, QE_REPORT_LEN);
		memcpy(qe_sig, s->qe_presigned_sig, sizeof(qe_sig));
	} else {
		r = qe_report_build(s, o, auth, sizeof(auth), qe_report);
		if (r < 0)
			return r;
		if (o->tamper & QUOTESIM_TAMPER_QE_REPORT_DATA)
			qe_report[320] ^= 0x01;
		r = sign_raw(s->pck_leaf_key, qe_report, sizeof(qe_report), qe_sig);
		if (r < 0)
			return r;
	}

	chain = o->chain_pem_override ? o->chain_pem_override : s->pck_chain_pem;
	chain_len = strlen(chain);
	body_len =
		(o->version == 5 && o->body_type == TDX_BODY_TD15) ? TD15_BODY_LEN : TD10_BODY_LEN;
	inner_len = chain_len + (o->chain_nul ? 1 : 0);
	cert_len = QE_REPORT_LEN + 64 + 2 + QE_AUTH_LEN + 2 + 4 + inner_len;
	sig_data_len = 64 + 64 + 2 + 4 + cert_len;
	signed_len = HEADER_LEN + (o->version == 5 ? 6 : 0) + body_len;
	total = signed_len + 4 + sig_data_len;
	b.cap = total > o->pad_to ? total : o->pad_to;
	b.p = calloc(1, b.cap);
	if (!b.p)
		return -ENOMEM;

	put_u16(&b, o->version);
	put_u16(&b, 2); /* ECDSA-256 with P-256 */
	put_u32(&b, TDX_TEE_TYPE_TDX);
	put_u32(&b, 0); /* reserved */
	put(&b, intel_qe_vendor_id, 16);
	put(&b, o->user_data, 20);
	if (o->version == 5) {
		put_u16(&b, o->body_type);
		put_u32(&b, (uint32_t)body_len);
	}
	put_td_body(&b, &body, body_len == TD15_BODY_LEN);

	r = sign_raw(s->attest_key, b.p, signed_len, sig);
	if (r < 0)
		goto out;
	put_u32(&b, (uint32_t)sig_data_len);
	off_sig = b.len;
	put(&b, sig, 64);
	off_key = b.len;
	put(&b, s->attest_pub, 64);
	put_u16(&b, o->cert_data_type);
	put_u32(&b, (uint32_t)cert_len);
	off_qe = b.len;
	put(&b, qe_report, QE_REPORT_LEN);
	off_qe_sig = b.len;
	put(&b, qe_sig, 64);
	put_u16(&b, QE_AUTH_LEN);
	off_auth = b.len;
	put(&b, auth, QE_AUTH_LEN);
	put_u16(&b, o->inner_cert_data_type);
	put_u32(&b, (uint32_t)inner_len);
	put(&b, chain, chain_len);
	b.len += o->chain_nul ? 1 : 0; /* calloc'ed: the NUL is already there */

	if (o->tamper & QUOTESIM_TAMPER_HEADER)
		b.p[28] ^= 0x01; /* user data */
	if (o->tamper & QUOTESIM_TAMPER_BODY)
		b.p[signed_len - body_len + 136] ^= 0x01; /* MRTD */
	if (o->tamper & QUOTESIM_TAMPER_QUOTE_SIG)
		b.p[off_sig + 31] ^= 0x01; /* low byte of r: stays a valid scalar */
	if (o->tamper & QUOTESIM_TAMPER_ATTEST_KEY)
		b.p[off_key + 63] ^= 0x01;
	if (o->tamper & QUOTESIM_TAMPER_QE_REPORT)
		b.p[off_qe + 64] ^= 0x01; /* MRENCLAVE */
	if (o->tamper & QUOTESIM_TAMPER_QE_REPORT_SIG)
		b.p[off_qe_sig + 31] ^= 0x01;
	if (o->tamper & QUOTESIM_TAMPER_QE_AUTH_DATA)
		b.p[off_auth] ^= 0x01;

	*out = b.p;
	*out_len = b.cap;
	b.p = NULL;
out:
	free(b.p);
	return r;
}

int quotesim_tamper_from_name(const char *name, unsigned *flag)
{
	for (size_t i = 0; i < ARRAY_SIZE(tamper_names); i++)
		if (strcmp(name, tamper_names[i].name) == 0) {
			*flag = tamper_names[i].flag;
			return 0;
		}
	return log_error_errno(-EINVAL, "quotesim: unknown tamper target '%s'", name);
}

int quotesim_kbs_evidence(const struct quotesim *s, const struct quotesim_quote_opts *o,
			  const char *nonce, EVP_PKEY **key, uint8_t **quote, size_t *quote_len)
{
	_cleanup_(json_object_putp) struct json_object *jwk = NULL;
	uint8_t rd[KBS_REPORT_DATA_LEN];
	int r;

	*key = NULL;
	r = jwk_generate_p256(key);
	if (r == 0)
		r = jwk_from_public_key(*key, 1, &jwk);
	if (r == 0)
		r = kbs_report_data(nonce, jwk, rd);
	if (r == 0)
		r = quotesim_quote(s, o, rd, quote, quote_len);
	if (r < 0) {
		EVP_PKEY_free(*key);
		*key = NULL;
	}
	return r;
}
