/* DCAP verification of TDX quotes: the PCK chain to the pinned root with both CRLs, the QE
 * report and its binding, the quote signature, and the TCB rating (tcb_eval.c). Chain and CRL
 * results are cached per (the PCK certificates' DER, collateral), the TCB signing chains per
 * collateral, so a quote from a known platform costs two ECDSA verifications. */
#define _GNU_SOURCE /* memmem */
#include "dcap.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "b64.h"
#include "cleanup.h"
#include "collateral.h"
#include "dcap_util.h"
#include "fileio.h"
#include "intel_root.h"
#include "log.h"
#include "pck_ext.h"
#include "tcb_eval.h"

#define PCK_CACHE_SLOTS	   64
#define ROOT_FILE_MAX	   (64 * 1024)
#define FMSPC_CACHE_SLOTS  64
#define SIGNER_CACHE_SLOTS 16
#define PCK_CHAIN_DER_MAX  (3 * 4096)
#define PCK_CERT_B64_MAX   (4096 / 3 * 4 + 4)

static const uint8_t intel_qe_vendor_id[16] = {0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
					       0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};

/* A verified PCK chain under one collateral: valid for every time in [not_before, not_after]. */
struct pck_cache_entry {
	bool used;
	uint8_t key[32]; /* SHA-256(chain DER digest || collateral digest) */
	time_t not_before, not_after;
	EVP_PKEY *leaf_key;
	struct pck_ext ext;
	uint64_t last_use;
};

/* A collateral whose TCB info and QE identity signing chains verified to the root with its own
 * CRLs: the chains hold for every time in [not_before, not_after]. */
struct signer_cache_entry {
	bool used;
	uint8_t collateral[32]; /* the collateral's digest */
	time_t not_before, not_after;
	uint64_t last_use;
};

struct dcap_verifier {
	X509 *root;
	bool test_root;
	EVP_PKEY *p256_template; /* read-only: attestation keys are copied from it */
	/* Guards the cache: dcap_verify() runs concurrently on worker threads. */
	pthread_mutex_t lock;
	uint64_t clock;
	struct pck_cache_entry cache[PCK_CACHE_SLOTS];
	struct signer_cache_entry signers[SIGNER_CACHE_SLOTS];
	struct dcap_verifier_stats stats;
	/* FMSPC by the digest of a quote's PCK chain DER: reading it means parsing the
	 * certificates, which costs more than the rest of an attest. Only a collateral lookup hint:
	 * dcap_verify() checks the chain and that the collateral is the platform's. */
	unsigned fmspc_next;
	struct {
		bool used;
		uint8_t chain_digest[32]; /* chain_der_digest() */
		uint8_t fmspc[6];
	} fmspc_cache[FMSPC_CACHE_SLOTS];
};

static int __attribute__((format(printf, 4, 5)))
refuse(struct dcap_result *res, int r, enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
	va_end(ap);
	res->verified = false;
	log_msg(level, "dcap: quote refused: %s", res->reason);
	return r;
}

int dcap_verifier_new(const char *root_ca_path, struct dcap_verifier **out)
{
	struct dcap_verifier *v;
	STACK_OF(X509) *certs = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	int r;

	v = calloc(1, sizeof(*v));
	if (!v)
		return log_error_errno(-ENOMEM, "dcap: out of memory");
	if (pthread_mutex_init(&v->lock, NULL) != 0) {
		free(v);
		return log_error_errno(-ENOMEM, "dcap: cannot create lock");
	}
	r = dcap_p256_template_new(&v->p256_template);
	if (r < 0) {
		log_error_errno(r, "dcap: cannot create a P-256 key");
		goto fail;
	}
	if (!root_ca_path) {
		const unsigned char *p = intel_sgx_root_ca_der;

		v->root = d2i_X509(NULL, &p, (long)intel_sgx_root_ca_der_len);
		if (!v->root) {
			r = log_error_errno(-EINVAL, "dcap: compiled-in Intel root unreadable");
			goto fail;
		}
	} else {
		r = file_read_all(root_ca_path, ROOT_FILE_MAX, &buf, &len);
		if (r < 0) {
			log_error_errno(r, "dcap: cannot read root CA %s", root_ca_path);
			goto fail;
		}
		r = dcap_certs_parse(buf, len, 1, &certs);
		if (r < 0) {
			log_error_errno(r, "dcap: %s is not one PEM/DER certificate", root_ca_path);
			goto fail;
		}
		v->root = sk_X509_shift(certs);
		sk_X509_free(certs);
		v->test_root = true;
		log_warn("dcap: *** TEST ROOT *** trusting %s instead of the Intel SGX Root CA: "
			 "for tests only, quotes verified this way prove nothing about real TDX",
			 root_ca_path);
	}
	/* OpenSSL fills a certificate's extension cache on first use; do it here, before worker
	 * threads share the root (ThreadSanitizer saw racing first uses). */
	if (X509_check_purpose(v->root, -1, 0) != 1) {
		r = log_error_errno(-EINVAL, "dcap: trusted root has invalid extensions");
		goto fail;
	}
	*out = v;
	return 0;
fail:
	dcap_verifier_free(v);
	return r;
}

