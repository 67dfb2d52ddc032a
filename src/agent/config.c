#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <json-c/json.h>

#include "b64.h"
#include "cleanup.h"
#include "fileio.h"
#include "hexutil.h"
#include "json_strict.h"
#include "log.h"

#define CONFIG_FILE_MAX	 (64 * 1024)
#define CMDLINE_FILE_MAX (64 * 1024)
#define CONFIG_URL_MAX	 512
#define CONFIG_PATH_MAX	 4096
#define CMDLINE_PREFIX	 "rd.tdx_unlock"

/* The numeric settings: default, and bounds outside which a value is a configuration error. */
struct uint_setting {
	const char *name;
	size_t offset;
	unsigned def, min, max;
};

#define UINT_SETTING(field, def, min, max)                                  \
	{                                                                   \
#field, offsetof(struct agent_config, field), def, min, max \
	}
static const struct uint_setting uint_settings[] = {
	UINT_SETTING(connect_timeout_ms, 3000, 50, 60000),
	UINT_SETTING(request_timeout_ms, 10000, 100, 300000),
	UINT_SETTING(total_timeout_s, 60, 1, AGENT_TOTAL_TIMEOUT_MAX_S),
	UINT_SETTING(attempts, 5, 1, 100),
	UINT_SETTING(backoff_initial_ms, 500, 0, 60000),
	UINT_SETTING(backoff_max_ms, 8000, 0, 600000),
	UINT_SETTING(passphrase_tries, 3, 1, 10),
	UINT_SETTING(passphrase_timeout_s, 120, 10, AGENT_PASSPHRASE_TIMEOUT_MAX_S),
};

static unsigned *uint_setting_at(struct agent_config *c, const struct uint_setting *s)
{
	return (unsigned *)(void *)((char *)c + s->offset);
}

static const struct uint_setting *uint_setting_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(uint_settings); i++)
		if (!strcmp(uint_settings[i].name, name))
			return &uint_settings[i];
	return NULL;
}

static int uint_setting_parse(struct agent_config *c, const struct uint_setting *s,
			      const char *text, const char *where)
{
	unsigned long v;
	char *end;

	if (!text[0] || !isdigit((unsigned char)text[0]))
		return log_error_errno(-EINVAL, "%s: '%s' is not a number: '%s'", where, s->name,
				       text);
	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || *end)
		return log_error_errno(-EINVAL, "%s: '%s' is not a number: '%s'", where, s->name,
				       text);
	if (v < s->min || v > s->max)
		return log_error_errno(-ERANGE, "%s: '%s' = %lu is outside %u..%u", where, s->name,
				       v, s->min, s->max);
	*uint_setting_at(c, s) = (unsigned)v;
	return 0;
}

static void server_clear(struct agent_server *s)
{
	free(s->url);
	free(s->ca_file);
	memset(s, 0, sizeof(*s));
}

static void servers_clear(struct agent_config *c)
{
	for (size_t i = 0; i < c->n_servers; i++)
		server_clear(&c->servers[i]);
	c->n_servers = 0;
}

static int set_string(char **dst, const char *value)
{
	char *v = strdup(value);

	if (!v)
		return log_error_errno(-ENOMEM, "config: out of memory");
	free(*dst);
	*dst = v;
	return 0;
}

void agent_config_init(struct agent_config *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < ARRAY_SIZE(uint_settings); i++)
		*uint_setting_at(c, &uint_settings[i]) = uint_settings[i].def;
	c->log_level = LOG_LVL_INFO;
}

void agent_config_done(struct agent_config *c)
{
	servers_clear(c);
	free(c->crypttab_path);
	crypttab_done(&c->cryptopts);
	crypttab_done(&c->luks_names);
	memset(c, 0, sizeof(*c));
}

static bool has_control_or_space(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s == 0x7f)
			return true;
	return false;
}

