/* EC P-256 public keys as JSON Web Keys (RFC 7517/7518): the KBS "tee-pubkey" and the JWE "epk". */
#pragma once

#include <json-c/json.h>
#include <openssl/evp.h>
#include <stddef.h>

#include "cleanup.h"

#define JWK_P256_COORD_LEN     32
#define JWK_ALG_ECDH_ES_A256KW "ECDH-ES+A256KW"

enum jwk_alg_rule {
	JWK_ALG_REQUIRED, /* "alg" must be present and be "ECDH-ES+A256KW" (a KBS tee-pubkey) */
	JWK_ALG_ABSENT,	  /* "alg" must not be present (a JWE epk, RFC 7518 §4.6.1.1) */
};

/* Generates a fresh P-256 key pair (the agent's ephemeral key, the server's JWE epk). OpenSSL
 * holds the private scalar; callers free it with EVP_PKEY_free() as soon as it is used. */
int jwk_generate_p256(EVP_PKEY **out);
DEFINE_CLEANUP_FUNC(EVP_PKEY, EVP_PKEY_free)

/* Builds {"kty":"EC","crv":"P-256","alg":"ECDH-ES+A256KW","x":...,"y":...} (with_alg) or
 * {"crv":"P-256","kty":"EC","x":...,"y":...} (!with_alg, the member order Trustee uses for
 * "epk") from the public half of a P-256 key; x and y are base64url of exactly 32 bytes. */
int jwk_from_public_key(EVP_PKEY *key, int with_alg, struct json_object **out);

/* Validates an untrusted JWK object and returns its public key: exactly the members kty ("EC"),
 * crv ("P-256"), x, y (base64url of exactly 32 bytes each) and alg as alg_rule says, all strings;
 * the point must be on the curve and not the point at infinity. Anything else is refused with
 * -EINVAL and a reason (e.g. "tee-pubkey: 'crv' is \"P-384\", only P-256 is accepted"). */
int jwk_to_public_key(struct json_object *jwk, const char *what, enum jwk_alg_rule alg_rule,
		      EVP_PKEY **out, char *reason, size_t reason_len);
/* The same checks, giving the key's coordinates (x then y) instead of a key: for keyd, which
 * keeps the TEE key in its sealed session and needs a key only for the JWE. */
int jwk_to_p256_coordinates(struct json_object *jwk, const char *what, enum jwk_alg_rule alg_rule,
			    uint8_t xy[2 * JWK_P256_COORD_LEN], char *reason, size_t reason_len);

/* The affine coordinates of a P-256 public key, x then y, 32 bytes big-endian each. */
int jwk_p256_coordinates(EVP_PKEY *key, uint8_t xy[2 * JWK_P256_COORD_LEN]);

/* The validating importer behind jwk_to_public_key(), for coordinates already decoded (keyd's
 * sealed session): -EDOM when (x, y) is not a point on P-256 (a coordinate >= p or off the
 * curve), -ENOMEM. */
int jwk_p256_from_coordinates(const uint8_t xy[2 * JWK_P256_COORD_LEN], EVP_PKEY **out);