void dcap_verifier_free(struct dcap_verifier *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < PCK_CACHE_SLOTS; i++)
		EVP_PKEY_free(v->cache[i].leaf_key);
	X509_free(v->root);
	EVP_PKEY_free(v->p256_template);
	pthread_mutex_destroy(&v->lock);
	free(v);
}

bool dcap_verifier_is_test_root(const struct dcap_verifier *v)
{
	return v->test_root;
}

void dcap_verifier_stats(const struct dcap_verifier *v, struct dcap_verifier_stats *out)
{
	struct dcap_verifier *vm = (struct dcap_verifier *)v; /* the lock only */

	pthread_mutex_lock(&vm->lock);
	*out = v->stats;
	pthread_mutex_unlock(&vm->lock);
}

static bool same_cert(X509 *a, X509 *b)
{
	unsigned char *da = NULL, *db = NULL;
	int la = i2d_X509(a, &da), lb = i2d_X509(b, &db);
	bool same = la > 0 && la == lb && !memcmp(da, db, (size_t)la);

	OPENSSL_free(da);
	OPENSSL_free(db);
	return same;
}

/* Verifies chain[0] up to the pinned root at `at` (or at no particular time when at is
 * CHAIN_ANY_TIME: the caller checks the window), with both CRLs covering every certificate.
 * Narrows the window to the validity of every certificate involved. */
#define CHAIN_ANY_TIME ((time_t)-1)
static int chain_verify(const struct dcap_verifier *v, STACK_OF(X509) * chain,
			const struct dcap_collateral *c, X509_CRL *pck_crl, time_t at,
			const char *what, int length, time_t *nb, time_t *na,
			struct dcap_result *res)
{
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	STACK_OF(X509_CRL) *crls = NULL;
	STACK_OF(X509) *untrusted = NULL;
	int r, err;

