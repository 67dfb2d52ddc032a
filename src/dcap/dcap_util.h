/* Certificate, CRL, time and ECDSA helpers shared by the DCAP verifier's modules. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* Parses one or more PEM certificates, or a single DER certificate, in buf. At most max
 * certificates are accepted. */
int dcap_certs_parse(const uint8_t *buf, size_t len, size_t max, STACK_OF(X509) * *out);
/* Parses a PEM or DER CRL. */
int dcap_crl_parse(const uint8_t *buf, size_t len, X509_CRL **out);

/* Parses "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)" into seconds since the epoch (UTC). */
int dcap_time_parse_rfc3339(const char *s, time_t *out);
/* Formats t as "YYYY-MM-DDTHH:MM:SSZ" into buf (at least 21 bytes). */
void dcap_time_format(time_t t, char *buf, size_t len);
int dcap_asn1_time_to_time(const ASN1_TIME *a, time_t *out);

/* Narrows [*nb, *na] (inclusive) to the times OpenSSL accepts the certificate at:
 * notBefore .. notAfter - 1. */
int dcap_window_add_cert(X509 *x, time_t *nb, time_t *na);
/* Narrows to [thisUpdate, nextUpdate) of a CRL (nextUpdate required). */
int dcap_window_add_crl(X509_CRL *crl, time_t *nb, time_t *na);

/* P-256 public key from the 64-byte X||Y of a quote; the point must be on the curve. */
int dcap_p256_key_from_xy(const uint8_t xy[64], EVP_PKEY **out);
/* A P-256 key (the generator) to copy from: dcap_p256_key_from_template() is several times
 * cheaper than building a key from parameters. The template is only read. */
int dcap_p256_template_new(EVP_PKEY **out);
int dcap_p256_key_from_template(const EVP_PKEY *tmpl, const uint8_t xy[64], EVP_PKEY **out);
/* Verifies a 64-byte r||s ECDSA-SHA256 signature over msg. Returns 0, -EKEYREJECTED when the
 * signature does not verify, or another negative errno. Does not log a rejection. */
int dcap_ecdsa_verify(EVP_PKEY *key, const uint8_t sig[64], const uint8_t *msg, size_t len);

/* Common name of a certificate's subject into buf (empty when absent). */
void dcap_cert_cn(X509 *x, char *buf, size_t len);

/* SHA-256(a || b); b may be NULL when blen is 0. */
int dcap_sha256(const void *a, size_t alen, const void *b, size_t blen, uint8_t out[32]);
