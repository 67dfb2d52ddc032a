/* The tdx-unlock LUKS2 token: strict parsing and formatting of its JSON (docs/enroll.md). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "log.h"

#define LUKS_TOKEN_TYPE		"tdx-unlock"
#define LUKS_TOKEN_VERSION	1
#define LUKS_TOKEN_SALT_LEN	32  /* bytes; "salt" is their standard base64 (44 chars) */
#define LUKS_TOKEN_RESOURCE_MAX 255 /* "repo/type/tag" */
#define LUKS_TOKEN_JSON_MAX	4096

/* What the token says. It only locates things: the keyslot to open, the resource to ask for and
 * the HKDF salt. It never names a server or a trust anchor (such a field is refused). */
struct luks_token {
	int keyslot; /* the one entry of "keyslots" (a decimal string, as cryptsetup writes it) */
	char resource[LUKS_TOKEN_RESOURCE_MAX + 1];
	uint8_t salt[LUKS_TOKEN_SALT_LEN];
	unsigned version;
};

/* Parses token JSON exactly: {"type":"tdx-unlock","keyslots":["N"],"resource":"repo/type/tag",
 * "salt":"<base64 of 32 bytes>","version":1}. Any missing, mistyped, out-of-range, duplicate or
 * unknown member is refused with -EINVAL; reason (if not NULL) receives why. */
int luks_token_parse(const char *json, struct luks_token *out, char *reason, size_t reason_len);

/* Formats tok as token JSON into a malloc'ed string. */
int luks_token_format(const struct luks_token *tok, char **json_out);

/* 0 when path is a KBS resource path "repo/type/tag": three non-empty components of
 * [A-Za-z0-9._-], none "." or "..", at most LUKS_TOKEN_RESOURCE_MAX chars; else -EINVAL. */
int luks_resource_path_check(const char *path);

/* A refusal of header or token content, the one helper for both: the message (control characters
 * replaced) goes to reason and to the log as "LUKS2 header refused: ..."; returns r. */
#define luks_refuse(r, reason, reason_len, ...) \
	log_refusal(LOG_LVL_ERR, r, "LUKS2 header refused: ", reason, reason_len, __VA_ARGS__)

/* Replaces control characters (< 0x20, 0x7f) in s with '?': text taken from a header is
 * attacker-chosen and goes to logs and terminals. Returns s. */
char *luks_text_printable(char *s);
