/* Flattened JWE (RFC 7516 §7.2.2) for KBS resources, restricted to alg "ECDH-ES+A256KW" with a
 * P-256 key and enc "A256GCM": the server encrypts a secret to the agent's ephemeral key, the agent
 * decrypts it into secure memory. */
#pragma once

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#define JWE_MAX_LEN	      (64 * 1024) /* whole JWE text; larger is refused unparsed */
#define JWE_MAX_PLAINTEXT_LEN (16 * 1024) /* a disk secret is 32 bytes; leave room, not much */
#define JWE_CEK_LEN	      32
#define JWE_IV_LEN	      12
#define JWE_TAG_LEN	      16
#define JWE_ENCRYPTED_KEY_LEN 40 /* AES key wrap of the 32-byte CEK */

/* Encrypts pt to the recipient's P-256 public key with a fresh ephemeral key, CEK and IV.
 * *out is a malloc'ed NUL-terminated JSON text
 * {"protected":...,"encrypted_key":...,"iv":...,"ciphertext":...,"tag":...} whose protected header
 * is {"alg":"ECDH-ES+A256KW","enc":"A256GCM","epk":{"crv":"P-256","kty":"EC","x":...,"y":...}}.
 * Intermediate secrets (shared secret, KEK, CEK) live in secure memory and are wiped. */
int jwe_encrypt(EVP_PKEY *recipient, const uint8_t *pt, size_t pt_len, char **out, size_t *out_len);

/* TEST ONLY: jwe_encrypt() with the ephemeral key pair, CEK and IV given, so that test vectors
 * (docs/protocol.md) are reproducible. Never call it outside tests: reusing a CEK/IV breaks GCM. */
int jwe_encrypt_fixed_for_test(EVP_PKEY *recipient, EVP_PKEY *ephemeral,
			       const uint8_t cek[JWE_CEK_LEN], const uint8_t iv[JWE_IV_LEN],
			       const uint8_t *pt, size_t pt_len, char **out, size_t *out_len);

/* Decrypts a flattened JWE text exactly as received (len bytes, at most JWE_MAX_LEN) with the
 * recipient's private key. Accepts only: exactly the members protected, encrypted_key, iv,
 * ciphertext, tag (strings, base64url without padding); a protected header with exactly alg
 * "ECDH-ES+A256KW", enc "A256GCM" and a P-256 epk; a 40-byte encrypted_key, 12-byte iv, 16-byte
 * tag. AAD is the ASCII of "protected" as received. Everything else — RSA1_5, dir, none, other
 * algorithms, zip, crit, apu/apv, duplicate members, wrong lengths, bad base64url, a failed key
 * unwrap or tag check — is refused with -EINVAL (-EBADMSG for a failed unwrap or tag) and a
 * reason. On success *pt (secmem_alloc'ed; release with secmem_free) holds *pt_len bytes. */
int jwe_decrypt(EVP_PKEY *recipient, const char *jwe, size_t len, uint8_t **pt, size_t *pt_len,
		char *reason, size_t reason_len);
