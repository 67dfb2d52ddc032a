/* The mapping name the boot's cryptsetup expects for a LUKS device: crypttab(5) entries (the
 * initramfs's /etc/crypttab, initramfs-tools' /cryptroot/crypttab, Debian's cryptopts=) and
 * rd.luks.name=, matched to the device by UUID or device path; "luks-<UUID>" otherwise. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define VOLUME_NAME_MAX	     127 /* device-mapper's name limit (DM_NAME_LEN - 1) */
#define CRYPTTAB_MAX_ENTRIES 64
#define CRYPTTAB_SOURCE_MAX  1024
#define CRYPTTAB_FILE_MAX    (64 * 1024)

struct crypttab_entry {
	char *name;   /* validated: volume_name_valid() */
	char *source; /* UUID=..., /dev/disk/by-uuid/..., PARTUUID=, LABEL=, or a path */
};

/* An ordered list of (name, source): the first entry that matches a device names it. */
struct crypttab {
	struct crypttab_entry entries[CRYPTTAB_MAX_ENTRIES];
	size_t n;
};

/* A name safe for device-mapper, udev and systemd units: 1..VOLUME_NAME_MAX characters of
 * [A-Za-z0-9_.+-], not starting with '.' or '-'. */
bool volume_name_valid(const char *name);

void crypttab_done(struct crypttab *t);

/* Appends an entry; an invalid name or source is refused (-EINVAL, logged with `where`),
 * a full list is -E2BIG. */
int crypttab_add(struct crypttab *t, const char *name, const char *source, const char *where);

/* Parses crypttab(5) text ("name source [key [options]]", '#' comments). A malformed line or an
 * invalid name is logged and skipped (that entry names nothing); only -ENOMEM/-E2BIG fail. */
int crypttab_parse(struct crypttab *t, const char *text, size_t len, const char *where);

/* Loads and parses a crypttab file. An absent file is -ENOENT without a message. */
int crypttab_load(struct crypttab *t, const char *path);

/* Whether a crypttab source names this LUKS device: UUID=<uuid> or /dev/disk/by-uuid/<uuid>
 * (case-insensitive), or a path (PARTUUID=, LABEL=, PARTLABEL= via /dev/disk/by-*) that
 * resolves to the same block device (or the same file, for image files). */
bool crypttab_source_matches(const char *source, const char *uuid, const char *device);

/* The device path a source names: UUID= and the other tags under /dev/disk/by-*, a path as is.
 * -EINVAL for a source that names no device path. */
int crypttab_source_path(const char *source, char *path, size_t size);

/* The source of the entry named name, or NULL. */
const char *crypttab_source_of(const struct crypttab *t, const char *name);

/* The name of the first entry matching the device, or NULL. */
const char *crypttab_find(const struct crypttab *t, const char *uuid, const char *device);