	store = X509_STORE_new();
	ctx = X509_STORE_CTX_new();
	crls = sk_X509_CRL_new_null();
	untrusted = sk_X509_new_null();
	if (!store || !ctx || !crls || !untrusted || !X509_STORE_add_cert(store, v->root) ||
	    !sk_X509_CRL_push(crls, pck_crl) || !sk_X509_CRL_push(crls, c->root_crl)) {
		r = log_error_errno(-ENOMEM, "dcap: out of memory");
		snprintf(res->reason, sizeof(res->reason), "out of memory");
		goto out;
	}
	for (int i = 1; i < sk_X509_num(chain); i++)
		if (!sk_X509_push(untrusted, sk_X509_value(chain, i))) {
			r = log_error_errno(-ENOMEM, "dcap: out of memory");
			goto out;
		}
	if (!X509_STORE_CTX_init(ctx, store, sk_X509_value(chain, 0), untrusted)) {
		r = log_error_errno(-ENOMEM, "dcap: out of memory");
		goto out;
	}
	X509_STORE_CTX_set0_crls(ctx, crls);
	X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx),
				    X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL |
					    X509_V_FLAG_X509_STRICT);
	/* The caller's time, never the machine clock. */
	if (at == CHAIN_ANY_TIME)
		X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx),
					    X509_V_FLAG_NO_CHECK_TIME);
	else
		X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), at);
	if (X509_verify_cert(ctx) != 1) {
		err = X509_STORE_CTX_get_error(ctx);
		r = err == X509_V_ERR_CERT_HAS_EXPIRED || err == X509_V_ERR_CERT_NOT_YET_VALID ||
				    err == X509_V_ERR_CRL_HAS_EXPIRED ||
				    err == X509_V_ERR_CRL_NOT_YET_VALID
			    ? -EKEYEXPIRED
			    : -EKEYREJECTED;
		r = refuse(res, r, LOG_LVL_INFO, "%s: %s (depth %d)", what,
			   X509_verify_cert_error_string(err), X509_STORE_CTX_get_error_depth(ctx));
		goto out;
	}
	/* The verified chain: leaf, intermediates, the pinned root, and no more: a TCB signer
	 * must be issued by the root itself, so that no PCK key can sign collateral. */
	{
		STACK_OF(X509) *verified = X509_STORE_CTX_get0_chain(ctx);

		if (sk_X509_num(verified) != length) {
			r = refuse(res, -EKEYREJECTED, LOG_LVL_INFO,
				   "%s: %d certificates to the root, expected %d", what,
				   sk_X509_num(verified), length);
			goto out;
		}

		for (int i = 0; i < sk_X509_num(verified); i++)
			if ((r = dcap_window_add_cert(sk_X509_value(verified, i), nb, na)) < 0) {
				refuse(res, -EBADMSG, LOG_LVL_INFO, "%s: unreadable validity",
				       what);
				goto out;
			}
	}
	r = 0;
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	sk_X509_CRL_free(crls);
	sk_X509_free(untrusted);
	X509_STORE_free(store);
	return r;
}

static int tcb_signer_check(STACK_OF(X509) * chain, const char *what, struct dcap_result *res)
{
	char cn[128];

	dcap_cert_cn(sk_X509_value(chain, 0), cn, sizeof(cn));
	if (!strstr(cn, "SGX TCB Signing"))
		return refuse(res, -EKEYREJECTED, LOG_LVL_INFO, "%s signer CN '%s' unexpected",
			      what, cn);
	return 0;
}

/* SHA-256 over the concatenated DER of a chain's certificates (each one TLV, so the
 * concatenation is unambiguous): the same certificates give the same digest however their PEM
 * is wrapped. */
static int chain_der_digest(STACK_OF(X509) * chain, uint8_t out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int r = -EIO;

	if (!md)
		return -ENOMEM;
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		goto out;
	for (int i = 0; i < sk_X509_num(chain); i++) {
		unsigned char *der = NULL;
		int n = i2d_X509(sk_X509_value(chain, i), &der);
		int ok = n > 0 && EVP_DigestUpdate(md, der, (size_t)n) == 1;

		OPENSSL_free(der);
		if (!ok)
			goto out;
	}
	r = EVP_DigestFinal_ex(md, out, NULL) == 1 ? 0 : -EIO;
out:
	EVP_MD_CTX_free(md);
	return r;
}

/* Length of the DER element (tag, length, contents) at the start of der, 0 when malformed. */
static size_t der_element_len(const uint8_t *der, size_t len)
{
	size_t n, hdr;

	if (len < 2 || der[0] != 0x30)
		return 0;
	if (der[1] < 0x80) {
		n = der[1];
		hdr = 2;
	} else {
		size_t k = der[1] & 0x7f;

		if (k == 0 || k > 3 || len < 2 + k)
			return 0;
		n = 0;
		for (size_t i = 0; i < k; i++)
			n = n << 8 | der[2 + i];
		hdr = 2 + k;
	}
	return n <= len - hdr ? hdr + n : 0;
}

/* chain_der_digest() of a quote's PEM chain without parsing a certificate: each
 * "-----BEGIN CERTIFICATE-----" block's base64 decoded and cut to its DER element, as OpenSSL's
 * PEM reader does. Only a cache key: it never decides acceptance. A chain it reads differently
 * from OpenSSL (-EBADMSG) just misses the cache and is verified in full; one it maps onto a
 * verified chain's DER gets exactly that chain's result. */
