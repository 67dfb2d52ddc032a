#include "b64.h"

#include <errno.h>
#include <stdlib.h>

static const char b64_std_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t b64_encoded_len(enum b64_variant v, size_t len)
{
	if (v == B64_STD)
		return (len + 2) / 3 * 4;
	return len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0);
}

size_t b64_decoded_max(size_t in_len)
{
	return in_len / 4 * 3 + (in_len % 4 ? in_len % 4 - 1 : 0);
}

int b64_encode_to(enum b64_variant v, const uint8_t *in, size_t len, char *out, size_t out_cap)
{
	const char *chars = v == B64_STD ? b64_std_chars : b64_url_chars;
	size_t i, o = 0;

	if (len > (SIZE_MAX - 4) / 4 * 3 || out_cap < b64_encoded_len(v, len) + 1)
		return -ENOBUFS;
	for (i = 0; i + 3 <= len; i += 3) {
		uint32_t w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = chars[w >> 18 & 0x3f];
		out[o++] = chars[w >> 12 & 0x3f];
		out[o++] = chars[w >> 6 & 0x3f];
		out[o++] = chars[w & 0x3f];
	}
	if (len - i == 1) {
		uint32_t w = (uint32_t)in[i] << 16;

		out[o++] = chars[w >> 18 & 0x3f];
		out[o++] = chars[w >> 12 & 0x3f];
		if (v == B64_STD) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (len - i == 2) {
		uint32_t w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

		out[o++] = chars[w >> 18 & 0x3f];
		out[o++] = chars[w >> 12 & 0x3f];
		out[o++] = chars[w >> 6 & 0x3f];
		if (v == B64_STD)
			out[o++] = '=';
	}
	out[o] = '\0';
	return (int)o;
}

char *b64_encode(enum b64_variant v, const uint8_t *in, size_t len)
{
	char *out;

	if (len > (SIZE_MAX - 4) / 4 * 3) {
		errno = ENOMEM;
		return NULL;
	}
	out = malloc(b64_encoded_len(v, len) + 1);
	if (out)
		(void)b64_encode_to(v, in, len, out, b64_encoded_len(v, len) + 1);
	return out;
}

/* Each character's value + 1 (0: not in the alphabet), for decoding four at a time. The two
 * alphabets differ only in their last two characters. */
#define B64_VALUES_0_TO_61                                                                      \
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7, ['H'] = 8, \
	['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15,      \
	['P'] = 16, ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22,     \
	['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29,     \
	['d'] = 30, ['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36,     \
	['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42, ['q'] = 43,     \
	['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48, ['w'] = 49, ['x'] = 50,     \
	['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56, ['4'] = 57,     \
	['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62
static const uint8_t b64_std_value[256] = {B64_VALUES_0_TO_61, ['+'] = 63, ['/'] = 64};
static const uint8_t b64_url_value[256] = {B64_VALUES_0_TO_61, ['-'] = 63, ['_'] = 64};

/* Value of c in the variant's alphabet, or -1. */
static int b64_value(enum b64_variant v, char c)
{
	return (int)(v == B64_STD ? b64_std_value : b64_url_value)[(uint8_t)c] - 1;
}

int b64_decode(enum b64_variant v, const char *in, size_t in_len, uint8_t *out, size_t out_cap,
	       size_t *out_len)
{
	size_t data_len = in_len, n, i, o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;

	if (v == B64_STD) {
		if (in_len % 4)
			return -EINVAL;
		/* At most two '=', only at the very end. */
		if (data_len > 0 && in[data_len - 1] == '=')
			data_len--;
		if (data_len > 0 && in[data_len - 1] == '=')
			data_len--;
	}
	if (data_len % 4 == 1)
		return -EINVAL;
	n = b64_decoded_max(data_len);
	if (n > out_cap)
		return -ENOBUFS;

	/* Whole groups of four characters: three bytes each. */
	{
		const uint8_t *t = v == B64_STD ? b64_std_value : b64_url_value;

		for (i = 0; i + 4 <= data_len; i += 4) {
			unsigned a = t[(uint8_t)in[i]], b = t[(uint8_t)in[i + 1]],
				 c = t[(uint8_t)in[i + 2]], d = t[(uint8_t)in[i + 3]];
			uint32_t x;

			if (!a || !b || !c || !d)
				return -EINVAL;
			x = (a - 1) << 18 | (b - 1) << 12 | (c - 1) << 6 | (d - 1);
			out[o++] = (uint8_t)(x >> 16);
			out[o++] = (uint8_t)(x >> 8);
			out[o++] = (uint8_t)x;
		}
	}
	/* The last two or three characters, bit by bit. */
	for (; i < data_len; i++) {
		int d = b64_value(v, in[i]);

		if (d < 0)
			return -EINVAL;
		acc = acc << 6 | (uint32_t)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Leftover bits must be zero so that each byte string has exactly one encoding. */
	if (acc != 0)
		return -EINVAL;
	*out_len = o;
	return 0;
}

int b64_decode_alloc(enum b64_variant v, const char *in, size_t in_len, uint8_t **out,
		     size_t *out_len)
{
	size_t cap = b64_decoded_max(in_len);
	uint8_t *buf;
	int r;

	/* One spare byte so that an empty result is still a valid allocation. */
	buf = malloc(cap + 1);
	if (!buf)
		return -ENOMEM;
	r = b64_decode(v, in, in_len, buf, cap, out_len);
	if (r < 0) {
		free(buf);
		return r;
	}
	*out = buf;
	return 0;
}

int b64_decode_exact(enum b64_variant v, const char *in, size_t in_len, uint8_t *out,
		     size_t out_len)
{
	size_t n;
	int r;

	r = b64_decode(v, in, in_len, out, out_len, &n);
	if (r < 0)
		return r == -ENOBUFS ? -EINVAL : r;
	return n == out_len ? 0 : -EINVAL;
}
