/* Certificate, CRL, time and ECDSA helpers of the DCAP verifier. */
#include "dcap_util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "log.h"

static bool looks_like_pem(const uint8_t *buf, size_t len)
{
	static const char marker[] = "-----BEGIN ";

	for (size_t i = 0; i + sizeof(marker) - 1 <= len; i++)
		if (!memcmp(buf + i, marker, sizeof(marker) - 1))
			return true;
	return false;
}

/* Certificates and CRLs are never encrypted. Without a callback, OpenSSL's PEM reader asks for
 * a pass phrase on the terminal (or stdin) when a block claims to be: a quote's PCK chain could
 * make the server read its console and block a worker there. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

int dcap_certs_parse(const uint8_t *buf, size_t len, size_t max, STACK_OF(X509) * *out)
{
	STACK_OF(X509) *certs = NULL;
	BIO *bio = NULL;
	X509 *x = NULL;
	int r;

	if (len == 0 || len > INT32_MAX)
		return log_error_errno(-EBADMSG, "certificates: empty or oversized input");
	certs = sk_X509_new_null();
	if (!certs)
		return log_error_errno(-ENOMEM, "certificates: out of memory");
	if (looks_like_pem(buf, len)) {
		bio = BIO_new_mem_buf(buf, (int)len);
		if (!bio) {
			r = log_error_errno(-ENOMEM, "certificates: out of memory");
			goto out;
		}
		while ((x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL))) {
			if ((size_t)sk_X509_num(certs) >= max) {
				r = log_error_errno(-EBADMSG,
						    "certificates: more than %zu in chain", max);
				goto out;
			}
			if (!sk_X509_push(certs, x)) {
				r = log_error_errno(-ENOMEM, "certificates: out of memory");
				goto out;
			}
			x = NULL;
		}
		ERR_clear_error(); /* the loop ends on "no start line" */
	} else {
		const unsigned char *p = buf;

		x = d2i_X509(NULL, &p, (long)len);
		if (!x || p != buf + len) {
			r = log_error_errno(-EBADMSG,
					    "certificates: not PEM and not one DER certificate");
			goto out;
		}
		if (!sk_X509_push(certs, x)) {
			r = log_error_errno(-ENOMEM, "certificates: out of memory");
			goto out;
		}
		x = NULL;
	}
	if (sk_X509_num(certs) == 0) {
		r = log_error_errno(-EBADMSG, "certificates: no certificate found");
		goto out;
	}
	*out = certs;
	certs = NULL;
	r = 0;
out:
	X509_free(x);
	BIO_free(bio);
	sk_X509_pop_free(certs, X509_free);
	return r;
}

int dcap_crl_parse(const uint8_t *buf, size_t len, X509_CRL **out)
{
	X509_CRL *crl = NULL;

	if (len == 0 || len > INT32_MAX)
		return log_error_errno(-EBADMSG, "CRL: empty or oversized input");
	if (looks_like_pem(buf, len)) {
		BIO *bio = BIO_new_mem_buf(buf, (int)len);

		if (!bio)
			return log_error_errno(-ENOMEM, "CRL: out of memory");
		crl = PEM_read_bio_X509_CRL(bio, NULL, no_passphrase, NULL);
		BIO_free(bio);
	} else {
		const unsigned char *p = buf;

		crl = d2i_X509_CRL(NULL, &p, (long)len);
		if (crl && p != buf + len) {
			X509_CRL_free(crl);
			crl = NULL;
		}
	}
	if (!crl) {
		ERR_clear_error();
		return log_error_errno(-EBADMSG,
				       "CRL: not a PEM or DER certificate revocation list");
	}
	*out = crl;
	return 0;
}

static bool parse_digits(const char **s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*s)[i]))
			return false;
		v = v * 10 + ((*s)[i] - '0');
	}
	*s += n;
	*out = v;
	return true;
}

static bool expect_char(const char **s, char c)
{
	if (**s != c)
		return false;
	(*s)++;
	return true;
}

int dcap_time_parse_rfc3339(const char *s, time_t *out)
{
	const char *p = s;
	struct tm tm = {0};
	int year, mon, day, hour, min, sec, off = 0;
	time_t t;

	if (!s)
		return -EINVAL;
	if (!parse_digits(&p, 4, &year) || !expect_char(&p, '-') || !parse_digits(&p, 2, &mon) ||
	    !expect_char(&p, '-') || !parse_digits(&p, 2, &day) ||
	    !(expect_char(&p, 'T') || expect_char(&p, 't') || expect_char(&p, ' ')) ||
	    !parse_digits(&p, 2, &hour) || !expect_char(&p, ':') || !parse_digits(&p, 2, &min) ||
	    !expect_char(&p, ':') || !parse_digits(&p, 2, &sec))
		return -EINVAL;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1, oh, om;

		p++;
		if (!parse_digits(&p, 2, &oh) || !expect_char(&p, ':') ||
		    !parse_digits(&p, 2, &om) || oh > 23 || om > 59)
			return -EINVAL;
		off = sign * (oh * 3600 + om * 60);
	} else {
		return -EINVAL;
	}
	if (*p != '\0' || mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 ||
	    sec > 60)
		return -EINVAL;
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*out = t - off;
	return 0;
}

void dcap_time_format(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "@%lld", (long long)t);
}

int dcap_asn1_time_to_time(const ASN1_TIME *a, time_t *out)
{
	struct tm tm = {0};
	time_t t;

	if (!a || !ASN1_TIME_to_tm(a, &tm))
		return -EBADMSG;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EBADMSG;
	*out = t;
	return 0;
}