/* Accepts https://host[:port][/prefix]; stores it without a trailing '/'. */
static int url_normalize(const char *url, char **out, const char *where)
{
	size_t len = strlen(url);
	char *u;

	if (len == 0 || len > CONFIG_URL_MAX)
		return log_error_errno(-EINVAL, "%s: server URL is empty or longer than %d bytes",
				       where, CONFIG_URL_MAX);
	if (strncmp(url, "https://", 8) != 0)
		return log_error_errno(-EINVAL, "%s: server URL '%s' must start with https://",
				       where, url);
	if (len == 8 || url[8] == '/')
		return log_error_errno(-EINVAL, "%s: server URL '%s' has no host", where, url);
	if (has_control_or_space(url) || strchr(url, '?') || strchr(url, '#') || strchr(url, '@'))
		return log_error_errno(
			-EINVAL,
			"%s: server URL '%s' contains whitespace, a query, a fragment "
			"or user info",
			where, url);
	u = strdup(url);
	if (!u)
		return log_error_errno(-ENOMEM, "config: out of memory");
	if (u[len - 1] == '/')
		u[len - 1] = '\0';
	*out = u;
	return 0;
}

/* A pin is the SHA-256 of the server's SPKI: 64 hex digits, or curl's "sha256//<base64>". */
static int pin_parse(const char *text, uint8_t out[AGENT_PIN_LEN], const char *where)
{
	size_t len = strlen(text);

	if (!strncmp(text, "sha256//", 8)) {
		const char *b64 = text + 8;

		/* Canonical only: 43 characters, one '=', zero unused bits (one text per pin). */
		if (b64_decode_exact(B64_STD, b64, strlen(b64), out, AGENT_PIN_LEN) < 0)
			return log_error_errno(
				-EINVAL,
				"%s: pin '%s' is not sha256// and the canonical base64 of 32 bytes",
				where, text);
		return 0;
	}
	if (len != 2 * AGENT_PIN_LEN || hex_decode_exact(text, len, out, AGENT_PIN_LEN) < 0)
		return log_error_errno(-EINVAL,
				       "%s: pin '%s' is neither 64 hex digits nor sha256//<base64>",
				       where, text);
	return 0;
}

static int path_check(const char *path, const char *key, const char *where)
{
	if (!path[0] || strlen(path) > CONFIG_PATH_MAX || has_control_or_space(path))
		return log_error_errno(-EINVAL, "%s: '%s' is not a usable path: '%s'", where, key,
				       path);
	if (path[0] != '/')
		return log_error_errno(-EINVAL, "%s: '%s' must be an absolute path: '%s'", where,
				       key, path);
	return 0;
}

static int log_level_parse(const char *text, enum log_level *out, const char *where)
{
	static const struct {
		const char *name;
		enum log_level level;
	} levels[] = {
		{"err", LOG_LVL_ERR},	{"error", LOG_LVL_ERR},	  {"warning", LOG_LVL_WARN},
		{"info", LOG_LVL_INFO}, {"debug", LOG_LVL_DEBUG},
	};

	for (size_t i = 0; i < ARRAY_SIZE(levels); i++)
		if (!strcmp(text, levels[i].name)) {
			*out = levels[i].level;
			return 0;
		}
	return log_error_errno(-EINVAL,
			       "%s: 'log_level' must be error, warning, info or debug: '%s'", where,
			       text);
}

/* ---- JSON file ---- */

static int json_server_parse(struct agent_server *s, struct json_object *obj, size_t index)
{
	const char *url = NULL, *ca_file = NULL;
	struct json_object *pins = NULL;
	const struct json_field fields[] = {
		JSON_STRING("url", true, 0, SIZE_MAX, &url),
		JSON_ARRAY("pins", false, 0, AGENT_CONFIG_MAX_PINS, &pins),
		JSON_STRING("ca_file", false, 0, SIZE_MAX, &ca_file),
	};
	char where[64];
	int r;

	snprintf(where, sizeof(where), "config: servers[%zu]", index);
	r = json_strict_fields(obj, where, fields, ARRAY_SIZE(fields), NULL, 0);
	if (r < 0)
		return r;
	r = url_normalize(url, &s->url, where);
	if (r < 0)
		return r;
	for (size_t i = 0; pins && i < json_object_array_length(pins); i++) {
		struct json_object *pin = json_object_array_get_idx(pins, i);

		if (!json_object_is_type(pin, json_type_string))
			return log_error_errno(-EINVAL, "%s: 'pins'[%zu] is not a string", where,
					       i);
		r = pin_parse(json_object_get_string(pin), s->pins[i], where);
		if (r < 0)
			return r;
		s->n_pins = i + 1;
	}
	if (ca_file) {
		r = path_check(ca_file, "ca_file", where);
		if (r == 0)
			r = set_string(&s->ca_file, ca_file);
	}
	return r;
}

