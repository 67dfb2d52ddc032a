#include "escape.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "utf8.h"

/* Code points that are valid UTF-8 but still must not reach a log as themselves. */
static bool cp_needs_escape(int32_t cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0x200e ||
	       cp == 0x200f || cp == 0x2028 || cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

/* Escapes into out[0..room) without a NUL; returns the length written and sets *done when all
 * of the input fit. Stops at a character boundary. */
static size_t escape_into(const uint8_t *s, size_t len, char *out, size_t room, bool *done)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0, o = 0;

	while (i < len) {
		char buf[4 * 4];
		size_t start = i, n = 0;
		int32_t cp = utf8_next(s, len, &i);

		if (cp < 0)
			i = start + 1; /* not UTF-8: this byte alone */
		if (cp < 0 || cp_needs_escape(cp)) {
			for (size_t k = start; k < i; k++) {
				buf[n++] = '\\';
				buf[n++] = 'x';
				buf[n++] = hex[s[k] >> 4];
				buf[n++] = hex[s[k] & 15];
			}
		} else {
			n = i - start;
			memcpy(buf, s + start, n);
		}
		if (o + n > room) {
			*done = false;
			return o;
		}
		memcpy(out + o, buf, n);
		o += n;
	}
	*done = true;
	return o;
}

size_t text_escape(const void *in, size_t len, char *out, size_t out_size)
{
	static const char ellipsis[] = "...";
	size_t o, e = sizeof(ellipsis) - 1;
	bool done;

	if (out_size == 0)
		return 0;
	o = escape_into(in, len, out, out_size - 1, &done);
	if (!done) {
		/* Cut: again with room for "...", so that the result says it was cut. */
		if (e > out_size - 1)
			e = out_size - 1;
		o = escape_into(in, len, out, out_size - 1 - e, &done);
		memcpy(out + o, ellipsis, e);
		o += e;
	}
	out[o] = '\0';
	return o;
}

size_t text_escape_str(const char *in, char *out, size_t out_size)
{
	return text_escape(in ? in : "", in ? strlen(in) : 0, out, out_size);
}
