#include "aael.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "cbs.h"
#include "cleanup.h"
#include "hexutil.h"
#include "log.h"

static const char init_prefix[] = "INIT sha384/";

#define aael_fail(reason, reason_len, ...) \
	log_refusal(LOG_LVL_ERR, -EBADMSG, "aael: ", reason, reason_len, __VA_ARGS__)

static bool field_char_ok(char c)
{
	return c > ' ' && c <= '~';
}

bool aael_field_valid(const char *s)
{
	size_t n = 0;

	if (!s)
		return false;
	for (; s[n]; n++)
		if (!field_char_ok(s[n]) || n >= AAEL_FIELD_MAX)
			return false;
	return n > 0;
}

int aael_format_init(const uint8_t init[AAEL_DIGEST_LEN], char *out, size_t out_len)
{
	if (out_len < AAEL_INIT_LEN + 1)
		return -ENOSPC;
	memcpy(out, init_prefix, sizeof(init_prefix) - 1);
	hex_encode(init, AAEL_DIGEST_LEN, out + sizeof(init_prefix) - 1);
	return 0;
}

int aael_format_event(const char *domain, const char *operation, const char *content, char *out,
		      size_t out_len)
{
	const char *const fields[] = {domain, operation, content};
	static const char *const names[] = {"domain", "operation", "content"};
	int n;

	for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
		if (!aael_field_valid(fields[i]))
			return log_error_errno(-EINVAL,
					       "aael: event %s must be 1-%d printable characters "
					       "without spaces",
					       names[i], AAEL_FIELD_MAX);
	n = snprintf(out, out_len, "%s %s %s", domain, operation, content);
	if (n < 0 || (size_t)n >= out_len)
		return log_error_errno(-ENOSPC, "aael: event line longer than its buffer");
	return 0;
}

static int sha384_two(const void *a, size_t a_len, const void *b, size_t b_len,
		      uint8_t out[AAEL_DIGEST_LEN])
{
	unsigned int len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	if (!ctx)
		return log_error_errno(-ENOMEM, "aael: out of memory");
	ok = EVP_DigestInit_ex(ctx, EVP_sha384(), NULL) && EVP_DigestUpdate(ctx, a, a_len) &&
	     (b_len == 0 || EVP_DigestUpdate(ctx, b, b_len)) &&
	     EVP_DigestFinal_ex(ctx, out, &len) && len == AAEL_DIGEST_LEN;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : log_error_errno(-EIO, "aael: SHA-384 failed");
}

int aael_line_digest(const char *line, size_t len, uint8_t digest[AAEL_DIGEST_LEN])
{
	return sha384_two(line, len, NULL, 0, digest);
}

int aael_extend(uint8_t reg[AAEL_DIGEST_LEN], const uint8_t digest[AAEL_DIGEST_LEN])
{
	uint8_t next[AAEL_DIGEST_LEN];
	int r;

	r = sha384_two(reg, AAEL_DIGEST_LEN, digest, AAEL_DIGEST_LEN, next);
	if (r < 0)
		return r;
	memcpy(reg, next, AAEL_DIGEST_LEN);
	return 0;
}

void aael_log_free(struct aael_log *log)
{
	if (!log)
		return;
	free(log->events);
	free(log->text);
	free(log);
}

/* Splits an event line (NUL-terminated, in the log's own copy) at its two spaces. */
static int parse_event_line(char *line, size_t lineno, struct aael_event *ev, char *reason,
			    size_t reason_len)
{
	char *field[3] = {line, NULL, NULL};
	size_t k = 0;

	for (char *c = line; *c; c++) {
		if (*c != ' ')
			continue;
		if (k == 2)
			return aael_fail(reason, reason_len, "line %zu: more than three fields",
					 lineno);
		*c = '\0';
		field[++k] = c + 1;
	}
	if (k != 2)
		return aael_fail(reason, reason_len,
				 "line %zu: not '<domain> <operation> <content>'", lineno);
	for (size_t i = 0; i < 3; i++)
		if (!aael_field_valid(field[i]))
			return aael_fail(reason, reason_len,
					 "line %zu: field %zu is empty, longer than %d or holds a "
					 "non-printable byte",
					 lineno, i + 1, AAEL_FIELD_MAX);
	ev->domain = field[0];
	ev->operation = field[1];
	ev->content = field[2];
	return 0;
}