static int pem_chain_der_digest(const uint8_t *pem, size_t len, uint8_t out[32])
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----",
			  end[] = "-----END CERTIFICATE-----";
	const uint8_t *p = pem, *stop = pem + len;
	uint8_t der[PCK_CHAIN_DER_MAX];
	char b64[PCK_CERT_B64_MAX]; /* one block's base64 */
	size_t der_len = 0;
	unsigned n = 0;

	while ((p = memmem(p, (size_t)(stop - p), begin, sizeof(begin) - 1))) {
		const uint8_t *body = p + sizeof(begin) - 1;
		const uint8_t *e = memmem(body, (size_t)(stop - body), end, sizeof(end) - 1);
		size_t b64_len = 0, got = 0, el;

		if (!e || ++n > 3)
			return -EBADMSG;
		for (const uint8_t *c = body; c < e; c++)
			if (*c != '\n' && *c != '\r' && *c != ' ' && *c != '\t') {
				if (b64_len == sizeof(b64))
					return -EBADMSG;
				b64[b64_len++] = (char)*c;
			}
		if (b64_decode(B64_STD, b64, b64_len, der + der_len, sizeof(der) - der_len, &got) <
			    0 ||
		    !(el = der_element_len(der + der_len, got)))
			return -EBADMSG;
		der_len += el;
		p = e + sizeof(end) - 1;
	}
	return n == 3 ? dcap_sha256(der, der_len, NULL, 0, out) : -EBADMSG;
}

/* Full check of a PCK chain under collateral c at time `at` (cache miss); *chain_digest gets
 * chain_der_digest() of the certificates checked. */
static int pck_chain_verify(const struct dcap_verifier *v, const struct tdx_quote *q,
			    const struct dcap_collateral *c, time_t at, struct pck_cache_entry *e,
			    uint8_t chain_digest[32], struct dcap_result *res)
{
	STACK_OF(X509) *chain = NULL;
	char cn[128];
	X509_NAME *leaf_issuer;
	X509_CRL *crl;
	int r;

	if (dcap_certs_parse(q->pck_chain_pem, q->pck_chain_len, 3, &chain) < 0 ||
	    sk_X509_num(chain) != 3) {
		r = refuse(res, -EBADMSG, LOG_LVL_INFO,
			   "PCK certificate chain is not 3 PEM certificates");
		goto out;
	}
	if (chain_der_digest(chain, chain_digest) < 0) {
		r = refuse(res, -ENOMEM, LOG_LVL_ERR, "hashing failed");
		goto out;
	}
	dcap_cert_cn(sk_X509_value(chain, 0), cn, sizeof(cn));
	if (!strstr(cn, "SGX PCK Certificate")) {
		r = refuse(res, -EKEYREJECTED, LOG_LVL_INFO, "PCK leaf CN '%s' unexpected", cn);
		goto out;
	}
	dcap_cert_cn(sk_X509_value(chain, 1), cn, sizeof(cn));
	if (!strstr(cn, "SGX PCK Platform CA") && !strstr(cn, "SGX PCK Processor CA")) {
		r = refuse(res, -EKEYREJECTED, LOG_LVL_INFO, "PCK issuer CN '%s' unexpected", cn);
		goto out;
	}
	if (!same_cert(sk_X509_value(chain, 2), v->root)) {
		r = refuse(res, -EKEYREJECTED, LOG_LVL_INFO,
			   "PCK chain ends in a root other than the trusted %s",
			   v->test_root ? "test root" : "Intel SGX Root CA");
		goto out;
	}
	/* QVL compares the raw issuer names of the PCK CRL and the leaf: the platform CA's or
	 * the processor CA's CRL, whichever issued this leaf. */
	leaf_issuer = X509_get_issuer_name(sk_X509_value(chain, 0));
	crl = !X509_NAME_cmp(X509_CRL_get_issuer(c->pck_crl), leaf_issuer) ? c->pck_crl
	      : c->pck_crl_other &&
			      !X509_NAME_cmp(X509_CRL_get_issuer(c->pck_crl_other), leaf_issuer)
		      ? c->pck_crl_other
		      : NULL;
	if (!crl) {
		r = refuse(res, -EKEYREJECTED, LOG_LVL_INFO,
			   "PCK CRL is not issued by the PCK leaf's issuer");
		goto out;
	}
	e->not_before = c->not_before;
	e->not_after = c->not_after;
	r = chain_verify(v, chain, c, crl, at, "PCK chain", 3, &e->not_before, &e->not_after, res);
	if (r < 0)
		goto out;
	if (pck_ext_parse(sk_X509_value(chain, 0), &e->ext) < 0) {
		r = refuse(res, -EBADMSG, LOG_LVL_INFO, "PCK leaf SGX extension malformed");
		goto out;
	}
	e->leaf_key = X509_get_pubkey(sk_X509_value(chain, 0));
	if (!e->leaf_key) {
		r = refuse(res, -EKEYREJECTED, LOG_LVL_INFO, "PCK leaf key unusable");
		goto out;
	}
	r = 0;
out:
	sk_X509_pop_free(chain, X509_free);
	return r;
}

