/* keyd's admin endpoint transport: a second HTTPS listener, on the main event loop, that asks
 * every client for a certificate and lets only the configuration's allow-list through to
 * release_service_admin() (enrollment without the root key on the image builder). */
#pragma once

#include <event2/event.h>

#include "keyd_config.h"
#include "release.h"

struct admin_front;

/* Listens on cfg->admin.address:port with cfg's TLS certificate. Returns 0 (nothing started
 * when no admin endpoint is configured) or a negative errno (logged). */
int admin_front_start(struct event_base *base, const struct keyd_config *cfg,
		      struct release_service *svc, struct admin_front **out);
void admin_front_free(struct admin_front *a);
