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

/* Linux boot protocol (Documentation/arch/x86/boot.rst) offsets of the setup header. */
#define SETUP_VID_MODE	     0x1fa
#define SETUP_HDRS	     0x202 /* "HdrS" */
#define SETUP_VERSION	     0x206
#define SETUP_LOADER_TYPE    0x210
#define SETUP_LOADFLAGS	     0x211
#define SETUP_RAMDISK_IMAGE  0x218
#define SETUP_RAMDISK_SIZE   0x21c
#define SETUP_HEAP_END_PTR   0x224
#define SETUP_CMD_LINE_PTR   0x228
#define SETUP_INITRD_MAX     0x22c
#define SETUP_XLOADFLAGS     0x236
#define SETUP_HEADER_END     0x268
#define LOADED_HIGH	     0x01
#define CAN_USE_HEAP	     0x80
#define XLF_CAN_LOAD_ABOVE4G 0x02
/* QEMU's choices for a "high and recent" kernel (protocol >= 2.02, LOADED_HIGH) on q35. */
#define QEMU_REAL_ADDR	    0x10000u
#define QEMU_CMDLINE_ADDR   0x20000u
#define QEMU_LOADER_TYPE    0xb0
#define QEMU_ACPI_DATA_SIZE 0x28000u

static void put_le(uint8_t *p, uint32_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le(const uint8_t *p, int n)
{
	uint32_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* QEMU's parsing of "vga=" (normal, ext, ask or a number ended by a space or the end). */
static int vga_mode(const char *cmdline, uint32_t *mode)
{
	const char *v = strstr(cmdline, "vga=");
	char *end;
	unsigned long m;

	if (!v)
		return 0;
	v += 4;
	if (!strncmp(v, "normal", 6))
		*mode = 0xffff;
	else if (!strncmp(v, "ext", 3))
		*mode = 0xfffe;
	else if (!strncmp(v, "ask", 3))
		*mode = 0xfffd;
	else {
		errno = 0;
		m = strtoul(v, &end, 0);
		if (errno || end == v || (*end && *end != ' ') || m > UINT32_MAX)
			return -EINVAL;
		*mode = (uint32_t)m;
	}
	return 1;
}

int image_qemu_patch_setup_header(uint8_t *img, size_t len, uint64_t ram_size, uint64_t initrd_size,
				  const char *cmdline, char *reason, size_t reason_len)
{
	uint64_t low_mem, below_4g, initrd_max, initrd_addr;
	uint32_t protocol, vga = 0;
	int r;

	if (len < SETUP_HEADER_END || memcmp(img + SETUP_HDRS, "HdrS", 4) != 0)
		return pe_fail(reason, reason_len, "no Linux boot-protocol setup header (HdrS)");
	protocol = get_le(img + SETUP_VERSION, 2);
	if (protocol < 0x202 || !(img[SETUP_LOADFLAGS] & LOADED_HIGH))
		return pe_fail(reason, reason_len,
			       "boot protocol %u.%02u or a low kernel: QEMU loads it differently "
			       "(not modelled)",
			       protocol >> 8, protocol & 0xff);
	/* q35: low memory ends at 2 GiB when the RAM reaches 2.75 GiB, else at 2.75 GiB. */
	low_mem = ram_size >= 0xb0000000u ? 0x80000000u : 0xb0000000u;
	below_4g = ram_size < low_mem ? ram_size : low_mem;
	if (below_4g <= QEMU_ACPI_DATA_SIZE)
		return pe_fail(reason, reason_len, "guest memory size %llu too small",
			       (unsigned long long)ram_size);
	if (protocol >= 0x20c && (get_le(img + SETUP_XLOADFLAGS, 2) & XLF_CAN_LOAD_ABOVE4G))
		initrd_max = UINT32_MAX;
	else
		initrd_max = get_le(img + SETUP_INITRD_MAX, 4);
	if (initrd_max >= below_4g - QEMU_ACPI_DATA_SIZE)
		initrd_max = below_4g - QEMU_ACPI_DATA_SIZE - 1;
	if (initrd_size >= initrd_max)
		return pe_fail(reason, reason_len, "initrd of %llu bytes does not fit below %#llx",
			       (unsigned long long)initrd_size, (unsigned long long)initrd_max);
	initrd_addr = (initrd_max - initrd_size) & ~(uint64_t)4095;
	r = vga_mode(cmdline, &vga);
	if (r < 0)
		return log_refusal(LOG_LVL_ERR, -EINVAL, "command line: ", reason, reason_len,
				   "invalid 'vga=' value (QEMU refuses it)");

	put_le(img + SETUP_CMD_LINE_PTR, QEMU_CMDLINE_ADDR, 4);
	if (r > 0)
		put_le(img + SETUP_VID_MODE, vga, 2);
	img[SETUP_LOADER_TYPE] = QEMU_LOADER_TYPE;
	img[SETUP_LOADFLAGS] |= CAN_USE_HEAP;
	put_le(img + SETUP_HEAP_END_PTR, QEMU_CMDLINE_ADDR - QEMU_REAL_ADDR - 0x200, 2);
	put_le(img + SETUP_RAMDISK_IMAGE, (uint32_t)initrd_addr, 4);
	put_le(img + SETUP_RAMDISK_SIZE, (uint32_t)initrd_size, 4);
	return 0;
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