static void window_narrow(time_t nb, time_t na, time_t *wnb, time_t *wna)
{
	if (nb > *wnb)
		*wnb = nb;
	if (na < *wna)
		*wna = na;
}

int dcap_window_add_cert(X509 *x, time_t *nb, time_t *na)
{
	time_t b, a;

	if (dcap_asn1_time_to_time(X509_get0_notBefore(x), &b) < 0 ||
	    dcap_asn1_time_to_time(X509_get0_notAfter(x), &a) < 0)
		return log_error_errno(-EBADMSG, "certificate: unreadable validity period");
	/* OpenSSL treats a certificate as expired from its notAfter second on (X509_cmp_time():
	 * notAfter <= t), so the last second a cached chain may be used is one before. */
	window_narrow(b, a - 1, nb, na);
	return 0;
}

int dcap_window_add_crl(X509_CRL *crl, time_t *nb, time_t *na)
{
	time_t b, a;

	if (dcap_asn1_time_to_time(X509_CRL_get0_lastUpdate(crl), &b) < 0 ||
	    dcap_asn1_time_to_time(X509_CRL_get0_nextUpdate(crl), &a) < 0)
		return log_error_errno(-EBADMSG,
				       "CRL: thisUpdate/nextUpdate missing or unreadable");
	/* nextUpdate is exclusive. */
	window_narrow(b, a - 1, nb, na);
	return 0;
}

int dcap_p256_key_from_xy(const uint8_t xy[64], EVP_PKEY **out)
{
	uint8_t point[65];
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *key = NULL;
	int r = -EBADMSG;

	point[0] = 0x04; /* uncompressed */
	memcpy(point + 1, xy, 64);
	params[0] =
		OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"P-256", 0);
	params[1] =
		OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point));
	params[2] = OSSL_PARAM_construct_end();
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!ctx)
		return -ENOMEM;
	if (EVP_PKEY_fromdata_init(ctx) == 1 &&
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) == 1) {
		*out = key;
		r = 0;
	}
	ERR_clear_error();
	EVP_PKEY_CTX_free(ctx);
	return r;
}

int dcap_p256_template_new(EVP_PKEY **out)
{
	static const uint8_t generator[64] = {
		0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63,
		0xa4, 0x40, 0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1,
		0x39, 0x45, 0xd8, 0x98, 0xc2, 0x96, 0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f,
		0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e, 0x16, 0x2b, 0xce, 0x33, 0x57,
		0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51, 0xf5,
	};

	return dcap_p256_key_from_xy(generator, out);
}

int dcap_p256_key_from_template(const EVP_PKEY *tmpl, const uint8_t xy[64], EVP_PKEY **out)
{
	uint8_t point[65];
	EVP_PKEY *key;

	key = EVP_PKEY_dup((EVP_PKEY *)tmpl);
	if (!key)
		return -ENOMEM;
	point[0] = 0x04; /* uncompressed */
	memcpy(point + 1, xy, 64);
	/* Decoding rejects a point that is not on the curve. */
	if (EVP_PKEY_set1_encoded_public_key(key, point, sizeof(point)) != 1) {
		ERR_clear_error();
		EVP_PKEY_free(key);
		return -EBADMSG;
	}
	*out = key;
	return 0;
}

int dcap_ecdsa_verify(EVP_PKEY *key, const uint8_t sig[64], const uint8_t *msg, size_t len)
{
	unsigned char der[80], *p = der;
	ECDSA_SIG *s = NULL;
	BIGNUM *br = NULL, *bs = NULL;
	EVP_MD_CTX *md = NULL;
	int der_len, r = -ENOMEM;

	s = ECDSA_SIG_new();
	br = BN_bin2bn(sig, 32, NULL);
	bs = BN_bin2bn(sig + 32, 32, NULL);
	if (!s || !br || !bs)
		goto out;
	if (!ECDSA_SIG_set0(s, br, bs))
		goto out;
	br = bs = NULL;
	if (i2d_ECDSA_SIG(s, NULL) > (int)sizeof(der)) {
		r = -EKEYREJECTED;
		goto out;
	}
	der_len = i2d_ECDSA_SIG(s, &p);
	if (der_len <= 0)
		goto out;
	md = EVP_MD_CTX_new();
	if (!md)
		goto out;
	if (EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) != 1) {
		r = -EINVAL;
		goto out;
	}
	r = EVP_DigestVerify(md, der, (size_t)der_len, msg, len) == 1 ? 0 : -EKEYREJECTED;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	BN_free(br);
	BN_free(bs);
	ECDSA_SIG_free(s);
	return r;
}

void dcap_cert_cn(X509 *x, char *buf, size_t len)
{
	X509_NAME *name = X509_get_subject_name(x);

	buf[0] = '\0';
	if (!name || X509_NAME_get_text_by_NID(name, NID_commonName, buf, (int)len) < 0)
		buf[0] = '\0';
}

int dcap_sha256(const void *a, size_t alen, const void *b, size_t blen, uint8_t out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int r = -EIO;

	if (!md)
		return -ENOMEM;
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(md, a, alen) == 1 &&
	    (blen == 0 || EVP_DigestUpdate(md, b, blen) == 1) &&
	    EVP_DigestFinal_ex(md, out, NULL) == 1)
		r = 0;
	EVP_MD_CTX_free(md);
	return r;
}
