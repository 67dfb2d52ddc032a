/* RFC 7512 PKCS#11 URIs naming keyd's root key in a token, parsed strictly: only the attributes
 * keyd uses, each at most once, percent-decoded, no NUL, nothing empty. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define PKCS11_URI_MAX	   4096
#define PKCS11_URI_PIN_MAX 256

struct pkcs11_uri {
	/* Token selection (NULL = any): the RFC's token label, manufacturer, serial, model. */
	char *token;
	char *manufacturer;
	char *serial;
	char *model;
	/* The key: its CKA_LABEL (required) and CKA_ID (optional, id_len 0 = any). */
	char *object;
	uint8_t *id;
	size_t id_len;
	/* Query: module-path (required, absolute) and at most one of pin-source (a file: URI or an
	 * absolute path) and pin-value (secure memory). */
	char *module_path;
	char *pin_source;
	char *pin_value;
};

/* Parses uri into *out (zeroed first). Returns 0, or -EINVAL with the first problem (e.g.
 * "attribute 'slot' is not supported") copied into reason. */
int pkcs11_uri_parse(const char *uri, struct pkcs11_uri *out, char *reason, size_t reason_len);
void pkcs11_uri_done(struct pkcs11_uri *u);

/* The token PIN the URI names, in secure memory (the pin-source file is read, one trailing
 * newline dropped; it must be a regular file no other user can read), or NULL in *pin when
 * the URI names none. Returns 0 or a negative errno (logged). */
int pkcs11_uri_pin(const struct pkcs11_uri *u, char **pin);