static int json_servers_parse(struct agent_config *c, struct json_object *arr)
{
	int r;

	servers_clear(c);
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		r = json_server_parse(&c->servers[i], json_object_array_get_idx(arr, i), i);
		c->n_servers = i + 1;
		if (r < 0) {
			servers_clear(c); /* never leave a half-parsed entry behind */
			return r;
		}
	}
	return 0;
}

int agent_config_parse_json(struct agent_config *c, const char *text, size_t len)
{
	_cleanup_(json_object_putp) struct json_object *root = NULL;
	struct json_object *servers = NULL;
	const char *quote_source = NULL, *log_level = NULL, *crypttab = NULL;
	struct json_field fields[ARRAY_SIZE(uint_settings) + 5] = {
		JSON_ARRAY("servers", false, 1, AGENT_CONFIG_MAX_SERVERS, &servers),
		/* The measured configuration's explicit acknowledgement (docs/agent.md). */
		JSON_BOOL("allow_missing_rtmr", false, &c->allow_missing_rtmr),
		JSON_STRING("quote_source", false, 0, SIZE_MAX, &quote_source),
		JSON_STRING("log_level", false, 0, SIZE_MAX, &log_level),
		JSON_STRING("crypttab", false, 0, SIZE_MAX, &crypttab),
	};
	const char *where = "config";
	int r;

	/* The numeric settings share their bounds with the command line's. */
	for (size_t i = 0; i < ARRAY_SIZE(uint_settings); i++)
		fields[5 + i] = (struct json_field){
			.key = uint_settings[i].name,
			.type = JSON_FIELD_U32,
			.min = uint_settings[i].min,
			.max = uint_settings[i].max,
			.out = uint_setting_at(c, &uint_settings[i]),
		};
	/* Duplicate keys are refused like everywhere else: json-c would keep the last one. */
	r = json_strict_parse(text, len, CONFIG_FILE_MAX, &root, NULL, 0);
	if (r < 0)
		return r;
	r = json_strict_fields(root, where, fields, ARRAY_SIZE(fields), NULL, 0);
	if (r < 0)
		return r;
	if (servers && (r = json_servers_parse(c, servers)) < 0)
		return r;
	/* configfs-tsm is the only source: the test quote simulator is not in the agent. */
	if (quote_source && strcmp(quote_source, "configfs-tsm") != 0)
		return log_error_errno(
			-EINVAL,
			"config: 'quote_source' must be configfs-tsm: '%s' (the test "
			"quote simulator is not part of the agent)",
			quote_source);
	if (log_level && (r = log_level_parse(log_level, &c->log_level, where)) < 0)
		return r;
	/* "" means: no crypttab, names come from the command line or luks-<UUID>. */
	if (crypttab && ((crypttab[0] && (r = path_check(crypttab, "crypttab", where)) < 0) ||
			 (r = set_string(&c->crypttab_path, crypttab)) < 0))
		return r;
	return 0;
}

int agent_config_load_file(struct agent_config *c, const char *path)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	r = file_read_all(path, CONFIG_FILE_MAX, &buf, &len);
	if (r < 0)
		return log_error_errno(r, "config: cannot load %s", path);
	r = agent_config_parse_json(c, (const char *)buf, len);
	if (r < 0)
		return log_error_errno(r, "config: %s refused", path);
	return 0;
}

/* ---- kernel command line ---- */

/* Splits the next word off *p the way the kernel does: spaces separate words, double quotes
 * group and are removed. Returns false at the end. */
static bool cmdline_next_word(const char **p, char *word, size_t size, bool *truncated)
{
	const char *s = *p;
	bool quoted = false;
	size_t n = 0;

	*truncated = false;
	while (*s && isspace((unsigned char)*s))
		s++;
	if (!*s)
		return false;
	for (; *s && (quoted || !isspace((unsigned char)*s)); s++) {
		if (*s == '"') {
			quoted = !quoted;
			continue;
		}
		if (n + 1 < size)
			word[n++] = *s;
		else
			*truncated = true;
	}
	word[n] = '\0';
	*p = s;
	return true;
}

