/* tdx-unlock guard: runs before anything in the initramfs may prompt for a passphrase or open a
 * LUKS volume (systemd-cryptsetup@NAME's ExecStartPre, initramfs-tools' local-top before
 * cryptroot). It finds the device the boot's cryptsetup would open for NAME (the same name
 * resolution the agent uses). A volume that is already active as that device's own crypt mapping
 * needs nothing more; any other device-mapper device of that name is refused. Otherwise it
 * validates the device's LUKS2 header against the allow-list, records the "fallback" event in
 * RTMR3, asks for the passphrase itself and activates NAME from that validated header copy on the
 * pinned device, so systemd-cryptsetup / cryptroot find it active and never read the header again.
 * Any other outcome is a non-zero exit the unit turns into a power-off, never a shell
 * (docs/agent.md, docs/threat-model.md). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libcryptsetup.h>

#include "agent/config.h"
#include "agent/crypttab.h"
#include "agent/luks_activate.h"
#include "agent/luks_header.h"
#include "agent/passphrase_unlock.h"
#include "agent/rtmr.h"
#include "agent/unlock.h"
#include "cleanup.h"
#include "cmd_dispatch.h"
#include "commands.h"
#include "log.h"

enum guard_exit {
	GUARD_EXIT_OK = CMD_EXIT_OK,	   /* active already, or opened here: go on */
	GUARD_EXIT_USAGE = CMD_EXIT_USAGE, /* bad arguments */
	GUARD_EXIT_NO_RTMR = 10,	   /* the fallback cannot be measured: power off */
	GUARD_EXIT_NOT_OPENED = 11,	   /* the passphrase did not open it: power off */
	GUARD_EXIT_REFUSED = 20,	   /* header refused, or no device to check: power off */
};

#define GUARD_MAX_DEVICES 2 /* the unit's own device and the one NAME maps to */

static const char guard_usage[] =
	"usage: tdx-unlock guard [--config FILE] [--device DEVICE] NAME\n"
	"       tdx-unlock guard [--config FILE] --all\n"
	"Opens volume NAME (or every volume the initramfs's crypttab, cryptopts= and\n"
	"rd.luks.name= name) before anything else could: nothing for an active mapping;\n"
	"else the header must pass the allow-list, the \"fallback\" event is recorded in\n"
	"RTMR3, and the passphrase asked for here opens the validated header copy.\n"
	"exit 0: go on; 2: usage; 10: RTMR3 cannot record it; 11: not opened; 20: "
	"refused.\n"
	"Any non-zero exit must end the boot (power off).\n";

/* Whether NAME is active already as this volume's own mapping: the LUKS2 crypt mapping of the
 * header on source's device, on that device (dm uuid and slave in sysfs, luks_mapping_owned()).
 * Anything else of that name -- a host disk's LVM volume, another header's crypt mapping -- is
 * refused, never counted as unlocked, whether the agent ran or was disabled (rd.tdx_unlock=0).
 * Only the header's identity is read; nothing is opened here. */
static enum guard_exit guard_active(const char *name, const char *source, bool *active)
{
	_cleanup_(luks_header_freep) struct luks_header *h = NULL;
	char path[CRYPTTAB_SOURCE_MAX + 64], reason[LUKS_REASON_MAX] = "";
	crypt_status_info st;
	int r;

	*active = false;
	r = luks_mapping_is_crypt(name);
	if (r < 0) {
		log_error("guard: refusing %s: the name is taken by another device-mapper device",
			  name);
		return GUARD_EXIT_REFUSED;
	}
	st = crypt_status(NULL, name);
	if (r == 0 && st != CRYPT_ACTIVE && st != CRYPT_BUSY)
		return GUARD_EXIT_OK; /* nothing of that name yet */
	if (crypttab_source_path(source, path, sizeof(path)) < 0 ||
	    luks_header_load_unchecked(path, &h, reason, sizeof(reason)) < 0) {
		log_error("guard: refusing %s: it is active, and the header of '%s' cannot be read "
			  "to tell whose mapping it is%s%s",
			  name, source, reason[0] ? ": " : "", reason);
		return GUARD_EXIT_REFUSED;
	}
	if (luks_mapping_owned(h, name) <= 0) {
		log_error(
			"guard: refusing %s: /dev/mapper/%s is active but is not the crypt mapping "
			"of %s (LUKS2 %s) on that device",
			name, name, path, h->uuid[0] ? h->uuid : "without a canonical UUID");
		return GUARD_EXIT_REFUSED;
	}
	log_info("guard: %s is already active as the mapping of %s (%s); nothing to open", name,
		 path, h->uuid);
	*active = true;
	return GUARD_EXIT_OK;
}

