/* libFuzzer harness: LUKS2 header intake and validation (luks_header_load: libcryptsetup's
 * parser, the sealed copy, luks_header_validate's allow-list). The input is the JSON metadata
 * area; the harness wraps it in a binary LUKS2 header with a correct checksum (primary and
 * secondary copy) so that mutations reach the metadata checks instead of failing the checksum. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "agent/luks_header.h"
#include "fuzz-common.h"

#define HDR_BIN	  4096
#define HDR_SIZE  16384 /* binary header + JSON area, the LUKS2 default */
#define DISK_SIZE (64 << 20)

FUZZ_INIT_SCRATCH("fuzz-luks-header", "disk.img")

static void put_be(uint8_t *p, uint64_t v, int n)
{
	int i;

	for (i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* One header copy (struct luks2_hdr_disk followed by the JSON area) at hdr[0..HDR_SIZE). */
static void build_copy(uint8_t *hdr, int secondary, const uint8_t *json, size_t json_len)
{
	static const char uuid[] = "3f0e5b4c-8f1a-4b7e-9c2d-5a6b7c8d9e0f";
	unsigned int len = 0;

	memset(hdr, 0, HDR_SIZE);
	memcpy(hdr, secondary ? "SKUL\xba\xbe" : "LUKS\xba\xbe", 6);
	put_be(hdr + 6, 2, 2);				/* version */
	put_be(hdr + 8, HDR_SIZE, 8);			/* hdr_size */
	put_be(hdr + 16, 1, 8);				/* seqid */
	memcpy(hdr + 72, "sha256", 6);			/* checksum_alg */
	memset(hdr + 104, 0x5a, 64);			/* salt */
	memcpy(hdr + 168, uuid, 36);			/* uuid */
	put_be(hdr + 256, secondary ? HDR_SIZE : 0, 8); /* hdr_offset */
	memcpy(hdr + HDR_BIN, json, json_len);
	/* csum (at 448) covers the whole header with the csum field zeroed. */
	EVP_Digest(hdr, HDR_SIZE, hdr + 448, &len, EVP_sha256(), NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t img[2 * HDR_SIZE + 4096];
	struct luks_header *h = NULL;
	char reason[LUKS_REASON_MAX];

	/* The JSON area must end with a NUL. */
	if (size > HDR_SIZE - HDR_BIN - 1)
		return 0;
	build_copy(img, 0, data, size);
	build_copy(img + HDR_SIZE, 1, data, size);
	/* Sparse data area: libcryptsetup wants the device to reach the data segment. */
	fuzz_scratch_write(img, sizeof(img), DISK_SIZE);
	if (luks_header_load(fuzz_scratch.file, &h, reason, sizeof(reason)) == 0)
		luks_header_free(h);
	return 0;
}
