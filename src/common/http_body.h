/* A response body collected up to a limit: the one libcurl write callback of the project's HTTP
 * clients (the agent's KBS client, keyd's PCCS refresh and `tdx-keyd fetch-secret`). A body over
 * the limit aborts the transfer (the callback returns 0, so curl reports CURLE_WRITE_ERROR) and
 * sets too_big; what was collected is always NUL-terminated. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct http_body {
	char *data; /* malloc'ed, NUL-terminated; NULL until the first byte; the caller frees it */
	size_t len;
	size_t max; /* the limit, set by the caller */
	bool too_big;
};

/* CURLOPT_WRITEFUNCTION with CURLOPT_WRITEDATA = a struct http_body. */
size_t http_body_append(char *data, size_t size, size_t n, void *arg);
