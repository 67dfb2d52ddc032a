#include "image_measure.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "cbs.h"
#include "cleanup.h"
#include "hexutil.h"
#include "json_build.h"
#include "log.h"
#include "utf8.h"

#define PE_MAX_SECTIONS 96 /* the PE/COFF specification's loader limit */

#define pe_fail(reason, reason_len, ...) \
	log_refusal(LOG_LVL_ERR, -EBADMSG, "kernel image: ", reason, reason_len, __VA_ARGS__)

/* Little-endian fields at a fixed offset, through the bounded reader. */
static bool read_u16(const uint8_t *img, size_t len, size_t off, uint16_t *v)
{
	struct cbs c;

	cbs_init(&c, img, len);
	return cbs_skip(&c, off) && cbs_get_u16le(&c, v);
}

static bool read_u32(const uint8_t *img, size_t len, size_t off, uint32_t *v)
{
	struct cbs c;

	cbs_init(&c, img, len);
	return cbs_skip(&c, off) && cbs_get_u32le(&c, v);
}

struct section {
	uint32_t offset, size;
};

static int cmp_section(const void *a, const void *b)
{
	const struct section *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static bool hash_range(EVP_MD_CTX *ctx, const uint8_t *img, size_t len, size_t from, size_t to)
{
	return from <= to && to <= len && EVP_DigestUpdate(ctx, img + from, to - from);
}

int image_pe_authenticode_sha384(const uint8_t *img, size_t len, uint8_t out[IMAGE_DIGEST_LEN],
				 char *reason, size_t reason_len)
{
	static const uint8_t zeros[8];
	struct section sec[PE_MAX_SECTIONS];
	uint32_t lfanew, sig, size_of_headers, n_dirs, cert_off = 0, cert_size = 0;
	uint16_t n_sections, opt_size, magic;
	size_t opt, checksum, dirs, cert_entry = 0, sum, n = 0;
	unsigned int dlen = 0;
	EVP_MD_CTX *ctx = NULL;
	bool ok;
	int r = -EBADMSG;

	if (!read_u32(img, len, 0x3c, &lfanew) || !read_u32(img, len, lfanew, &sig) ||
	    sig != 0x00004550)
		return pe_fail(reason, reason_len, "not a PE/COFF image (no PE signature)");
	if (!read_u16(img, len, (size_t)lfanew + 6, &n_sections) ||
	    !read_u16(img, len, (size_t)lfanew + 20, &opt_size))
		return pe_fail(reason, reason_len, "COFF header truncated");
	opt = (size_t)lfanew + 24;
	if (!read_u16(img, len, opt, &magic) || (magic != 0x10b && magic != 0x20b))
		return pe_fail(reason, reason_len,
			       "optional header magic is neither PE32 nor PE32+");
	checksum = opt + 64;
	dirs = opt + (magic == 0x20b ? 112 : 96);
	if (!read_u32(img, len, opt + 60, &size_of_headers) ||
	    !read_u32(img, len, dirs - 4, &n_dirs) || size_of_headers > len ||
	    (size_t)opt_size < dirs - opt)
		return pe_fail(reason, reason_len, "optional header truncated");
	if (n_dirs > 4) {
		cert_entry = dirs + 4 * 8;
		if (!read_u32(img, len, cert_entry, &cert_off) ||
		    !read_u32(img, len, cert_entry + 4, &cert_size) ||
		    cert_entry + 8 > size_of_headers)
			return pe_fail(reason, reason_len, "certificate table entry truncated");
	}
	if (checksum + 4 > size_of_headers)
		return pe_fail(reason, reason_len, "headers end before the checksum");
	if (n_sections > PE_MAX_SECTIONS)
		return pe_fail(reason, reason_len, "%u sections (at most %d)", n_sections,
			       PE_MAX_SECTIONS);
	for (uint16_t i = 0; i < n_sections; i++) {
		size_t s = opt + opt_size + (size_t)i * 40;
		uint32_t size, off;

		if (!read_u32(img, len, s + 16, &size) || !read_u32(img, len, s + 20, &off))
			return pe_fail(reason, reason_len, "section table truncated");
		if (size == 0)
			continue;
		if ((size_t)off + size > len || off < size_of_headers)
			return pe_fail(reason, reason_len,
				       "section %u lies outside the file or in its headers", i + 1);
		sec[n++] = (struct section){off, size};
	}
	qsort(sec, n, sizeof(sec[0]), cmp_section);

	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -ENOMEM;
	ok = EVP_DigestInit_ex(ctx, EVP_sha384(), NULL) && hash_range(ctx, img, len, 0, checksum);
	if (cert_entry)
		ok = ok && hash_range(ctx, img, len, checksum + 4, cert_entry) &&
		     hash_range(ctx, img, len, cert_entry + 8, size_of_headers);
	else
		ok = ok && hash_range(ctx, img, len, checksum + 4, size_of_headers);
	sum = size_of_headers;
	for (size_t i = 0; ok && i < n; i++) {
		ok = hash_range(ctx, img, len, sec[i].offset, (size_t)sec[i].offset + sec[i].size);
		sum += sec[i].size;
	}
	/* What follows the sections, except the certificate table (the signature). */
	if (ok && len > sum) {
		if (len < sum + cert_size) {
			r = pe_fail(reason, reason_len,
				    "certificate table larger than the file's tail");
			goto out;
		}
		ok = hash_range(ctx, img, len, sum, len - cert_size);
	}
	if (ok && len % 8)
		ok = EVP_DigestUpdate(ctx, zeros, 8 - len % 8);
	ok = ok && EVP_DigestFinal_ex(ctx, out, &dlen) && dlen == IMAGE_DIGEST_LEN;
	if (!ok) {
		r = pe_fail(reason, reason_len, "sections overlap the headers or the file's end");
		goto out;
	}
	(void)cert_off;
	r = 0;
out:
	EVP_MD_CTX_free(ctx);
	return r;
}

int image_cmdline_sha384(const char *cmdline, uint8_t out[IMAGE_DIGEST_LEN])
{
	const uint8_t *s = (const uint8_t *)cmdline;
	size_t len = strlen(cmdline), i = 0, n = 0;
	uint8_t *u16;
	unsigned int dlen = 0;
	int r = 0;

	if (!utf8_valid(s, len))
		return log_error_errno(-EINVAL, "command line is not UTF-8");
	u16 = malloc(4 * len + 2);
	if (!u16)
		return -ENOMEM;
	while (i < len) {
		int32_t cp = utf8_next(s, len, &i);
		uint16_t units[2];
		int k = 1;

		if (cp >= 0x10000) {
			units[0] = (uint16_t)(0xd800 + ((cp - 0x10000) >> 10));
			units[1] = (uint16_t)(0xdc00 + ((cp - 0x10000) & 0x3ff));
			k = 2;
		} else {
			units[0] = (uint16_t)cp;
		}
		for (int j = 0; j < k; j++) {
			u16[n++] = (uint8_t)(units[j] & 0xff);
			u16[n++] = (uint8_t)(units[j] >> 8);
		}
	}
	u16[n++] = 0;
	u16[n++] = 0;
	if (EVP_Digest(u16, n, out, &dlen, EVP_sha384(), NULL) != 1 || dlen != IMAGE_DIGEST_LEN)
		r = log_error_errno(-EIO, "SHA-384 failed");
	free(u16);
	return r;
}

static int add_event(struct json_object *arr, const char *type, const char *key,
		     const uint8_t digest[IMAGE_DIGEST_LEN])
{
	struct json_object *ev = json_object_new_object(), *list = json_object_new_array();
	char hex[2 * IMAGE_DIGEST_LEN + 1];
	int r;

	hex_encode(digest, IMAGE_DIGEST_LEN, hex);
	if (!ev || json_object_array_add(arr, ev) < 0) {
		json_object_put(ev);
		json_object_put(list);
		return -ENOMEM;
	}
	r = type ? json_add_string(ev, "type", type) : 0;
	if (r == 0)
		r = json_add_member(ev, key, list);
	else
		json_object_put(list);
	if (r == 0 && json_object_array_add(list, json_object_new_string(hex)) < 0)
		r = -ENOMEM;
	return r;
}

static int add_register(struct json_object *stanza, const char *name, struct json_object **events)
{
	struct json_object *reg = json_object_new_object();

	*events = json_object_new_array();
	if (json_add_member(stanza, name, reg) < 0) {
		json_object_put(*events);
		return -ENOMEM;
	}
	return json_add_member(reg, "events", *events);
}

int image_direct_boot_stanza(const uint8_t kernel[IMAGE_DIGEST_LEN],
			     const uint8_t cmdline[IMAGE_DIGEST_LEN],
			     const uint8_t initrd[IMAGE_DIGEST_LEN], struct json_object **out)
{
	static const char *const actions[] = {"Calling EFI Application from Boot Option", NULL,
					      "Exit Boot Services Invocation",
					      "Exit Boot Services Returned with Success"};
	static const uint8_t separator[4];
	struct json_object *stanza = json_object_new_object(), *events;
	uint8_t d[IMAGE_DIGEST_LEN];
	int r;

	if (!stanza)
		return -ENOMEM;
	r = add_register(stanza, "rtmr1", &events);
	if (r == 0)
		r = add_event(events, NULL, "kernel", kernel);
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(actions); i++) {
		const void *data = actions[i] ? (const void *)actions[i] : separator;
		size_t len = actions[i] ? strlen(actions[i]) : sizeof(separator);

		r = EVP_Digest(data, len, d, NULL, EVP_sha384(), NULL) == 1 ? 0 : -EIO;
		if (r == 0)
			r = add_event(events, actions[i] ? "EV_EFI_ACTION" : "EV_SEPARATOR",
				      "digest", d);
	}
	if (r == 0)
		r = add_register(stanza, "rtmr2", &events);
	if (r == 0)
		r = add_event(events, NULL, "cmdline", cmdline);
	if (r == 0)
		r = add_event(events, NULL, "initrd", initrd);
	if (r < 0) {
		json_object_put(stanza);
		return r;
	}
	*out = stanza;
	return 0;
}
