/* Bounded reader over untrusted bytes (after BoringSSL's CBS): every read checks the remaining
 * length; parsers never index a raw buffer by an offset taken from the input. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cbs {
	const uint8_t *data;
	size_t len;
};

static inline void cbs_init(struct cbs *c, const uint8_t *data, size_t len)
{
	c->data = data;
	c->len = len;
}

static inline size_t cbs_len(const struct cbs *c)
{
	return c->len;
}

static inline const uint8_t *cbs_data(const struct cbs *c)
{
	return c->data;
}

/* Each returns true on success and advances; on failure the reader is unchanged. */
bool cbs_skip(struct cbs *c, size_t n);
bool cbs_get_u8(struct cbs *c, uint8_t *out);
bool cbs_get_u16le(struct cbs *c, uint16_t *out);
bool cbs_get_u32le(struct cbs *c, uint32_t *out);
bool cbs_get_u64le(struct cbs *c, uint64_t *out);
/* Points *out at the next n bytes (no copy). */
bool cbs_get_bytes(struct cbs *c, const uint8_t **out, size_t n);
/* Splits off the next n bytes as a sub-reader. */
bool cbs_get_sub(struct cbs *c, struct cbs *sub, size_t n);
bool cbs_copy_bytes(struct cbs *c, void *out, size_t n);
