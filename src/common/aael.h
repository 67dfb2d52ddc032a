/* Attestation Agent Event Log (AAEL, Confidential Containers guest-components' text format):
 * the runtime log of what was measured into RTMR3 after boot.
 *
 *   INIT sha384/<96 hex: the register's value before the first entry>\n
 *   <domain> <operation> <content>\n        (one line per event)
 *
 * Each line (without its '\n') is hashed with SHA-384 and the register extended:
 * reg = SHA-384(reg || SHA-384(line)), the INIT line first. A replay therefore starts from the
 * INIT value. Fields are 1..AAEL_FIELD_MAX printable ASCII characters without spaces. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AAEL_DIGEST_LEN 48 /* SHA-384, the TDX RTMR bank */
#define AAEL_DOMAIN	"tdx-unlock"
#define AAEL_FIELD_MAX	255
#define AAEL_LINE_MAX	(3 * AAEL_FIELD_MAX + 2)
#define AAEL_INIT_LEN	(sizeof("INIT sha384/") - 1 + 2 * AAEL_DIGEST_LEN)
#define AAEL_MAX_LEN	(64 * 1024) /* a larger log is refused before parsing */
#define AAEL_MAX_EVENTS 1024

/* One event line; the strings point into the parsed log and are NUL-terminated. */
struct aael_event {
	const char *domain;
	const char *operation;
	const char *content;
	uint8_t digest[AAEL_DIGEST_LEN]; /* SHA-384 of the line */
};

struct aael_log {
	uint8_t init[AAEL_DIGEST_LEN];	      /* register value recorded by the INIT line */
	uint8_t init_digest[AAEL_DIGEST_LEN]; /* SHA-384 of the INIT line */
	struct aael_event *events;
	size_t n_events;
	char *text; /* owned copy of the log the events point into */
};

/* True when s is a valid field: 1..AAEL_FIELD_MAX printable ASCII characters, no space. */
bool aael_field_valid(const char *s);

/* Writes "INIT sha384/<hex>" (no newline) into out (at least AAEL_INIT_LEN + 1 bytes). */
int aael_format_init(const uint8_t init[AAEL_DIGEST_LEN], char *out, size_t out_len);

/* Writes "<domain> <operation> <content>" (no newline) into out; -EINVAL names the bad field,
 * -ENOSPC when out is too small. */
int aael_format_event(const char *domain, const char *operation, const char *content, char *out,
		      size_t out_len);

/* digest = SHA-384(line[0..len)). */
int aael_line_digest(const char *line, size_t len, uint8_t digest[AAEL_DIGEST_LEN]);

/* reg = SHA-384(reg || digest): one RTMR extension. */
int aael_extend(uint8_t reg[AAEL_DIGEST_LEN], const uint8_t digest[AAEL_DIGEST_LEN]);

/* Parses a whole log (bounded reader; every line ends in '\n'). Returns 0, or -EBADMSG with the
 * reason (e.g. "line 3: field 2 holds a non-printable byte") logged and copied into reason. */
int aael_parse(const uint8_t *buf, size_t len, struct aael_log **out, char *reason,
	       size_t reason_len);
void aael_log_free(struct aael_log *log);

/* The register value the log's entries produce, starting from its INIT value. */
int aael_replay(const struct aael_log *log, uint8_t out[AAEL_DIGEST_LEN]);
