/* tls-floor: the least a TLS server on this OpenSSL does per connection, for make bench
 * (bench/keyd-fleet.sh): accept, a TLS handshake with keyd's own settings (tls_server_ctx_new(),
 * keyd's certificate and key), read one request, write one short reply, close. One thread,
 * blocking, nothing else: what keyd spends beyond this per release is its own (HTTP, event loop,
 * JSON, the attestation itself). Loopback only. Usage: tls-floor CERT KEY PORT_FILE (serves at most
 * 1,000,000 connections; stop with SIGTERM) */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "keyd/tls_server.h"
#include "log.h"

#define MAX_CONNECTIONS 1000000

static const char reply[] = "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n"
			    "{\"nonce\":\"q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1c\","
			    "\"extra-params\":\"\"}\r\n";

static int listen_loopback(const char *port_file)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	FILE *f;

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 128) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
		log_error("tls-floor: cannot listen on 127.0.0.1: %m");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	f = fopen(port_file, "we");
	if (!f || fprintf(f, "%u\n", ntohs(a.sin_port)) < 0 || fclose(f) != 0) {
		log_error("tls-floor: cannot write %s", port_file);
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	char buf[4096];
	SSL_CTX *ctx = NULL;
	int one = 1, lfd;

	if (argc != 4) {
		fputs("usage: tls-floor CERT KEY PORT_FILE\n", stderr);
		return 2;
	}
	if (tls_server_ctx_new(argv[1], argv[2], &ctx) < 0)
		return 1;
	lfd = listen_loopback(argv[3]);
	if (lfd < 0) {
		SSL_CTX_free(ctx);
		return 1;
	}
	for (unsigned n = 0; n < MAX_CONNECTIONS; n++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		SSL *ssl;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			log_error("tls-floor: accept: %m");
			break;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		ssl = SSL_new(ctx);
		if (ssl && SSL_set_fd(ssl, fd) == 1 && SSL_accept(ssl) == 1 &&
		    SSL_read(ssl, buf, sizeof(buf)) > 0)
			SSL_write(ssl, reply, (int)strlen(reply));
		SSL_free(ssl);
		close(fd);
	}
	close(lfd);
	SSL_CTX_free(ctx);
	return 0;
}
