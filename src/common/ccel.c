#include "ccel.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aael.h"
#include "cbs.h"
#include "cleanup.h"
#include "log.h"

#define TPM_ALG_SHA384	  0x000cu
#define SPEC_ID_SIGNATURE "Spec ID Event03"
#define MAX_ALGS	  8

struct alg_size {
	uint16_t alg;
	uint16_t size;
};

#define ccel_fail(reason, reason_len, ...) \
	log_refusal(LOG_LVL_ERR, -EBADMSG, "ccel: ", reason, reason_len, __VA_ARGS__)

static const struct {
	uint32_t type;
	const char *name;
} type_names[] = {
	{0x00000000u, "EV_PREBOOT_CERT"},
	{0x00000001u, "EV_POST_CODE"},
	{EV_NO_ACTION, "EV_NO_ACTION"},
	{EV_SEPARATOR, "EV_SEPARATOR"},
	{0x00000005u, "EV_ACTION"},
	{EV_EVENT_TAG, "EV_EVENT_TAG"},
	{0x00000007u, "EV_S_CRTM_CONTENTS"},
	{0x00000008u, "EV_S_CRTM_VERSION"},
	{0x00000009u, "EV_CPU_MICROCODE"},
	{0x0000000au, "EV_PLATFORM_CONFIG_FLAGS"},
	{0x0000000bu, "EV_TABLE_OF_DEVICES"},
	{0x0000000cu, "EV_COMPACT_HASH"},
	{EV_IPL, "EV_IPL"},
	{0x0000000eu, "EV_IPL_PARTITION_DATA"},
	{0x0000000fu, "EV_NONHOST_CODE"},
	{0x00000010u, "EV_NONHOST_CONFIG"},
	{0x00000011u, "EV_NONHOST_INFO"},
	{0x00000012u, "EV_OMIT_BOOT_DEVICE_EVENTS"},
	{0x80000001u, "EV_EFI_VARIABLE_DRIVER_CONFIG"},
	{0x80000002u, "EV_EFI_VARIABLE_BOOT"},
	{EV_EFI_BOOT_SERVICES_APPLICATION, "EV_EFI_BOOT_SERVICES_APPLICATION"},
	{0x80000004u, "EV_EFI_BOOT_SERVICES_DRIVER"},
	{0x80000005u, "EV_EFI_RUNTIME_SERVICES_DRIVER"},
	{0x80000006u, "EV_EFI_GPT_EVENT"},
	{EV_EFI_ACTION, "EV_EFI_ACTION"},
	{0x80000008u, "EV_EFI_PLATFORM_FIRMWARE_BLOB"},
	{0x80000009u, "EV_EFI_HANDOFF_TABLES"},
	{0x8000000au, "EV_EFI_PLATFORM_FIRMWARE_BLOB2"},
	{0x8000000bu, "EV_EFI_HANDOFF_TABLES2"},
	{0x8000000cu, "EV_EFI_VARIABLE_BOOT2"},
	{0x80000010u, "EV_EFI_HCRTM_EVENT"},
	{0x800000e0u, "EV_EFI_VARIABLE_AUTHORITY"},
	{0x800000e1u, "EV_EFI_SPDM_FIRMWARE_BLOB"},
	{0x800000e2u, "EV_EFI_SPDM_FIRMWARE_CONFIG"},
};

const char *ccel_event_type_name(uint32_t type)
{
	for (size_t i = 0; i < ARRAY_SIZE(type_names); i++)
		if (type_names[i].type == type)
			return type_names[i].name;
	return NULL;
}

int ccel_event_type_parse(const char *s, uint32_t *type)
{
	unsigned long v;
	char *end;

	for (size_t i = 0; i < ARRAY_SIZE(type_names); i++)
		if (!strcmp(type_names[i].name, s)) {
			*type = type_names[i].type;
			return 0;
		}
	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || v > UINT32_MAX)
		return -EINVAL;
	*type = (uint32_t)v;
	return 0;
}

static bool is_boot_app(const struct ccel_event *ev)
{
	return ev->type == EV_EFI_BOOT_SERVICES_APPLICATION && ev->rtmr == 1;
}

