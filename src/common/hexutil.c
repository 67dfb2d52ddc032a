#include "hexutil.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

int hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

char *hex_encode_alloc(const uint8_t *in, size_t len)
{
	char *s = malloc(2 * len + 1);

	if (s)
		hex_encode(in, len, s);
	return s;
}

int hex_decode_exact(const char *in, size_t in_len, uint8_t *out, size_t out_len)
{
	if (in_len != 2 * out_len)
		return -EINVAL;
	for (size_t i = 0; i < out_len; i++) {
		int hi = hex_nibble(in[2 * i]), lo = hex_nibble(in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int hex_decode_alloc(const char *in, size_t in_len, uint8_t **out, size_t *out_len)
{
	uint8_t *buf;
	size_t n = 0;
	int hi = -1;

	buf = malloc(in_len / 2 + 1);
	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < in_len; i++) {
		int v;

		if (isspace((unsigned char)in[i]))
			continue;
		v = hex_nibble(in[i]);
		if (v < 0) {
			free(buf);
			return -EINVAL;
		}
		if (hi < 0) {
			hi = v;
		} else {
			buf[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	if (hi >= 0) {
		free(buf);
		return -EINVAL;
	}
	*out = buf;
	*out_len = n;
	return 0;
}