static int cache_key(const uint8_t chain_digest[32], const struct dcap_collateral *c,
		     uint8_t out[32])
{
	return dcap_sha256(chain_digest, 32, c->digest, sizeof(c->digest), out);
}

/* The TCB info and QE identity signing chains of c, to the root with c's CRLs, whatever the
 * time: once per collateral (cached by its digest); `at` is checked against the chains' window
 * on every call. */
static int signers_verify(struct dcap_verifier *v, const struct dcap_collateral *c, time_t at,
			  struct dcap_result *res)
{
	struct signer_cache_entry fresh = {.used = true}, *slot = NULL;
	bool hit = false;
	int r;

	pthread_mutex_lock(&v->lock);
	for (size_t i = 0; i < SIGNER_CACHE_SLOTS; i++)
		if (v->signers[i].used && !memcmp(v->signers[i].collateral, c->digest, 32)) {
			fresh = v->signers[i];
			v->signers[i].last_use = ++v->clock;
			hit = true;
			break;
		}
	pthread_mutex_unlock(&v->lock);
	if (!hit) {
		fresh.not_before = 0;
		fresh.not_after = (time_t)INT64_MAX;
		if ((r = tcb_signer_check(c->tcb_chain, "TCB info", res)) < 0 ||
		    (r = tcb_signer_check(c->qe_chain, "QE identity", res)) < 0 ||
		    (r = chain_verify(v, c->tcb_chain, c, c->pck_crl, CHAIN_ANY_TIME,
				      "TCB info signing chain", 2, &fresh.not_before,
				      &fresh.not_after, res)) < 0 ||
		    (r = chain_verify(v, c->qe_chain, c, c->pck_crl, CHAIN_ANY_TIME,
				      "QE identity signing chain", 2, &fresh.not_before,
				      &fresh.not_after, res)) < 0)
			return r;
		memcpy(fresh.collateral, c->digest, 32);
		pthread_mutex_lock(&v->lock);
		v->stats.signer_chain_verifications++;
		for (size_t i = 0; i < SIGNER_CACHE_SLOTS && !slot; i++)
			if (!v->signers[i].used || !memcmp(v->signers[i].collateral, c->digest, 32))
				slot = &v->signers[i];
		if (!slot) {
			slot = &v->signers[0];
			for (size_t i = 1; i < SIGNER_CACHE_SLOTS; i++)
				if (v->signers[i].last_use < slot->last_use)
					slot = &v->signers[i];
		}
		*slot = fresh;
		slot->last_use = ++v->clock;
		pthread_mutex_unlock(&v->lock);
	}
	if (at < fresh.not_before || at > fresh.not_after) {
		char a[32], b[32];

		dcap_time_format(fresh.not_before, a, sizeof(a));
		dcap_time_format(fresh.not_after, b, sizeof(b));
		return refuse(res, -EKEYEXPIRED, LOG_LVL_INFO,
			      "TCB info / QE identity signing chain %s at the verification time "
			      "(valid %s .. %s)",
			      at < fresh.not_before ? "not yet valid" : "expired", a, b);
	}
	return 0;
}

