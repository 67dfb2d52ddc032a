/* The service manager's readiness protocol (sd_notify(3)), without libsystemd: one datagram per
 * state change to the socket in $NOTIFY_SOCKET. */
#pragma once

/* Sends state ("READY=1", "RELOADING=1", "STOPPING=1", "STATUS=...", newline-separated) to
 * $NOTIFY_SOCKET. Returns 0 when sent or when no service manager asked for it (no variable), a
 * negative errno (logged) when the socket named cannot be reached. */
int sd_notify_send(const char *state);