/* Cmdline servers replace the file's list; pins and CA given on the cmdline apply to them. */
struct cmdline_servers {
	char *urls[AGENT_CONFIG_MAX_SERVERS];
	size_t n_urls;
	uint8_t pins[AGENT_CONFIG_MAX_PINS][AGENT_PIN_LEN];
	size_t n_pins;
	char *ca_file;
};

static void cmdline_servers_done(struct cmdline_servers *cs)
{
	for (size_t i = 0; i < cs->n_urls; i++)
		free(cs->urls[i]);
	free(cs->ca_file);
}

static int cmdline_list_apply(const char *value, const char *key, const char *where,
			      struct cmdline_servers *cs)
{
	int r;

	if (!value[0])
		return log_error_errno(-EINVAL, "%s: '%s' is empty", where, key);
	for (const char *p = value; *p;) {
		size_t n = strcspn(p, ",");
		char item[CONFIG_URL_MAX + 1];

		if (n > CONFIG_URL_MAX)
			return log_error_errno(-E2BIG, "%s: a '%s' item is longer than %d bytes",
					       where, key, CONFIG_URL_MAX);
		memcpy(item, p, n);
		item[n] = '\0';
		p += n;
		if (*p == ',')
			p++;
		if (n == 0)
			continue; /* "a,,b" */
		if (!strcmp(key, "server")) {
			if (cs->n_urls == AGENT_CONFIG_MAX_SERVERS)
				return log_error_errno(-E2BIG, "%s: more than %d servers", where,
						       AGENT_CONFIG_MAX_SERVERS);
			r = url_normalize(item, &cs->urls[cs->n_urls], where);
			if (r < 0)
				return r;
			cs->n_urls++;
		} else {
			if (cs->n_pins == AGENT_CONFIG_MAX_PINS)
				return log_error_errno(-E2BIG, "%s: more than %d pins", where,
						       AGENT_CONFIG_MAX_PINS);
			r = pin_parse(item, cs->pins[cs->n_pins], where);
			if (r < 0)
				return r;
			cs->n_pins++;
		}
	}
	return 0;
}

static int cmdline_option_apply(struct agent_config *c, struct cmdline_servers *cs, const char *key,
				const char *value)
{
	const char *where = "kernel command line";
	const struct uint_setting *us;

	if (!strcmp(key, "")) {
		/* rd.tdx_unlock=0 turns the agent off for this boot (the prompt takes over). */
		if (!value || !strcmp(value, "1") || !strcmp(value, "yes") || !strcmp(value, "on"))
			c->disabled = false;
		else if (!strcmp(value, "0") || !strcmp(value, "no") || !strcmp(value, "off"))
			c->disabled = true;
		else
			return log_error_errno(-EINVAL, "%s: rd.tdx_unlock must be 0 or 1: '%s'",
					       where, value);
		return 0;
	}
	if (!strcmp(key, "recovery")) {
		/* Recovery mode: no release is tried, the prompt is allowed (docs/agent.md). */
		if (!value || !strcmp(value, "1"))
			c->recovery = true;
		else if (!strcmp(value, "0"))
			c->recovery = false;
		else
			return log_error_errno(-EINVAL, "%s: rd.tdx_unlock.recovery must be 0 or 1",
					       where);
		return 0;
	}
	if (!value)
		return log_error_errno(-EINVAL, "%s: rd.tdx_unlock.%s needs a value", where, key);
	us = uint_setting_find(key);
	if (us)
		return uint_setting_parse(c, us, value, where);
	if (!strcmp(key, "server") || !strcmp(key, "pin"))
		return cmdline_list_apply(value, key, where, cs);
	if (!strcmp(key, "ca_file")) {
		int r = path_check(value, key, where);

		return r < 0 ? r : set_string(&cs->ca_file, value);
	}
	if (!strcmp(key, "log_level"))
		return log_level_parse(value, &c->log_level, where);
	/* Read by the initramfs scripts (how long to wait for the network), not by the agent. */
	if (!strcmp(key, "net_timeout"))
		return 0;
	if (!strcmp(key, "quote_source") || !strcmp(key, "allow_missing_rtmr"))
		return log_error_errno(-EPERM,
				       "%s: rd.tdx_unlock.%s may only be set in the config file",
				       where, key);
	return log_error_errno(-EINVAL, "%s: unknown option rd.tdx_unlock.%s", where, key);
}

