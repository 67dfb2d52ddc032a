/* Escaping of untrusted text (anything taken from a request, a quote or a certificate) before it
 * reaches a log line, an audit record or an error body: the result is always valid UTF-8 with no
 * control characters and a bounded length. The one way to do it; log.c and audit.c apply it. */
#pragma once

#include <stddef.h>

/* Copies in[0..len) into out (out_size > 0 bytes, NUL-terminated) with every byte that is not
 * part of a printable UTF-8 character written as "\xNN": control characters (C0, DEL, C1),
 * invalid or truncated UTF-8, and the line/paragraph separators and bidirectional controls that
 * can make a line look like another (U+2028/9, U+200E/F, U+202A..E, U+2066..9). Idempotent
 * (escaping escaped text changes nothing), so that every sink can apply it whatever a caller did
 * before; the price is that a literal "\x0a" reads like an escaped newline. A result longer
 * than out_size - 1 is cut at a character boundary and ends in "...". Returns the length
 * written. */
size_t text_escape(const void *in, size_t len, char *out, size_t out_size);

/* text_escape() of a NUL-terminated string (NULL gives ""). */
size_t text_escape_str(const char *in, char *out, size_t out_size);
