/* The agent starts as soon as the kernel can route to one of its servers, not when every link is
 * "online": a bounded wait for a route, polled (nothing is sent while waiting). */
#pragma once

#include <stddef.h>

#include "agent/config.h"

/* 0 when the kernel has a route to at least one of the n servers' addresses (an IP literal in
 * the URL), or for a server named by host name, a default route; -ETIMEDOUT when none appeared
 * within timeout_ms. Checks every 20 ms. idle (may be NULL) runs once when the first check finds
 * no route: work the caller needs anyway, done while there is nothing else to do (its time
 * counts against timeout_ms). */
int route_wait(const struct agent_server *servers, size_t n, unsigned timeout_ms,
	       void (*idle)(void));
