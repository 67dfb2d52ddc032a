/* A response body collected up to a limit (see http_body.h). */
#include "http_body.h"

#include <stdlib.h>
#include <string.h>

size_t http_body_append(char *data, size_t size, size_t n, void *arg)
{
	struct http_body *b = arg;
	size_t len = size * n;
	char *nb;

	if (len > b->max - b->len) {
		b->too_big = true;
		return 0; /* aborts the transfer */
	}
	nb = realloc(b->data, b->len + len + 1);
	if (!nb)
		return 0;
	b->data = nb;
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return len;
}
