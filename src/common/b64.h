/* Base64 encoding and strict decoding: the standard alphabet with padding (RFC 4648 §4) and
 * base64url without padding (RFC 4648 §5, as JOSE uses it). */
#pragma once

#include <stddef.h>
#include <stdint.h>

enum b64_variant {
	B64_STD, /* A-Z a-z 0-9 + /, '=' padding to a multiple of 4 characters, required */
	B64_URL, /* A-Z a-z 0-9 - _, no padding (a '=' is refused) */
};

/* Characters b64_encode() writes for len bytes (without the terminating NUL). */
size_t b64_encoded_len(enum b64_variant v, size_t len);
/* Largest number of bytes that in_len characters can decode to. */
size_t b64_decoded_max(size_t in_len);

/* Writes the NUL-terminated encoding of in into out; returns its length, or -ENOBUFS when out_cap
 * is below b64_encoded_len() + 1. */
int b64_encode_to(enum b64_variant v, const uint8_t *in, size_t len, char *out, size_t out_cap);
/* Returns a malloc'ed NUL-terminated encoding of in, or NULL (errno ENOMEM). */
char *b64_encode(enum b64_variant v, const uint8_t *in, size_t len);

/* Strict decoding of exactly in_len characters: any character outside the alphabet (including
 * whitespace and NUL), wrong or missing padding, an impossible length, or non-zero unused bits in
 * the last character is refused with -EINVAL. Writes at most out_cap bytes to out (may be secure
 * memory) and the decoded length to *out_len; -ENOBUFS if out_cap is too small. Nothing is logged:
 * callers name the field that was wrong. */
int b64_decode(enum b64_variant v, const char *in, size_t in_len, uint8_t *out, size_t out_cap,
	       size_t *out_len);
/* As b64_decode(), into a malloc'ed buffer (never secret data). */
int b64_decode_alloc(enum b64_variant v, const char *in, size_t in_len, uint8_t **out,
		     size_t *out_len);
/* As b64_decode(), but the input must decode to exactly out_len bytes (else -EINVAL). */
int b64_decode_exact(enum b64_variant v, const char *in, size_t in_len, uint8_t *out,
		     size_t out_len);