/* On a hit valid at `at`, takes a reference to the leaf key. */
static bool cache_lookup(struct dcap_verifier *v, const uint8_t key[32], time_t at,
			 EVP_PKEY **leaf_key, struct pck_ext *ext)
{
	bool hit = false;

	pthread_mutex_lock(&v->lock);
	for (size_t i = 0; i < PCK_CACHE_SLOTS; i++) {
		struct pck_cache_entry *e = &v->cache[i];

		if (!e->used || memcmp(e->key, key, 32) != 0)
			continue;
		if (at < e->not_before || at > e->not_after)
			break; /* a miss: verify in full, which names the expired item */
		if (EVP_PKEY_up_ref(e->leaf_key) != 1)
			break;
		*leaf_key = e->leaf_key;
		*ext = e->ext;
		e->last_use = ++v->clock;
		hit = true;
		break;
	}
	if (hit)
		v->stats.pck_cache_hits++;
	pthread_mutex_unlock(&v->lock);
	return hit;
}

/* Stores a verified entry, replacing the same key or the least recently used slot. */
static void cache_insert(struct dcap_verifier *v, const uint8_t key[32],
			 const struct pck_cache_entry *src)
{
	struct pck_cache_entry *slot = NULL;

	if (EVP_PKEY_up_ref(src->leaf_key) != 1)
		return;
	pthread_mutex_lock(&v->lock);
	for (size_t i = 0; i < PCK_CACHE_SLOTS && !slot; i++)
		if (v->cache[i].used && !memcmp(v->cache[i].key, key, 32))
			slot = &v->cache[i];
	for (size_t i = 0; i < PCK_CACHE_SLOTS && !slot; i++)
		if (!v->cache[i].used)
			slot = &v->cache[i];
	if (!slot) {
		slot = &v->cache[0];
		for (size_t i = 1; i < PCK_CACHE_SLOTS; i++)
			if (v->cache[i].last_use < slot->last_use)
				slot = &v->cache[i];
	}
	EVP_PKEY_free(slot->leaf_key);
	*slot = *src;
	memcpy(slot->key, key, 32);
	slot->used = true;
	slot->last_use = ++v->clock;
	v->stats.pck_full_verifications++;
	pthread_mutex_unlock(&v->lock);
}

static int time_check(const char *what, time_t from, time_t until, time_t at,
		      struct dcap_result *res)
{
	char a[32], b[32];

	if (at >= from && at < until)
		return 0;
	dcap_time_format(from, a, sizeof(a));
	dcap_time_format(until, b, sizeof(b));
	return refuse(res, -EKEYEXPIRED, LOG_LVL_INFO,
		      "%s %s at the verification time (valid %s .. %s)", what,
		      at < from ? "not yet valid" : "expired", a, b);
}

int dcap_quote_pck_info(const struct tdx_quote *q, struct dcap_result *res)
{
	STACK_OF(X509) *chain = NULL;
	struct pck_ext ext;
	int r;

	res->qe_svn = q->qe_report.isvsvn;
	r = dcap_certs_parse(q->pck_chain_pem, q->pck_chain_len, 3, &chain);
	if (r < 0)
		return r;
	r = pck_ext_parse(sk_X509_value(chain, 0), &ext);
	sk_X509_pop_free(chain, X509_free);
	if (r < 0)
		return r;
	memcpy(res->fmspc, ext.fmspc, sizeof(res->fmspc));
	memcpy(res->pce_id, ext.pce_id, sizeof(res->pce_id));
	res->pce_svn = ext.pce_svn;
	return 0;
}

static int quote_fmspc_read(const struct tdx_quote *q, uint8_t fmspc[6])
{
	struct dcap_result res;
	int r;

	r = dcap_quote_pck_info(q, &res);
	if (r < 0)
		return r;
	memcpy(fmspc, res.fmspc, 6);
	return 0;
}

int dcap_quote_fmspc(const struct dcap_verifier *v, const struct tdx_quote *q, uint8_t fmspc[6],
		     struct dcap_chain_key *key)
{
	/* The cache is the verifier's only mutable part and has its own lock. */
	struct dcap_verifier *vm = (struct dcap_verifier *)v;
	uint8_t d[32];
	bool keyed;
	int r;

