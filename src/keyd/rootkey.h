/* The server's root key behind one operation, HMAC-SHA256(root key, message), with two
 * backends: a mode-0600 file read into secure memory, or a non-extractable generic secret in a
 * PKCS#11 token (RFC 7512 URI) that computes every HMAC itself. Both give the same results for
 * the same key bytes. Everything keyd derives from the root key goes through rootkey_hmac(). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "keyd_config.h"

#define ROOTKEY_LEN 32

struct rootkey;

/* The backend the configuration names (root_key_file or root_key_pkcs11). */
int rootkey_load_config(const struct keyd_config *cfg, struct rootkey **out);
/* File backend: refuses anything but a regular file (no symlink) of exactly 32 bytes with mode
 * 0600, owned by the effective user or root. */
int rootkey_load(const char *path, struct rootkey **out);
/* Token backend: see p11_hmac_key_open() for what is checked. */
int rootkey_load_pkcs11(const char *uri, struct rootkey **out);
void rootkey_free(struct rootkey *k);

/* The only operation: out = HMAC-SHA256(root key, msg). Thread-safe. */
int rootkey_hmac(const struct rootkey *k, const void *msg, size_t len, uint8_t out[32]);

/* Derivations built on rootkey_hmac(): the disk secret of kdf.h for (policy id, resource path,
 * key version), out in secure memory of KDF_DISK_SECRET_LEN bytes; and a purpose-bound subkey,
 * HMAC-SHA256(root, "tdx-unlock/" label), e.g. "nonce/v1", "token/v1", "audit/v1". */
int rootkey_disk_secret(const struct rootkey *k, const char *policy_id, const char *resource,
			uint32_t key_version, uint8_t *out);
int rootkey_subkey(const struct rootkey *k, const char *label, uint8_t out[32]);

/* Copies the key of a root key file into the token the URI names (migration to an HSM: the
 * same disk secrets, no re-enrollment). */
int rootkey_import_pkcs11(const char *key_file, const char *uri);
