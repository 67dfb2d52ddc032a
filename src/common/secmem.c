#include "secmem.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"

/* Each allocation is its own anonymous mapping, so that mlock/madvise apply to exactly the
 * secret's pages and nothing else shares them. The header records the mapping length. */
struct secmem_hdr {
	size_t map_len;
	size_t len;
};

#define SECMEM_HDR_SIZE 64 /* keeps user data 64-byte aligned */

/* Freed one-page mappings kept for the next allocations: wiped, still locked and still out of
 * core dumps and children. A key release allocates and frees a few small secrets on each side,
 * and a fresh locked mapping costs five system calls and a page fault (~5% of keyd's CPU per
 * release). At most SECMEM_SPARE_MAX pages are kept. */
#define SECMEM_SPARE_MAX 8
static struct {
	pthread_mutex_t lock;
	void *page[SECMEM_SPARE_MAX];
	unsigned n;
} spare = {.lock = PTHREAD_MUTEX_INITIALIZER};
static pthread_once_t spare_atfork_once = PTHREAD_ONCE_INIT;

/* MADV_DONTFORK: a child has none of these pages, so it must not hand them out. */
static void spare_forget_in_child(void)
{
	spare.n = 0;
	pthread_mutex_init(&spare.lock, NULL);
}

static void spare_atfork(void)
{
	(void)pthread_atfork(NULL, NULL, spare_forget_in_child);
}

static void *spare_take(size_t map_len)
{
	void *m = NULL;

	if (map_len != (size_t)sysconf(_SC_PAGESIZE))
		return NULL;
	pthread_mutex_lock(&spare.lock);
	if (spare.n > 0)
		m = spare.page[--spare.n];
	pthread_mutex_unlock(&spare.lock);
	return m;
}

/* m is wiped; true when it was kept. */
static bool spare_keep(void *m, size_t map_len)
{
	bool kept = false;

	if (map_len != (size_t)sysconf(_SC_PAGESIZE))
		return false;
	pthread_once(&spare_atfork_once, spare_atfork);
	pthread_mutex_lock(&spare.lock);
	if (spare.n < SECMEM_SPARE_MAX) {
		spare.page[spare.n++] = m;
		kept = true;
	}
	pthread_mutex_unlock(&spare.lock);
	return kept;
}

static size_t page_round(size_t n)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	return (n + ps - 1) / ps * ps;
}

void secmem_wipe(void *p, size_t len)
{
	if (p && len)
		explicit_bzero(p, len);
}

void *secmem_alloc(size_t len)
{
	struct secmem_hdr *h;
	size_t map_len;
	void *m;

	if (len == 0 || len > SIZE_MAX - SECMEM_HDR_SIZE - 4096) {
		errno = EINVAL;
		return NULL;
	}
	map_len = page_round(len + SECMEM_HDR_SIZE);
	m = spare_take(map_len);
	if (m) {
		h = m;
		h->map_len = map_len;
		h->len = len;
		return (uint8_t *)m + SECMEM_HDR_SIZE;
	}
	m = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	/* A secret must never be swapped out or written into a core dump. */
	if (mlock(m, map_len) < 0)
		log_warn("secmem: mlock failed (%m), continuing with unlocked memory");
	(void)madvise(m, map_len, MADV_DONTDUMP);
	(void)madvise(m, map_len, MADV_DONTFORK);
	h = m;
	h->map_len = map_len;
	h->len = len;
	return (uint8_t *)m + SECMEM_HDR_SIZE;
}

size_t secmem_size(const void *p)
{
	const struct secmem_hdr *h;

	if (!p)
		return 0;
	h = (const struct secmem_hdr *)(const void *)((const uint8_t *)p - SECMEM_HDR_SIZE);
	return h->len;
}

void secmem_free(void *p)
{
	struct secmem_hdr *h;
	size_t map_len;

	if (!p)
		return;
	h = (struct secmem_hdr *)(void *)((uint8_t *)p - SECMEM_HDR_SIZE);
	map_len = h->map_len;
	explicit_bzero(h, map_len);
	if (spare_keep(h, map_len))
		return;
	(void)munlock(h, map_len);
	(void)munmap(h, map_len);
}

void *secmem_dup(const void *src, size_t len)
{
	void *p = secmem_alloc(len);

	if (p)
		memcpy(p, src, len);
	return p;
}

int secmem_harden_process(void)
{
	struct rlimit rl = {0, 0};

	if (setrlimit(RLIMIT_CORE, &rl) < 0)
		return log_error_errno(-errno, "secmem: cannot set RLIMIT_CORE to 0: %m");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return log_error_errno(-errno, "secmem: cannot clear PR_SET_DUMPABLE: %m");
	return 0;
}
