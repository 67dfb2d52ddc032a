#include "sd_notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

int sd_notify_send(const char *state)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *path = getenv("NOTIFY_SOCKET");
	int fd, r = 0;
	size_t len, state_len = strlen(state);
	socklen_t sa_len;
	ssize_t n;

	if (!path || !*path)
		return 0;
	len = strlen(path);
	/* A path, or "@name" for a socket in the abstract namespace. */
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path))
		return log_error_errno(-EINVAL, "keyd: NOTIFY_SOCKET '%s' is not a socket address",
				       path);
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '/'));

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return log_error_errno(-errno, "keyd: notify socket: %m");
	n = sendto(fd, state, state_len, MSG_NOSIGNAL, (struct sockaddr *)&sa, sa_len);
	if (n < 0)
		r = log_error_errno(-errno, "keyd: cannot notify the service manager at %s: %m",
				    path);
	else if ((size_t)n != state_len)
		r = log_error_errno(-EIO, "keyd: short notification to %s", path);
	close(fd);
	return r;
}
