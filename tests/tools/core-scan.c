/* core-scan: secret-hygiene checker. Scans a memory image (a gcore dump) for known secrets and for
 * the private scalar of a P-256 key known only by its public JWK.
 *
 *   core-scan CORE [--needle NAME=HEX]... [--p256-jwk NAME=JSON]...
 *
 * A needle is searched raw, as lowercase and uppercase hex, and each 16-byte half of it raw (a
 * partly wiped copy). For a JWK every 32-byte window that looks like a scalar (at most 6 zero
 * bytes, at least 20 distinct byte values, below the group order) is tried as a big-endian number
 * at every offset and as a little-endian one (OpenSSL's BIGNUM limbs) at every 8-byte-aligned
 * offset: d*G == Q is a hit. Prints one line per target; exit 0 when nothing was found, 1 when
 * something was, 2 on usage or input errors. */
#define _GNU_SOURCE		    /* memmem */
#define OPENSSL_SUPPRESS_DEPRECATED /* EC_POINT_mul: the direct way to test d*G here */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include "hexutil.h"
#include "jwk.h"

#define MAX_TARGETS 16
#define MAX_RANGES  4096

struct needle {
	const char *name;
	uint8_t *bytes;
	size_t len;
};

struct scalar_target {
	const char *name;
	uint8_t pub[65]; /* uncompressed point */
};

static size_t count_hits(const uint8_t *hay, size_t hay_len, const void *needle, size_t len)
{
	const uint8_t *p = hay, *end = hay + hay_len;
	size_t hits = 0;

	if (len == 0)
		return 0;
	while (p < end) {
		const uint8_t *m = memmem(p, (size_t)(end - p), needle, len);

		if (!m)
			break;
		hits++;
		p = m + 1;
	}
	return hits;
}

static size_t needle_scan(const uint8_t *core, size_t core_len, const struct needle *n)
{
	char *hex = malloc(2 * n->len + 1);
	size_t hits;

	if (!hex)
		return SIZE_MAX;
	hits = count_hits(core, core_len, n->bytes, n->len);
	hex_encode(n->bytes, n->len, hex);
	hits += count_hits(core, core_len, hex, 2 * n->len);
	for (char *c = hex; *c; c++)
		if (*c >= 'a' && *c <= 'f')
			*c = (char)(*c - 'a' + 'A');
	hits += count_hits(core, core_len, hex, 2 * n->len);
	free(hex);
	if (n->len >= 32) {
		hits += count_hits(core, core_len, n->bytes, 16);
		hits += count_hits(core, core_len, n->bytes + n->len - 16, 16);
	}
	return hits;
}

static bool looks_like_scalar(const uint8_t w[32])
{
	bool seen[256] = {false};
	int zeros = 0, distinct = 0;

	for (int i = 0; i < 32; i++) {
		zeros += w[i] == 0;
		if (!seen[w[i]]) {
			seen[w[i]] = true;
			distinct++;
		}
	}
	return zeros <= 6 && distinct >= 20;
}

struct scalar_ctx {
	EC_GROUP *group;
	EC_POINT *pt;
	BIGNUM *k;
	BN_CTX *bn;
	const BIGNUM *order;
	uint64_t tried;
};

static bool scalar_matches(struct scalar_ctx *s, const uint8_t w[32], bool little_endian,
			   const struct scalar_target *targets, size_t n_targets, size_t *hits)
{
	uint8_t out[65];
	bool any = false;

	if (!(little_endian ? BN_lebin2bn(w, 32, s->k) : BN_bin2bn(w, 32, s->k)))
		return false;
	if (BN_is_zero(s->k) || BN_cmp(s->k, s->order) >= 0)
		return false;
	s->tried++;
	if (!EC_POINT_mul(s->group, s->pt, s->k, NULL, NULL, s->bn))
		return false;
	if (EC_POINT_point2oct(s->group, s->pt, POINT_CONVERSION_UNCOMPRESSED, out, sizeof(out),
			       s->bn) != sizeof(out))
		return false;
	for (size_t i = 0; i < n_targets; i++)
		if (!memcmp(out, targets[i].pub, sizeof(out))) {
			hits[i]++;
			any = true;
		}
	return any;
}

static int jwk_target_parse(const char *spec, struct scalar_target *t)
{
	const char *eq = strchr(spec, '=');
	struct json_object *obj;
	EVP_PKEY *key = NULL;
	char reason[256] = "";
	size_t len = 0;
	int r;

	if (!eq)
		return -EINVAL;
	t->name = strndup(spec, (size_t)(eq - spec));
	obj = json_tokener_parse(eq + 1);
	if (!obj || !t->name)
		return -EINVAL;
	r = jwk_to_public_key(obj, "jwk", JWK_ALG_REQUIRED, &key, reason, sizeof(reason));
	json_object_put(obj);
	if (r < 0) {
		fprintf(stderr, "core-scan: %s: %s\n", t->name, reason);
		return r;
	}
	if (!EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, t->pub, sizeof(t->pub),
					     &len) ||
	    len != sizeof(t->pub))
		r = -EINVAL;
	EVP_PKEY_free(key);
	return r;
}

