/* An HMAC-SHA256 key inside a PKCS#11 token (the module is dlopen()ed): keyd's root key when
 * the configuration names one with root_key_pkcs11. The key's value never leaves the token. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "pkcs11_uri.h"

struct p11_hmac_key;

/* Loads the module, finds exactly one token and, in it, exactly one secret key matching the URI,
 * logs in with the URI's PIN, and checks the key: CKK_GENERIC_SECRET, CKA_SIGN, CKA_SENSITIVE
 * and not CKA_EXTRACTABLE (anything else is refused, named). */
int p11_hmac_key_open(const struct pkcs11_uri *u, struct p11_hmac_key **out);
void p11_hmac_key_close(struct p11_hmac_key *k);

/* CKM_SHA256_HMAC of msg inside the token. Thread-safe (one session, serialised). */
int p11_hmac_key_sign(struct p11_hmac_key *k, const void *msg, size_t len, uint8_t out[32]);

/* Creates the key in the token the URI names (label = object, id if given) from key bytes, as a
 * token object that is sensitive, not extractable and usable for sign/verify only. Refuses when
 * a key with that label exists already. */
int p11_hmac_key_import(const struct pkcs11_uri *u, const uint8_t *key, size_t len);