/* rd.luks.name=UUID=NAME (systemd-cryptsetup-generator; luks.name= applies in the initrd too):
 * the last one for a UUID wins, as in the generator. */
static void cmdline_luks_name_apply(struct agent_config *c, const char *value)
{
	const char *where = "kernel command line: rd.luks.name";
	const char *eq = strchr(value, '=');
	char source[CRYPTTAB_SOURCE_MAX + 1];
	const char *uuid = value;

	if (!strncmp(uuid, "luks-", 5))
		uuid += 5; /* the generator accepts the mapping-style UUID as well */
	if (!eq || eq <= uuid || (size_t)(eq - uuid) > 64) {
		log_warn("%s: '%.80s' is not UUID=NAME; ignored", where, value);
		return;
	}
	if (!volume_name_valid(eq + 1)) {
		log_warn("%s: name '%.64s' refused (1..%d characters of A-Z a-z 0-9 _ . + -); "
			 "ignored",
			 where, eq + 1, VOLUME_NAME_MAX);
		return;
	}
	snprintf(source, sizeof(source), "UUID=%.*s", (int)(eq - uuid), uuid);
	for (size_t i = 0; i < c->luks_names.n; i++) {
		struct crypttab_entry *e = &c->luks_names.entries[i];

		if (!strcasecmp(e->source, source)) {
			char *name = strdup(eq + 1);

			if (!name) {
				log_error("%s: out of memory", where);
				return;
			}
			free(e->name);
			e->name = name;
			return;
		}
	}
	(void)crypttab_add(&c->luks_names, eq + 1, source, where); /* refusals are logged */
}

/* cryptopts=target=NAME,source=DEV,... (Debian's cryptsetup-initramfs): its local-top/cryptroot
 * writes these over /cryptroot/crypttab, with target "cryptroot" by default. */
static void cmdline_cryptopts_apply(struct agent_config *c, const char *value)
{
	const char *where = "kernel command line: cryptopts";
	char name[VOLUME_NAME_MAX + 2] = "cryptroot", source[CRYPTTAB_SOURCE_MAX + 2] = "";

	if (!value[0])
		return; /* an empty cryptopts= disables an entry for this boot */
	for (const char *p = value; *p;) {
		size_t n = strcspn(p, ",");

		/* Bounded copies: an overlong value stays overlong, and is refused below. */
		if (!strncmp(p, "target=", 7) && n >= 7)
			snprintf(name, sizeof(name), "%.*s", (int)(n - 7), p + 7);
		else if (!strncmp(p, "source=", 7) && n >= 7)
			snprintf(source, sizeof(source), "%.*s", (int)(n - 7), p + 7);
		p += n + (p[n] == ',');
	}
	if (!source[0]) {
		log_warn("%s: '%.80s' has no source=; ignored", where, value);
		return;
	}
	(void)crypttab_add(&c->cryptopts, name, source, where); /* refusals are logged */
}

/* Returns true when the word is one of cryptsetup's naming options (and was taken). */
static bool cmdline_volume_word_apply(struct agent_config *c, const char *word, bool truncated)
{
	static const char *const luks_name[] = {"rd.luks.name=", "luks.name="};

	for (size_t i = 0; i < ARRAY_SIZE(luks_name); i++)
		if (!strncmp(word, luks_name[i], strlen(luks_name[i]))) {
			if (truncated)
				log_warn("kernel command line: '%.40s...' too long; ignored", word);
			else
				cmdline_luks_name_apply(c, word + strlen(luks_name[i]));
			return true;
		}
	if (!strncmp(word, "cryptopts=", 10)) {
		if (truncated)
			log_warn("kernel command line: '%.40s...' too long; ignored", word);
		else
			cmdline_cryptopts_apply(c, word + 10);
		return true;
	}
	return false;
}

