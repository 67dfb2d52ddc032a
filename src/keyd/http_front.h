/* tdx-keyd's HTTPS front: OpenSSL TLS (1.3, 1.2 allowed) under libevent's evhttp, one worker
 * thread with its own event loop per core sharing one listening socket, bounded headers, bodies,
 * connections and time per request; SIGHUP reloads policies, SIGTERM/SIGINT stop. */
#pragma once

#include "keyd_config.h"
#include "release.h"

/* Runs until SIGTERM or SIGINT. port_file (optional) receives the bound port once listening,
 * for tests that ask for port 0. Returns 0 or a negative errno. */
int http_front_run(const struct keyd_config *cfg, struct release_service *svc,
		   const char *port_file);