const char *ccel_event_kind(const struct ccel_log *log, size_t i)
{
	const struct ccel_event *ev = &log->events[i];
	uint32_t tag;

	if (is_boot_app(ev)) {
		for (size_t j = 0; j < log->n_events; j++)
			if (j != i && is_boot_app(&log->events[j]))
				return NULL;
		return "kernel";
	}
	if (ev->type != EV_EVENT_TAG || ev->rtmr != 2 || ev->data_len < 8)
		return NULL;
	tag = (uint32_t)ev->data[0] | (uint32_t)ev->data[1] << 8 | (uint32_t)ev->data[2] << 16 |
	      (uint32_t)ev->data[3] << 24;
	if (tag == LINUX_INITRD_EVENT_TAG_ID)
		return "initrd";
	if (tag == LINUX_LOAD_OPTIONS_EVENT_TAG_ID)
		return "cmdline";
	return NULL;
}

/* The legacy first record and its Spec ID header: which digests each record carries. */
static int parse_header(struct cbs *c, struct alg_size *algs, uint32_t *n_algs, char *reason,
			size_t reason_len)
{
	uint32_t mr, type, size;
	struct cbs spec;
	uint8_t vendor_len;
	const uint8_t *sig;
	bool sha384 = false;

	if (!cbs_get_u32le(c, &mr) || !cbs_get_u32le(c, &type) || !cbs_skip(c, 20) ||
	    !cbs_get_u32le(c, &size) || !cbs_get_sub(c, &spec, size))
		return ccel_fail(reason, reason_len, "truncated in the Spec ID header");
	if (type != EV_NO_ACTION || !cbs_get_bytes(&spec, &sig, sizeof(SPEC_ID_SIGNATURE)) ||
	    memcmp(sig, SPEC_ID_SIGNATURE, sizeof(SPEC_ID_SIGNATURE)) != 0)
		return ccel_fail(reason, reason_len,
				 "first record is not the '" SPEC_ID_SIGNATURE "' header");
	/* platformClass, specVersionMinor/Major, specErrata, uintnSize */
	if (!cbs_skip(&spec, 8) || !cbs_get_u32le(&spec, n_algs))
		return ccel_fail(reason, reason_len, "Spec ID header truncated");
	if (*n_algs == 0 || *n_algs > MAX_ALGS)
		return ccel_fail(reason, reason_len, "Spec ID header lists %u digest algorithms",
				 *n_algs);
	for (uint32_t i = 0; i < *n_algs; i++) {
		if (!cbs_get_u16le(&spec, &algs[i].alg) || !cbs_get_u16le(&spec, &algs[i].size))
			return ccel_fail(reason, reason_len, "Spec ID header truncated");
		if (algs[i].size == 0 || algs[i].size > 64)
			return ccel_fail(reason, reason_len,
					 "Spec ID header: digest size %u for algorithm 0x%04x",
					 algs[i].size, algs[i].alg);
		if (algs[i].alg == TPM_ALG_SHA384) {
			if (algs[i].size != CCEL_DIGEST_LEN)
				return ccel_fail(reason, reason_len,
						 "Spec ID header: SHA-384 of %u bytes",
						 algs[i].size);
			sha384 = true;
		}
	}
	if (!cbs_get_u8(&spec, &vendor_len) || !cbs_skip(&spec, vendor_len) || cbs_len(&spec))
		return ccel_fail(reason, reason_len, "Spec ID header has a bad vendor info size");
	if (!sha384)
		return ccel_fail(reason, reason_len, "no SHA-384 digests (the RTMR algorithm)");
	return 0;
}

/* The rest of the area is padding when it is all 0xff or all 0x00. */
static bool is_padding(const struct cbs *c)
{
	const uint8_t *p = cbs_data(c);
	size_t n = cbs_len(c);

	for (size_t i = 1; i < n; i++)
		if (p[i] != p[0])
			return false;
	return n == 0 || p[0] == 0xff || p[0] == 0x00;
}

static int parse_event(struct cbs *c, size_t idx, const struct alg_size *algs, uint32_t n_algs,
		       struct ccel_event *ev, char *reason, size_t reason_len)
{
	uint32_t mr, n_digests, size;
	bool have_sha384 = false;

