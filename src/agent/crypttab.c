#include "agent/crypttab.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "fileio.h"
#include "log.h"

#define CRYPTTAB_LINE_MAX 4096
#define BY_UUID		  "/dev/disk/by-uuid/"

bool volume_name_valid(const char *name)
{
	size_t n = 0;

	if (!name || name[0] == '.' || name[0] == '-')
		return false;
	for (const char *p = name; *p; p++, n++) {
		char ch = *p;

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '+' || ch == '-'))
			return false;
		if (n >= VOLUME_NAME_MAX)
			return false;
	}
	return n > 0;
}

static bool source_valid(const char *source)
{
	size_t n = strlen(source);

	if (n == 0 || n > CRYPTTAB_SOURCE_MAX)
		return false;
	for (const char *p = source; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p == 0x7f)
			return false;
	return true;
}

void crypttab_done(struct crypttab *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->entries[i].name);
		free(t->entries[i].source);
	}
	memset(t, 0, sizeof(*t));
}

int crypttab_add(struct crypttab *t, const char *name, const char *source, const char *where)
{
	struct crypttab_entry *e;

	/* Printed with %.64s: the text may be hostile to a terminal only up to that bound. */
	if (!volume_name_valid(name))
		return log_error_errno(-EINVAL,
				       "%s: volume name '%.64s' refused (1..%d characters of "
				       "A-Z a-z 0-9 _ . + -)",
				       where, name, VOLUME_NAME_MAX);
	if (!source_valid(source))
		return log_error_errno(-EINVAL, "%s: source of volume '%s' refused", where, name);
	if (t->n == CRYPTTAB_MAX_ENTRIES)
		return log_error_errno(-E2BIG, "%s: more than %d volumes", where,
				       CRYPTTAB_MAX_ENTRIES);
	e = &t->entries[t->n];
	e->name = strdup(name);
	e->source = strdup(source);
	if (!e->name || !e->source) {
		free(e->name);
		free(e->source);
		e->name = e->source = NULL;
		return log_error_errno(-ENOMEM, "%s: out of memory", where);
	}
	t->n++;
	return 0;
}

/* Copies a field of n bytes bounded: an overlong field is kept overlong by one byte (size is the
 * limit + 2), so validation refuses it. */
static void field_copy(char *dst, size_t size, const char *f, size_t n)
{
	if (n > size - 1)
		n = size - 1;
	memcpy(dst, f, n);
	dst[n] = '\0';
}

/* Splits the next whitespace-separated field off *p (within end); "" at the end of the line. */
static size_t field_next(const char **p, const char *end, const char **field)
{
	const char *s = *p;
	size_t n = 0;

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	*field = s;
	while (s + n < end && s[n] != ' ' && s[n] != '\t')
		n++;
	*p = s + n;
	return n;
}

static int crypttab_line_parse(struct crypttab *t, const char *line, size_t len, const char *where,
			       unsigned lineno)
{
	char name[VOLUME_NAME_MAX + 2], source[CRYPTTAB_SOURCE_MAX + 2], at[PATH_MAX + 32];
	const char *p = line, *end = line + len, *f;
	size_t n;
	int r;

	n = field_next(&p, end, &f);
	if (n == 0 || f[0] == '#')
		return 0; /* blank or comment */
	if (memchr(line, '\0', len) || len > CRYPTTAB_LINE_MAX) {
		log_error("%s:%u: line refused (NUL byte or longer than %d bytes)", where, lineno,
			  CRYPTTAB_LINE_MAX);
		return 0;
	}
	field_copy(name, sizeof(name), f, n);
	n = field_next(&p, end, &f);
	if (n == 0) {
		log_error("%s:%u: volume '%.64s' has no source device; ignored", where, lineno,
			  name);
		return 0;
	}
	field_copy(source, sizeof(source), f, n);
	/* The key file and options do not concern the name. A refused entry names nothing. */
	snprintf(at, sizeof(at), "%s:%u", where, lineno);
	r = crypttab_add(t, name, source, at);
	return r == -EINVAL ? 0 : r;
}

int crypttab_parse(struct crypttab *t, const char *text, size_t len, const char *where)
{
	unsigned lineno = 0;
	int r;

	for (size_t off = 0; off < len;) {
		const char *line = text + off, *nl = memchr(line, '\n', len - off);
		size_t n = nl ? (size_t)(nl - line) : len - off;

		lineno++;
		r = crypttab_line_parse(t, line, n, where, lineno);
		if (r < 0)
			return r;
		off += n + (nl ? 1 : 0);
	}
	return 0;
}

int crypttab_load(struct crypttab *t, const char *path)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	/* Optional: an initramfs without encrypted volumes in its crypttab has none. */
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return -ENOENT;
	r = file_read_all(path, CRYPTTAB_FILE_MAX, &buf, &len);
	if (r < 0)
		return log_error_errno(r, "crypttab: cannot load %s", path);
	return crypttab_parse(t, (const char *)buf, len, path);
}

/* Same block device (st_rdev), or for image files the same inode. */
static bool same_device(const char *a, const char *b)
{
	struct stat sa, sb;

	if (stat(a, &sa) < 0 || stat(b, &sb) < 0)
		return false;
	if (S_ISBLK(sa.st_mode) && S_ISBLK(sb.st_mode))
		return sa.st_rdev == sb.st_rdev;
	if (S_ISREG(sa.st_mode) && S_ISREG(sb.st_mode))
		return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
	return false;
}

static const struct {
	const char *tag, *dir;
} source_tags[] = {
	{"UUID=", BY_UUID},
	{"PARTUUID=", "/dev/disk/by-partuuid/"},
	{"LABEL=", "/dev/disk/by-label/"},
	{"PARTLABEL=", "/dev/disk/by-partlabel/"},
};

int crypttab_source_path(const char *source, char *path, size_t size)
{
	int n = -1;

	for (size_t i = 0; i < ARRAY_SIZE(source_tags); i++) {
		size_t k = strlen(source_tags[i].tag);

		if (!strncmp(source, source_tags[i].tag, k)) {
			if (!source[k] || strchr(source + k, '/'))
				return -EINVAL;
			n = snprintf(path, size, "%s%s", source_tags[i].dir, source + k);
			break;
		}
	}
	if (n < 0 && source[0] == '/')
		n = snprintf(path, size, "%s", source);
	if (n < 0)
		return -EINVAL;
	return (size_t)n < size ? 0 : -ENAMETOOLONG;
}

bool crypttab_source_matches(const char *source, const char *uuid, const char *device)
{
	char path[sizeof(BY_UUID) + CRYPTTAB_SOURCE_MAX + 32];

	if (!strncmp(source, "UUID=", 5))
		return uuid && !strcasecmp(source + 5, uuid);
	if (!strncmp(source, BY_UUID, strlen(BY_UUID)))
		return uuid && !strcasecmp(source + strlen(BY_UUID), uuid);
	if (!device || crypttab_source_path(source, path, sizeof(path)) < 0)
		return false;
	return same_device(path, device);
}

const char *crypttab_source_of(const struct crypttab *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->entries[i].name, name))
			return t->entries[i].source;
	return NULL;
}

const char *crypttab_find(const struct crypttab *t, const char *uuid, const char *device)
{
	for (size_t i = 0; i < t->n; i++)
		if (crypttab_source_matches(t->entries[i].source, uuid, device))
			return t->entries[i].name;
	return NULL;
}