struct range {
	size_t off, len;
};

/* Writable PT_LOAD segments of an ELF core; for anything else, the whole file. */
static size_t scalar_ranges(const uint8_t *f, size_t len, struct range *out, size_t max)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)(const void *)f;
	size_t n = 0;

	if (len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_type != ET_CORE ||
	    eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phoff > len ||
	    (len - eh->e_phoff) / sizeof(Elf64_Phdr) < eh->e_phnum) {
		out[0].off = 0;
		out[0].len = len;
		return 1;
	}
	for (size_t i = 0; i < eh->e_phnum && n < max; i++) {
		Elf64_Phdr ph;

		memcpy(&ph, f + eh->e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_W) || ph.p_filesz == 0 ||
		    ph.p_offset > len || ph.p_filesz > len - ph.p_offset)
			continue;
		out[n].off = ph.p_offset;
		out[n].len = ph.p_filesz;
		n++;
	}
	return n;
}

static int needle_parse(const char *spec, struct needle *n)
{
	const char *eq = strchr(spec, '=');

	if (!eq)
		return -EINVAL;
	n->name = strndup(spec, (size_t)(eq - spec));
	if (!n->name)
		return -ENOMEM;
	return hex_decode_alloc(eq + 1, strlen(eq + 1), &n->bytes, &n->len);
}

int main(int argc, char **argv)
{
	struct needle needles[MAX_TARGETS];
	struct scalar_target targets[MAX_TARGETS];
	size_t n_needles = 0, n_targets = 0, scalar_hits[MAX_TARGETS] = {0}, total = 0;
	struct scalar_ctx s = {0};
	struct range ranges[MAX_RANGES];
	size_t n_ranges = 0, scanned = 0;
	struct timespec t0, t1;
	const uint8_t *core;
	struct stat st;
	int fd;

	if (argc < 2) {
		fprintf(stderr,
			"usage: core-scan CORE [--needle NAME=HEX]... [--p256-jwk NAME=JSON]...\n");
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--needle") && i + 1 < argc && n_needles < MAX_TARGETS) {
			if (needle_parse(argv[++i], &needles[n_needles]) < 0 ||
			    needles[n_needles].len < 8) {
				fprintf(stderr,
					"core-scan: bad needle '%s' (NAME=HEX, >= 8 bytes)\n",
					argv[i]);
				return 2;
			}
			n_needles++;
		} else if (!strcmp(argv[i], "--p256-jwk") && i + 1 < argc &&
			   n_targets < MAX_TARGETS) {
			if (jwk_target_parse(argv[++i], &targets[n_targets]) < 0) {
				fprintf(stderr, "core-scan: bad JWK '%s'\n", argv[i]);
				return 2;
			}
			n_targets++;
		} else {
			fprintf(stderr, "core-scan: bad argument '%s'\n", argv[i]);
			return 2;
		}
	}
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < 64) {
		fprintf(stderr, "core-scan: cannot read %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	core = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (core == MAP_FAILED) {
		fprintf(stderr, "core-scan: cannot map %s: %s\n", argv[1], strerror(errno));
		return 2;
	}

	for (size_t i = 0; i < n_needles; i++) {
		size_t h = needle_scan(core, (size_t)st.st_size, &needles[i]);

		printf("%s: %zu hit(s)\n", needles[i].name, h);
		total += h;
	}

	if (n_targets) {
		s.group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
		s.pt = s.group ? EC_POINT_new(s.group) : NULL;
		s.k = BN_new();
		s.bn = BN_CTX_new();
		if (!s.pt || !s.k || !s.bn)
			return 2;
		s.order = EC_GROUP_get0_order(s.group);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		n_ranges = scalar_ranges(core, (size_t)st.st_size, ranges, MAX_RANGES);
		for (size_t ri = 0; ri < n_ranges; ri++) {
			scanned += ranges[ri].len;
			for (size_t off = ranges[ri].off;
			     off + 32 <= ranges[ri].off + ranges[ri].len; off++) {
				const uint8_t *w = core + off;

				if (!looks_like_scalar(w))
					continue;
				scalar_matches(&s, w, false, targets, n_targets, scalar_hits);
				if (off % 8 == 0)
					scalar_matches(&s, w, true, targets, n_targets,
						       scalar_hits);
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		for (size_t i = 0; i < n_targets; i++) {
			printf("%s (private scalar): %zu hit(s)\n", targets[i].name,
			       scalar_hits[i]);
			total += scalar_hits[i];
		}
		printf("core-scan: %llu candidate scalars tried in %.1f s over %zu bytes in %zu "
		       "writable segment(s) of %lld\n",
		       (unsigned long long)s.tried,
		       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
		       scanned, n_ranges, (long long)st.st_size);
		BN_CTX_free(s.bn);
		BN_free(s.k);
		EC_POINT_free(s.pt);
		EC_GROUP_free(s.group);
	}
	munmap((void *)core, (size_t)st.st_size);
	close(fd);
	return total ? 1 : 0;
}