/* Validates one device; *out keeps its validated header copy (device pinned). */
static enum guard_exit device_check(const char *name, const char *source, struct luks_header **out)
{
	char path[CRYPTTAB_SOURCE_MAX + 64], reason[LUKS_REASON_MAX] = "";
	int r;

	if (crypttab_source_path(source, path, sizeof(path)) < 0) {
		log_error("guard: %s: '%s' names no device", name, source);
		return GUARD_EXIT_REFUSED;
	}
	r = luks_header_load_any(path, out, reason, sizeof(reason));
	if (r < 0) {
		log_error("guard: refusing %s (%s): %s", name, path,
			  reason[0] ? reason : "the device cannot be read");
		return GUARD_EXIT_REFUSED;
	}
	log_info("guard: %s (%s): LUKS2 header %s passes the allow-list", name, path, (*out)->uuid);
	return GUARD_EXIT_OK;
}

/* Checks volume NAME before anything may open it. *h gets the validated copy of the device the
 * boot's cryptsetup would open (NULL: the mapping is active, nothing to do). */
static enum guard_exit guard_check(const struct agent_config *c, const struct crypttab *files,
				   const char *name, const char *device, struct luks_header **h)
{
	char buf[CRYPTTAB_SOURCE_MAX + 8];
	const char *sources[GUARD_MAX_DEVICES], *origin = "--device";
	struct luks_header *other = NULL;
	enum guard_exit ret = GUARD_EXIT_OK;
	bool active;
	size_t n = 0;

	*h = NULL;
	if (!volume_name_valid(name)) {
		log_error("guard: '%.*s' is not a volume name", VOLUME_NAME_MAX, name);
		return GUARD_EXIT_REFUSED;
	}
	if (device)
		sources[n++] = device;
	sources[n] = unlock_volume_source(c, files, name, buf, sizeof(buf), &origin);
	if (sources[n])
		n++;
	if (n == 0) {
		log_error("guard: cannot tell which device %s is (no crypttab entry, cryptopts=, "
			  "rd.luks.name= or luks-<UUID> name)",
			  name);
		return GUARD_EXIT_REFUSED;
	}
	/* The agent opened it from the header copy it validated; systemd-cryptsetup and cryptroot
	 * open nothing for an active mapping, so it must be this device's own (the allow-list was
	 * applied when it was opened; the bytes on the disk now are not what it uses). */
	ret = guard_active(name, sources[0], &active);
	if (ret != GUARD_EXIT_OK || active)
		return ret;
	/* The first is what the boot's cryptsetup would have opened: it is kept to open it. The
	 * second (what NAME resolves to) must pass too, unless it is UUID=<the first's UUID>. */
	ret = device_check(name, sources[0], h);
	if (ret == GUARD_EXIT_OK && n > 1 &&
	    !crypttab_source_matches(sources[1], (*h)->uuid, NULL)) {
		ret = device_check(name, sources[1], &other);
		luks_header_free(other);
	}
	if (ret != GUARD_EXIT_OK) {
		luks_header_free(*h);
		*h = NULL;
	}
	return ret;
}

/* Opens NAME from its validated copy after the fallback event; nothing reads its header again. */
static enum guard_exit guard_open(const struct agent_config *c, const char *name,
				  const struct luks_header *h, uint64_t deadline_ms)
{
	switch (passphrase_unlock(c, h, name, deadline_ms)) {
	case UNLOCK_EXIT_OK:
		return GUARD_EXIT_OK;
	case UNLOCK_EXIT_NO_RTMR:
		return GUARD_EXIT_NO_RTMR;
	default:
		return GUARD_EXIT_NOT_OPENED;
	}
}

