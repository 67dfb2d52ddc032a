#include "tls_server.h"

#include <errno.h>
#include <openssl/err.h>

#include "log.h"

int tls_server_ctx_new(const char *cert, const char *key, SSL_CTX **out)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	unsigned long e;

	if (!ctx)
		return log_error_errno(-ENOMEM, "keyd: SSL_CTX_new failed");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* A client that closes without close_notify (most do, after the last reply) is an end of
	 * stream, not a fatal error answered with an alert: requests are framed by HTTP, so a
	 * truncated one is incomplete either way. Spares an alert write and OpenSSL's error path
	 * on every connection. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
					 SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* The chain sent is exactly the certificate file's: without NO_AUTO_CHAIN OpenSSL 3.0
	 * builds and checks a chain from the store on every handshake (an X509_STORE_CTX per
	 * connection), and on the admin listener it could append a client_ca certificate. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_NO_AUTO_CHAIN);
	/* Each boot runs one fresh session: tickets would only cost time and memory. */
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1)
		goto fail;
	/* Key exchange on the two fast curves only; a client offering another share gets a
	 * HelloRetryRequest for one of these. */
	if (SSL_CTX_set1_groups_list(ctx, "X25519:P-256") != 1)
		goto fail;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		log_error("keyd: cannot load TLS certificate chain %s", cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		log_error("keyd: cannot load TLS private key %s (or it does not match the "
			  "certificate)",
			  key);
		goto fail;
	}
	*out = ctx;
	return 0;
fail:
	while ((e = ERR_get_error()))
		log_error("keyd: TLS: %s", ERR_error_string(e, NULL));
	SSL_CTX_free(ctx);
	return -EINVAL;
}
