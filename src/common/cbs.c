#include "cbs.h"

#include <string.h>

bool cbs_get_bytes(struct cbs *c, const uint8_t **out, size_t n)
{
	if (c->len < n)
		return false;
	*out = c->data;
	c->data += n;
	c->len -= n;
	return true;
}

bool cbs_skip(struct cbs *c, size_t n)
{
	const uint8_t *p;

	return cbs_get_bytes(c, &p, n);
}

bool cbs_get_sub(struct cbs *c, struct cbs *sub, size_t n)
{
	const uint8_t *p;

	if (!cbs_get_bytes(c, &p, n))
		return false;
	cbs_init(sub, p, n);
	return true;
}

bool cbs_copy_bytes(struct cbs *c, void *out, size_t n)
{
	const uint8_t *p;

	if (!cbs_get_bytes(c, &p, n))
		return false;
	memcpy(out, p, n);
	return true;
}

static bool cbs_get_le(struct cbs *c, uint64_t *out, size_t n)
{
	const uint8_t *p;
	uint64_t v = 0;

	if (!cbs_get_bytes(c, &p, n))
		return false;
	for (size_t i = n; i > 0; i--)
		v = (v << 8) | p[i - 1];
	*out = v;
	return true;
}

/* The fixed-width getters: each reads sizeof(type) little-endian bytes through cbs_get_le().
 * type is a type name, which parentheses cannot enclose. */
/* NOLINTBEGIN(bugprone-macro-parentheses) */
#define DEFINE_CBS_GET_LE(name, type)                 \
	bool name(struct cbs *c, type *out)           \
	{                                             \
		uint64_t v;                           \
                                                      \
		if (!cbs_get_le(c, &v, sizeof(type))) \
			return false;                 \
		*out = (type)v;                       \
		return true;                          \
	}
/* NOLINTEND(bugprone-macro-parentheses) */

DEFINE_CBS_GET_LE(cbs_get_u8, uint8_t)
DEFINE_CBS_GET_LE(cbs_get_u16le, uint16_t)
DEFINE_CBS_GET_LE(cbs_get_u32le, uint32_t)

bool cbs_get_u64le(struct cbs *c, uint64_t *out)
{
	return cbs_get_le(c, out, 8);
}
