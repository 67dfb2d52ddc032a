/* Secure memory: the only place secrets are allocated. Locked (mlock), excluded from core dumps
 * (MADV_DONTDUMP), zeroed on allocation and wiped before free. */
#pragma once

#include <stddef.h>

/* Returns zeroed, locked memory of len bytes, or NULL (errno set). */
void *secmem_alloc(size_t len);
/* Wipes and frees memory from secmem_alloc(); NULL is a no-op. */
void secmem_free(void *p);
/* Size of an allocation made by secmem_alloc(). */
size_t secmem_size(const void *p);
/* Duplicates len bytes into secure memory. */
void *secmem_dup(const void *src, size_t len);
/* Wipes len bytes so the compiler cannot drop it. */
void secmem_wipe(void *p, size_t len);

/* Process hardening for programs that hold secrets: no core dumps, not ptrace-attachable by
 * other users (PR_SET_DUMPABLE 0), RLIMIT_CORE 0. Returns 0 or a negative errno. */
int secmem_harden_process(void);

static inline void secmem_freep(void *p)
{
	secmem_free(*(void **)p);
}
#define _cleanup_secmem_ __attribute__((cleanup(secmem_freep)))