static enum guard_exit guard_volume(const struct agent_config *c, const struct crypttab *files,
				    const char *name, const char *device)
{
	struct luks_header *h = NULL;
	enum guard_exit ret = guard_check(c, files, name, device, &h);

	if (ret == GUARD_EXIT_OK && h)
		ret = guard_open(c, name, h, passphrase_deadline_ms(c));
	luks_header_free(h);
	return ret;
}

/* Every volume the configuration names, each once, in resolution order: all are checked before
 * the first prompt, so one refused header stops the boot before anything is asked or opened. */
static enum guard_exit guard_all(const struct agent_config *c, const struct crypttab *files)
{
	const struct crypttab *lists[] = {&c->cryptopts, files, &c->luks_names};
	const char *seen[3 * CRYPTTAB_MAX_ENTRIES];
	struct luks_header *h[3 * CRYPTTAB_MAX_ENTRIES] = {NULL};
	enum guard_exit ret = GUARD_EXIT_OK;
	uint64_t deadline;
	size_t n_seen = 0;

	for (size_t l = 0; l < ARRAY_SIZE(lists) && ret == GUARD_EXIT_OK; l++) {
		for (size_t i = 0; i < lists[l]->n && ret == GUARD_EXIT_OK; i++) {
			const char *name = lists[l]->entries[i].name;
			bool dup = false;

			for (size_t j = 0; j < n_seen; j++)
				dup = dup || !strcmp(seen[j], name);
			if (dup)
				continue;
			ret = guard_check(c, files, name, NULL, &h[n_seen]);
			seen[n_seen++] = name;
		}
	}
	deadline = passphrase_deadline_ms(c);
	for (size_t j = 0; j < n_seen && ret == GUARD_EXIT_OK; j++)
		if (h[j])
			ret = guard_open(c, seen[j], h[j], deadline);
	for (size_t j = 0; j < n_seen; j++)
		luks_header_free(h[j]);
	if (ret == GUARD_EXIT_OK)
		log_info("guard: %zu volume(s) checked and open", n_seen);
	return ret;
}

int cmd_guard(int argc, char **argv)
{
	const char *config_path = AGENT_CONFIG_DEFAULT_PATH, *device = NULL;
	bool all = false;
	const struct cmd_option opts[] = {
		CMD_OPT("config", 0, false, &config_path),
		CMD_OPT("device", 0, false, &device),
		CMD_FLAG("all", &all),
	};
	struct crypttab files = {0};
	struct agent_config c;
	enum guard_exit ret;
	char **names;
	size_t n_names;
	int r;

	r = cmd_options_parse_rest(argc, argv, guard_usage, opts, ARRAY_SIZE(opts), &names,
				   &n_names);
	if (r >= 0)
		return r;
	if (all ? n_names != 0 || device : n_names != 1) {
		fputs(guard_usage, stderr);
		return GUARD_EXIT_USAGE;
	}

	/* Names and allow_missing_rtmr come from the measured configuration and command line; the
	 * servers are not needed here, so a file without them is no error. A missing or broken file
	 * leaves the defaults: no kernel without RTMR3 is accepted. */
	agent_config_init(&c);
	if (config_path && access(config_path, F_OK) == 0 &&
	    agent_config_load_file(&c, config_path) < 0) {
		agent_config_done(&c);
		agent_config_init(&c);
		log_warn("guard: %s unusable; names come from the command line and crypttab only",
			 config_path);
	}
	if (agent_config_apply_kernel_cmdline(&c) < 0)
		log_warn("guard: the kernel command line has unusable rd.tdx_unlock options");
	if (unlock_crypttab_load(&c, &files) < 0)
		log_warn("guard: crypttab unusable; names come from the command line");

	ret = all ? guard_all(&c, &files) : guard_volume(&c, &files, names[0], device);
	if (ret != GUARD_EXIT_OK)
		log_error("guard: the boot must stop here (exit %d): nothing else may open it",
			  ret);
	crypttab_done(&files);
	agent_config_done(&c);
	return ret;
}