	keyed = vm && pem_chain_der_digest(q->pck_chain_pem, q->pck_chain_len, d) == 0;
	if (key) {
		key->q = q;
		key->ok = keyed;
		if (keyed)
			memcpy(key->digest, d, sizeof(d));
	}
	if (!keyed)
		return quote_fmspc_read(q, fmspc);
	pthread_mutex_lock(&vm->lock);
	for (unsigned i = 0; i < FMSPC_CACHE_SLOTS; i++)
		if (vm->fmspc_cache[i].used && !memcmp(vm->fmspc_cache[i].chain_digest, d, 32)) {
			memcpy(fmspc, vm->fmspc_cache[i].fmspc, 6);
			pthread_mutex_unlock(&vm->lock);
			return 0;
		}
	pthread_mutex_unlock(&vm->lock);
	r = quote_fmspc_read(q, fmspc);
	if (r < 0)
		return r;
	pthread_mutex_lock(&vm->lock);
	vm->fmspc_cache[vm->fmspc_next].used = true;
	memcpy(vm->fmspc_cache[vm->fmspc_next].chain_digest, d, 32);
	memcpy(vm->fmspc_cache[vm->fmspc_next].fmspc, fmspc, 6);
	vm->fmspc_next = (vm->fmspc_next + 1) % FMSPC_CACHE_SLOTS;
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

int dcap_verify(const struct dcap_verifier *v, const struct dcap_collateral *c,
		const struct tdx_quote *q, const struct dcap_chain_key *key, time_t at,
		struct dcap_result *res)
{
	/* The cache is the verifier's only mutable part and has its own lock. */
	struct dcap_verifier *vm = (struct dcap_verifier *)v;
	struct pck_cache_entry fresh = {0};
	struct tcb_advisories adv = {0};
	enum tcb_status qe_status, status;
	EVP_PKEY *leaf_key = NULL, *att_key = NULL;
	struct pck_ext ext;
	uint8_t slot[32], binding[32], chain_digest[32];
	bool chain_ok = true;
	int r;

	memset(res, 0, sizeof(*res));
	res->qe_svn = q->qe_report.isvsvn;
	if (memcmp(q->qe_vendor_id, intel_qe_vendor_id, sizeof(intel_qe_vendor_id)) != 0)
		return refuse(res, -EBADMSG, LOG_LVL_INFO, "QE vendor ID is not Intel's");
	if (!c) {
		(void)dcap_quote_pck_info(q, res);
		return refuse(res, -ENOKEY, LOG_LVL_INFO,
			      "collateral missing: give --collateral or the separate files");
	}

	/* Collateral freshness first: it names the stale item. Certificates are checked at `at`
	 * by the chain verification (or were, for a cached chain whose window contains `at`). */
	if ((r = time_check("TCB info", c->tcb.issue_date, c->tcb.next_update, at, res)) < 0 ||
	    (r = time_check("QE identity", c->qe.issue_date, c->qe.next_update, at, res)) < 0 ||
	    (r = time_check("PCK CRL", c->pck_crl_this_update, c->pck_crl_next_update, at, res)) <
		    0 ||
	    (r = time_check("root CA CRL", c->root_crl_this_update, c->root_crl_next_update, at,
			    res)) < 0 ||
	    (c->pck_crl_other && (r = time_check("second PCK CA CRL", c->pck_crl_other_this_update,
						 c->pck_crl_other_next_update, at, res)) < 0))
		return r;
	/* A chain the cheap reading cannot key goes to the full check, then into the cache under
	 * the DER of the certificates it parsed. */
	if (key && key->q == q && key->ok)
		memcpy(chain_digest, key->digest, sizeof(chain_digest));
	else if (pem_chain_der_digest(q->pck_chain_pem, q->pck_chain_len, chain_digest) < 0)
		chain_ok = false;
	if (!chain_ok || cache_key(chain_digest, c, slot) < 0 ||
	    !cache_lookup(vm, slot, at, &leaf_key, &ext)) {
		r = pck_chain_verify(v, q, c, at, &fresh, chain_digest, res);
		if (r < 0) {
			EVP_PKEY_free(fresh.leaf_key);
			return r;
		}
		if (cache_key(chain_digest, c, slot) < 0) {
			EVP_PKEY_free(fresh.leaf_key);
			return refuse(res, -ENOMEM, LOG_LVL_ERR, "hashing failed");
		}
		cache_insert(vm, slot, &fresh);
		leaf_key = fresh.leaf_key; /* our reference */
		ext = fresh.ext;
	}
	r = signers_verify(vm, c, at, res);
	if (r < 0)
		goto out;
	memcpy(res->fmspc, ext.fmspc, 6);
	memcpy(res->pce_id, ext.pce_id, 2);
	res->pce_svn = ext.pce_svn;

