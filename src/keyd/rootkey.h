/* The server's root key: 32 bytes from a mode-0600 file into secure memory, and what is derived
 * from it (per-disk secrets, the nonce HMAC key, the attestation token key). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define ROOTKEY_LEN 32

struct rootkey;

/* Refuses anything but a regular file (no symlink) of exactly 32 bytes with mode 0600, owned by
 * the effective user or root. */
int rootkey_load(const char *path, struct rootkey **out);
void rootkey_free(struct rootkey *k);

/* The disk secret of kdf.h for (policy id, resource path, key version); out should be secure
 * memory of KDF_DISK_SECRET_LEN bytes. */
int rootkey_disk_secret(const struct rootkey *k, const char *policy_id, const char *resource,
			uint32_t key_version, uint8_t *out);
/* A purpose-bound subkey, HMAC-SHA256(root, "tdx-unlock/" label), e.g. "nonce/v1". */
int rootkey_subkey(const struct rootkey *k, const char *label, uint8_t out[32]);
