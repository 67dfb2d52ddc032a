#include "agent/route_wait.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define ROUTE_POLL_MS 20
/* TEST-NET-1 (RFC 5737): never a real server; a datagram socket connects to it only through a
 * default route. */
#define ANY_ROUTE_PROBE "192.0.2.1"

/* The address to probe for a URL https://host[:port]: an IPv4 / [IPv6] literal, or the default
 * route probe for a host name (resolving needs the network it would be waiting for). */
static int probe_address(const char *url, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	const char *host = url + strlen("https://");
	char buf[64];
	size_t n;

	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[') {
		n = strcspn(host + 1, "]");
		if (n < sizeof(buf)) {
			memcpy(buf, host + 1, n);
			buf[n] = '\0';
			if (inet_pton(AF_INET6, buf, &in6->sin6_addr) == 1) {
				in6->sin6_family = AF_INET6;
				in6->sin6_port = htons(443);
				*len = sizeof(*in6);
				return 0;
			}
		}
	} else {
		n = strcspn(host, ":/");
		if (n < sizeof(buf)) {
			memcpy(buf, host, n);
			buf[n] = '\0';
			if (inet_pton(AF_INET, buf, &in4->sin_addr) == 1)
				goto v4;
		}
	}
	inet_pton(AF_INET, ANY_ROUTE_PROBE, &in4->sin_addr);
v4:
	in4->sin_family = AF_INET;
	in4->sin_port = htons(443);
	*len = sizeof(*in4);
	return 0;
}

static bool routable(const struct sockaddr_storage *ss, socklen_t len)
{
	int fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return true; /* cannot tell: let the connection attempt say */
	/* A datagram connect() only looks the route up; ENETUNREACH means none yet. */
	ok = connect(fd, (const struct sockaddr *)ss, len) == 0;
	close(fd);
	return ok;
}

static unsigned long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000u + (unsigned long long)ts.tv_nsec / 1000000u;
}

int route_wait(const struct agent_server *servers, size_t n, unsigned timeout_ms,
	       void (*idle)(void))
{
	struct sockaddr_storage addrs[AGENT_CONFIG_MAX_SERVERS];
	socklen_t lens[AGENT_CONFIG_MAX_SERVERS];
	unsigned long long start = mono_ms();
	bool logged = false;

	if (n > AGENT_CONFIG_MAX_SERVERS)
		n = AGENT_CONFIG_MAX_SERVERS;
	for (size_t i = 0; i < n; i++)
		probe_address(servers[i].url, &addrs[i], &lens[i]);
	for (unsigned polls = 0; polls <= timeout_ms / ROUTE_POLL_MS + 1; polls++) {
		struct timespec ts = {0, ROUTE_POLL_MS * 1000000L};

		for (size_t i = 0; i < n; i++)
			if (routable(&addrs[i], lens[i])) {
				if (logged)
					log_info("network: route to %s after %llu ms",
						 servers[i].url, mono_ms() - start);
				return 0;
			}
		if (mono_ms() - start >= timeout_ms)
			break;
		if (!logged) {
			log_info("network: waiting up to %u ms for a route to a server",
				 timeout_ms);
			logged = true;
			if (idle) {
				idle();
				continue;
			}
		}
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	log_error("network: no route to any server after %u ms", timeout_ms);
	return -ETIMEDOUT;
}