/* Reads the next line of c into the log's copy and records it: INIT on line 1, events after. */
static int parse_line(struct aael_log *log, const uint8_t *buf, size_t len, struct cbs *c,
		      size_t lineno, char *reason, size_t reason_len)
{
	const uint8_t *nl = memchr(cbs_data(c), '\n', cbs_len(c)), *p;
	size_t line_len, off = (size_t)(cbs_data(c) - buf);
	struct aael_event *ev;
	char *line;
	int r;

	if (!nl)
		return aael_fail(reason, reason_len, "line %zu: truncated (no newline)", lineno);
	line_len = (size_t)(nl - cbs_data(c));
	if (!cbs_get_bytes(c, &p, line_len + 1))
		return aael_fail(reason, reason_len, "line %zu: truncated", lineno);
	if (line_len > AAEL_LINE_MAX)
		return aael_fail(reason, reason_len, "line %zu: longer than %d bytes", lineno,
				 AAEL_LINE_MAX);
	if (memchr(p, '\0', line_len))
		return aael_fail(reason, reason_len, "line %zu: holds a NUL byte", lineno);
	line = log->text + off;
	memcpy(line, p, line_len);
	line[line_len] = '\0';

	if (lineno == 1) {
		if (line_len != AAEL_INIT_LEN ||
		    memcmp(line, init_prefix, sizeof(init_prefix) - 1) != 0 ||
		    hex_decode_exact(line + sizeof(init_prefix) - 1, 2 * AAEL_DIGEST_LEN, log->init,
				     AAEL_DIGEST_LEN) < 0)
			return aael_fail(reason, reason_len,
					 "line 1: not 'INIT sha384/<96 hex digits>'");
		return aael_line_digest(line, line_len, log->init_digest);
	}
	if (!log->events) {
		/* One event per remaining line, counted once. */
		size_t n = 1;

		for (const uint8_t *q = cbs_data(c); q < buf + len; q++)
			n += *q == '\n';
		if (n > AAEL_MAX_EVENTS)
			return aael_fail(reason, reason_len, "more than %d events",
					 AAEL_MAX_EVENTS);
		log->events = calloc(n, sizeof(*log->events));
		if (!log->events)
			return -ENOMEM;
	}
	ev = &log->events[log->n_events];
	/* The digest covers the line as written, before it is split into fields. */
	r = aael_line_digest(line, line_len, ev->digest);
	if (r < 0)
		return r;
	r = parse_event_line(line, lineno, ev, reason, reason_len);
	if (r < 0)
		return r;
	log->n_events++;
	return 0;
}

int aael_parse(const uint8_t *buf, size_t len, struct aael_log **out, char *reason,
	       size_t reason_len)
{
	struct aael_log *log;
	struct cbs c;
	size_t lineno = 0;
	int r = 0;

	if (len == 0)
		return aael_fail(reason, reason_len, "empty log (no INIT line)");
	if (len > AAEL_MAX_LEN)
		return aael_fail(reason, reason_len, "log of %zu bytes exceeds %d", len,
				 AAEL_MAX_LEN);
	log = calloc(1, sizeof(*log));
	if (!log)
		return -ENOMEM;
	log->text = malloc(len);
	if (!log->text) {
		r = -ENOMEM;
		goto out;
	}

	cbs_init(&c, buf, len);
	while (r == 0 && cbs_len(&c) > 0)
		r = parse_line(log, buf, len, &c, ++lineno, reason, reason_len);
out:
	if (r < 0) {
		aael_log_free(log);
		return r;
	}
	*out = log;
	return 0;
}

int aael_replay(const struct aael_log *log, uint8_t out[AAEL_DIGEST_LEN])
{
	uint8_t reg[AAEL_DIGEST_LEN];
	int r;

	memcpy(reg, log->init, AAEL_DIGEST_LEN);
	r = aael_extend(reg, log->init_digest);
	for (size_t i = 0; r == 0 && i < log->n_events; i++)
		r = aael_extend(reg, log->events[i].digest);
	if (r == 0)
		memcpy(out, reg, AAEL_DIGEST_LEN);
	return r;
}