	/* QE report signed by the PCK leaf. */
	r = dcap_ecdsa_verify(leaf_key, q->qe_report_sig, q->qe_report_raw,
			      sizeof(q->qe_report_raw));
	if (r < 0) {
		r = refuse(res, -EKEYREJECTED, LOG_LVL_INFO,
			   "QE report signature does not verify with the PCK key");
		goto out;
	}
	/* QE report data = SHA-256(attestation key || QE auth data) || zeros. */
	if (dcap_sha256(q->attest_key, sizeof(q->attest_key), q->qe_auth_data, q->qe_auth_len,
			binding) < 0) {
		r = refuse(res, -ENOMEM, LOG_LVL_ERR, "hashing failed");
		goto out;
	}
	if (memcmp(binding, q->qe_report.report_data, sizeof(binding)) != 0) {
		r = refuse(res, -EKEYREJECTED, LOG_LVL_INFO,
			   "QE report data does not bind the attestation key");
		goto out;
	}
	/* The quote signed by the attestation key (header and body only). */
	if (dcap_p256_key_from_template(v->p256_template, q->attest_key, &att_key) < 0) {
		r = refuse(res, -EKEYREJECTED, LOG_LVL_INFO,
			   "attestation key is not a P-256 point");
		goto out;
	}
	if (dcap_ecdsa_verify(att_key, q->signature, q->signed_data, q->signed_len) < 0) {
		r = refuse(res, -EKEYREJECTED, LOG_LVL_INFO,
			   "quote signature does not verify with the attestation key");
		goto out;
	}

	/* Collateral applies to this platform. */
	if (memcmp(c->tcb.fmspc, ext.fmspc, 6) != 0 || memcmp(c->tcb.pce_id, ext.pce_id, 2) != 0) {
		r = refuse(res, -EACCES, LOG_LVL_INFO,
			   "TCB info is for FMSPC %02x%02x%02x%02x%02x%02x, the PCK's is "
			   "%02x%02x%02x%02x%02x%02x (or PCE-ID differs)",
			   c->tcb.fmspc[0], c->tcb.fmspc[1], c->tcb.fmspc[2], c->tcb.fmspc[3],
			   c->tcb.fmspc[4], c->tcb.fmspc[5], ext.fmspc[0], ext.fmspc[1],
			   ext.fmspc[2], ext.fmspc[3], ext.fmspc[4], ext.fmspc[5]);
		goto out;
	}
	r = qe_identity_evaluate(&c->qe, &q->qe_report, &qe_status, &adv, res->reason,
				 sizeof(res->reason));
	if (r < 0)
		goto out;
	r = tdx_tcb_evaluate(&c->tcb, &ext, q, qe_status, &status, &adv, res->reason,
			     sizeof(res->reason));
	res->tcb_status = status;
	res->has_tcb_status = true;
	if (r < 0)
		goto out;
	for (size_t i = 0; i < adv.n; i++)
		memcpy(res->advisory_ids[i], adv.id[i], sizeof(res->advisory_ids[i]));
	res->n_advisory_ids = adv.n;
	res->tcb_eval_number =
		c->tcb.eval_number < c->qe.eval_number ? c->tcb.eval_number : c->qe.eval_number;
	res->verified = true;
	res->reason[0] = '\0';
	r = 0;
out:
	EVP_PKEY_free(att_key);
	EVP_PKEY_free(leaf_key);
	return r;
}