int agent_config_apply_cmdline(struct agent_config *c, const char *cmdline)
{
	struct cmdline_servers cs = {0};
	const char *p = cmdline;
	char word[1024] = "";
	bool truncated;
	int r = 0;

	while (cmdline_next_word(&p, word, sizeof(word), &truncated)) {
		char *key, *value;
		size_t plen = strlen(CMDLINE_PREFIX);

		if (cmdline_volume_word_apply(c, word, truncated))
			continue;
		if (strncmp(word, CMDLINE_PREFIX, plen) != 0)
			continue;
		if (word[plen] != '\0' && word[plen] != '=' && word[plen] != '.')
			continue; /* e.g. rd.tdx_unlockfoo: not ours */
		if (truncated) {
			r = log_error_errno(
				-E2BIG, "kernel command line: option '%.40s...' too long", word);
			goto out;
		}
		value = strchr(word, '=');
		if (value)
			*value++ = '\0';
		key = word + plen + (word[plen] == '.' ? 1 : 0);
		if (word[plen] == '.' && !key[0]) {
			r = log_error_errno(-EINVAL,
					    "kernel command line: empty rd.tdx_unlock. key");
			goto out;
		}
		r = cmdline_option_apply(c, &cs, key, value);
		if (r < 0)
			goto out;
	}

	if ((cs.n_pins || cs.ca_file) && !cs.n_urls) {
		r = log_error_errno(-EINVAL, "kernel command line: rd.tdx_unlock.pin/ca_file need "
					     "rd.tdx_unlock.server");
		goto out;
	}
	if (cs.n_urls) {
		servers_clear(c);
		for (size_t i = 0; i < cs.n_urls; i++) {
			struct agent_server *s = &c->servers[i];

			s->url = TAKE_PTR(cs.urls[i]);
			c->n_servers = i + 1; /* owned by c from here on, freed with it */
			memcpy(s->pins, cs.pins, sizeof(s->pins));
			s->n_pins = cs.n_pins;
			if (cs.ca_file) {
				s->ca_file = strdup(cs.ca_file);
				if (!s->ca_file) {
					r = log_error_errno(-ENOMEM, "config: out of memory");
					goto out;
				}
			}
		}
	}
out:
	cmdline_servers_done(&cs);
	explicit_bzero(word, sizeof(word));
	return r;
}

int agent_config_apply_cmdline_file(struct agent_config *c, const char *path)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	r = file_read_all(path, CMDLINE_FILE_MAX, &buf, &len);
	if (r < 0)
		return r;
	if (strlen((const char *)buf) != len)
		return log_error_errno(-EINVAL, "%s: contains a NUL byte", path);
	return agent_config_apply_cmdline(c, (const char *)buf);
}

int agent_config_validate(const struct agent_config *c)
{
	if (c->disabled)
		return 0;
	if (c->n_servers == 0)
		return log_error_errno(-EINVAL,
				       "config: no server configured (set 'servers' in the "
				       "config file or rd.tdx_unlock.server)");
	for (size_t i = 0; i < c->n_servers; i++) {
		const struct agent_server *s = &c->servers[i];

		if (!s->url)
			return log_error_errno(-EINVAL, "config: server %zu has no URL", i);
		/* The trust anchor must come from the measured boot, never from the network. */
		if (s->n_pins == 0 && !s->ca_file)
			return log_error_errno(
				-EINVAL, "config: server %s has neither a pin nor a CA", s->url);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(c->servers[j].url, s->url))
				return log_error_errno(-EINVAL, "config: server %s is listed twice",
						       s->url);
	}
	if (c->backoff_max_ms < c->backoff_initial_ms)
		return log_error_errno(-EINVAL,
				       "config: backoff_max_ms is below backoff_initial_ms");
	return 0;
}

int agent_config_apply_kernel_cmdline(struct agent_config *c)
{
	const char *test_cmdline = getenv("TDX_UNLOCK_TEST_CMDLINE");
	int r;

	if (test_cmdline)
		return agent_config_apply_cmdline(c, test_cmdline);
	/* No /proc/cmdline (a test chroot) means no overrides, not an error. */
	if (access(AGENT_CMDLINE_DEFAULT_PATH, F_OK) != 0)
		return 0;
	r = agent_config_apply_cmdline_file(c, AGENT_CMDLINE_DEFAULT_PATH);
	if (r < 0)
		return log_error_errno(r, "config: cannot apply %s", AGENT_CMDLINE_DEFAULT_PATH);
	return 0;
}

int agent_config_load(struct agent_config *c, const char *config_path)
{
	int r;

	r = agent_config_load_file(c, config_path);
	if (r < 0)
		return r;
	r = agent_config_apply_kernel_cmdline(c);
	if (r < 0)
		return r;
	return agent_config_validate(c);
}