	if (!cbs_get_u32le(c, &mr) || !cbs_get_u32le(c, &ev->type) || !cbs_get_u32le(c, &n_digests))
		return ccel_fail(reason, reason_len, "event %zu: truncated in its header", idx);
	if (n_digests == 0 || n_digests > n_algs)
		return ccel_fail(reason, reason_len,
				 "event %zu: %u digests, the header declares %u", idx, n_digests,
				 n_algs);
	for (uint32_t d = 0; d < n_digests; d++) {
		const struct alg_size *a = NULL;
		const uint8_t *p;
		uint16_t alg;

		if (!cbs_get_u16le(c, &alg))
			return ccel_fail(reason, reason_len, "event %zu: truncated in digest %u",
					 idx, d);
		for (uint32_t i = 0; i < n_algs; i++)
			if (algs[i].alg == alg)
				a = &algs[i];
		if (!a)
			return ccel_fail(reason, reason_len,
					 "event %zu: digest algorithm 0x%04x not in the header",
					 idx, alg);
		if (!cbs_get_bytes(c, &p, a->size))
			return ccel_fail(reason, reason_len, "event %zu: truncated in digest %u",
					 idx, d);
		if (alg == TPM_ALG_SHA384) {
			memcpy(ev->digest, p, CCEL_DIGEST_LEN);
			have_sha384 = true;
		}
	}
	if (!have_sha384)
		return ccel_fail(reason, reason_len, "event %zu: no SHA-384 digest", idx);
	if (!cbs_get_u32le(c, &size) || !cbs_get_bytes(c, &ev->data, size))
		return ccel_fail(reason, reason_len, "event %zu: truncated in its data", idx);
	ev->data_len = size;
	if (ev->type == EV_NO_ACTION)
		return 0;
	if (mr < 1 || mr > CCEL_NUM_RTMR)
		return ccel_fail(reason, reason_len,
				 "event %zu: measurement register index %u (RTMRs are 1-4)", idx,
				 mr);
	ev->rtmr = mr - 1;
	return 0;
}

void ccel_log_done(struct ccel_log *log)
{
	if (!log)
		return;
	free(log->events);
	log->events = NULL;
	log->n_events = 0;
}

int ccel_parse(const uint8_t *buf, size_t len, struct ccel_log *log, char *reason,
	       size_t reason_len)
{
	struct alg_size algs[MAX_ALGS];
	uint32_t n_algs = 0;
	struct cbs c;
	size_t idx = 0;
	int r;

	memset(log, 0, sizeof(*log));
	if (len > CCEL_MAX_LEN)
		return ccel_fail(reason, reason_len, "log of %zu bytes exceeds %d", len,
				 CCEL_MAX_LEN);
	cbs_init(&c, buf, len);
	r = parse_header(&c, algs, &n_algs, reason, reason_len);
	if (r < 0)
		return r;
	/* Each record is at least 12 + 2 + 48 + 4 bytes: this bounds the array. */
	log->events = calloc(cbs_len(&c) / 66 + 1, sizeof(*log->events));
	if (!log->events)
		return -ENOMEM;
	while (cbs_len(&c) > 0 && !is_padding(&c)) {
		struct ccel_event ev = {0};

		idx++;
		r = parse_event(&c, idx, algs, n_algs, &ev, reason, reason_len);
		if (r < 0)
			goto fail;
		if (ev.type == EV_NO_ACTION)
			continue;
		if (log->n_events >= CCEL_MAX_EVENTS) {
			r = ccel_fail(reason, reason_len, "more than %d events", CCEL_MAX_EVENTS);
			goto fail;
		}
		log->events[log->n_events++] = ev;
	}
	log->used_len = len - cbs_len(&c);
	return 0;
fail:
	ccel_log_done(log);
	return r;
}

int ccel_replay(const struct ccel_log *log, uint8_t rtmr[CCEL_NUM_RTMR][CCEL_DIGEST_LEN])
{
	int r = 0;

	memset(rtmr, 0, CCEL_NUM_RTMR * CCEL_DIGEST_LEN);
	for (size_t i = 0; r == 0 && i < log->n_events; i++)
		r = aael_extend(rtmr[log->events[i].rtmr], log->events[i].digest);
	return r;
}
