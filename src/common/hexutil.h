/* Hex encoding and decoding (lowercase output; decoding accepts either case). */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The value of one hex digit (either case), or -1. */
int hex_nibble(char c);
/* Writes 2*len+1 bytes (NUL-terminated) into out. */
void hex_encode(const uint8_t *in, size_t len, char *out);
/* Returns a malloc'ed NUL-terminated lowercase string, or NULL. */
char *hex_encode_alloc(const uint8_t *in, size_t len);
/* Decodes exactly 2*out_len hex digits; returns 0 or -EINVAL. */
int hex_decode_exact(const char *in, size_t in_len, uint8_t *out, size_t out_len);
/* Decodes hex text (whitespace ignored) into a malloc'ed buffer; returns 0 or a negative errno. */
int hex_decode_alloc(const char *in, size_t in_len, uint8_t **out, size_t *out_len);
