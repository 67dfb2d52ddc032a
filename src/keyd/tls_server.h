/* tdx-keyd's TLS server settings, one place for the KBS listener, the admin listener and the
 * benchmark's TLS floor (bench/tls-floor.c): TLS 1.3 (1.2 allowed), ECDHE with AES-GCM or
 * ChaCha20, X25519/P-256 key exchange, no renegotiation, no tickets, no session cache. */
#pragma once

#include <openssl/ssl.h>

/* A server context with the certificate chain and the key of these PEM files (checked to
 * match). Returns 0, or -EINVAL / -ENOMEM with the cause logged. */
int tls_server_ctx_new(const char *cert, const char *key, SSL_CTX **out);
