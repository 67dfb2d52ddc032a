/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes the sequence at s[*i] (requires *i < len), advances *i past it and returns the code
 * point, or returns -1 (and leaves *i) when the bytes there are not valid UTF-8. */
int32_t utf8_next(const uint8_t *s, size_t len, size_t *i);

/* True when all len bytes of s are valid UTF-8 (an embedded NUL is valid UTF-8). */
bool utf8_valid(const uint8_t *s, size_t len);
