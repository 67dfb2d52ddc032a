/* tdx-unlock guard: runs before anything in the initramfs may prompt for a passphrase or open a
 * LUKS volume (systemd-cryptsetup@NAME's ExecStartPre, initramfs-tools' local-top before
 * cryptroot). For a volume that is already active it does nothing and reads nothing. Otherwise it
 * finds the device the boot's cryptsetup will open for NAME (the same name resolution the agent
 * uses), validates its LUKS2 header against the allow-list, and records the "fallback" event in
 * RTMR3 before the prompt may follow. Any other outcome is a non-zero exit the unit turns into a
 * power-off, never a shell (docs/agent.md, docs/threat-model.md). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libcryptsetup.h>

#include "agent/config.h"
#include "agent/crypttab.h"
#include "agent/luks_header.h"
#include "agent/rtmr.h"
#include "agent/unlock.h"
#include "cleanup.h"
#include "commands.h"
#include "log.h"

enum guard_exit {
	GUARD_EXIT_OK = 0,	 /* active, or checked and "fallback" recorded: go on */
	GUARD_EXIT_USAGE = 2,	 /* bad arguments */
	GUARD_EXIT_NO_RTMR = 10, /* the fallback cannot be measured: power off */
	GUARD_EXIT_REFUSED = 20, /* header refused, or no device to check: power off */
};

#define GUARD_MAX_DEVICES 2 /* the unit's own device and the one NAME maps to */

static void guard_usage(FILE *f)
{
	fprintf(f,
		"usage: tdx-unlock guard [--config FILE] [--device DEVICE] NAME\n"
		"       tdx-unlock guard [--config FILE] --all\n"
		"Before a passphrase prompt may open volume NAME (or every volume the initramfs's\n"
		"crypttab, cryptopts= and rd.luks.name= name): nothing for an active mapping; "
		"else\n"
		"the header must pass the allow-list and the \"fallback\" event is recorded in "
		"RTMR3.\n"
		"exit 0: go on; 2: usage; 10: RTMR3 cannot record it; 20: refused. Any non-zero "
		"exit\n"
		"must end the boot (power off).\n");
}

static bool mapping_active(const char *name)
{
	crypt_status_info st = crypt_status(NULL, name);

	return st == CRYPT_ACTIVE || st == CRYPT_BUSY;
}

/* Validates one device; *uuid gets its LUKS UUID. */
static enum guard_exit device_check(const char *name, const char *source, char *uuid,
				    size_t uuid_size)
{
	char path[CRYPTTAB_SOURCE_MAX + 64], reason[LUKS_REASON_MAX] = "";
	struct luks_header *h = NULL;
	int r;

	if (crypttab_source_path(source, path, sizeof(path)) < 0) {
		log_error("guard: %s: '%s' names no device", name, source);
		return GUARD_EXIT_REFUSED;
	}
	r = luks_header_load_any(path, &h, reason, sizeof(reason));
	if (r < 0) {
		log_error("guard: refusing %s (%s): %s", name, path,
			  reason[0] ? reason : "the device cannot be read");
		return GUARD_EXIT_REFUSED;
	}
	snprintf(uuid, uuid_size, "%s", h->uuid);
	log_info("guard: %s (%s): LUKS2 header %s passes the allow-list", name, path, h->uuid);
	luks_header_free(h);
	return GUARD_EXIT_OK;
}

static enum guard_exit guard_volume(const struct agent_config *c, const struct crypttab *files,
				    const char *name, const char *device)
{
	char buf[CRYPTTAB_SOURCE_MAX + 8], uuid[64] = "", first_uuid[64] = "";
	const char *sources[GUARD_MAX_DEVICES], *origin = "--device";
	size_t n = 0;
	enum guard_exit ret;

	if (!volume_name_valid(name)) {
		log_error("guard: '%.*s' is not a volume name", VOLUME_NAME_MAX, name);
		return GUARD_EXIT_REFUSED;
	}
	/* The agent opened it from the header copy it validated; systemd-cryptsetup and cryptroot
	 * open nothing for an active mapping. Reading the disk again would check unused bytes. */
	if (mapping_active(name)) {
		log_info("guard: %s is already active; nothing to check", name);
		return GUARD_EXIT_OK;
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
	for (size_t i = 0; i < n; i++) {
		/* UUID=<the device already checked>: the same volume, whatever by-uuid points at
		 * (the unit opens its own device, which was checked). */
		if (first_uuid[0] && crypttab_source_matches(sources[i], first_uuid, NULL))
			continue;
		ret = device_check(name, sources[i], uuid, sizeof(uuid));
		if (ret != GUARD_EXIT_OK)
			return ret;
		if (!first_uuid[0])
			snprintf(first_uuid, sizeof(first_uuid), "%s", uuid);
	}
	/* Before the prompt: this boot is leaving the agent's path, and RTMR3 says so. */
	if (unlock_record_outcome(c->allow_missing_rtmr, RTMR_FALLBACK, first_uuid,
				  UNLOCK_EXIT_OK) != UNLOCK_EXIT_OK)
		return GUARD_EXIT_NO_RTMR;
	return GUARD_EXIT_OK;
}

/* Every volume the configuration names, each once, in resolution order. */
static enum guard_exit guard_all(const struct agent_config *c, const struct crypttab *files)
{
	const struct crypttab *lists[] = {&c->cryptopts, files, &c->luks_names};
	const char *seen[3 * CRYPTTAB_MAX_ENTRIES];
	size_t n_seen = 0;

	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		for (size_t i = 0; i < lists[l]->n; i++) {
			const char *name = lists[l]->entries[i].name;
			bool dup = false;
			enum guard_exit ret;

			for (size_t j = 0; j < n_seen; j++)
				dup = dup || !strcmp(seen[j], name);
			if (dup)
				continue;
			seen[n_seen++] = name;
			ret = guard_volume(c, files, name, NULL);
			if (ret != GUARD_EXIT_OK)
				return ret;
		}
	}
	log_info("guard: %zu volume(s) checked", n_seen);
	return GUARD_EXIT_OK;
}

int cmd_guard(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"device", required_argument, NULL, 'd'},
		{"all", no_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *config_path = AGENT_CONFIG_DEFAULT_PATH, *device = NULL;
	struct crypttab files = {0};
	struct agent_config c;
	enum guard_exit ret;
	bool all = false;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'd':
			device = optarg;
			break;
		case 'a':
			all = true;
			break;
		case 'h':
			guard_usage(stdout);
			return GUARD_EXIT_OK;
		default:
			guard_usage(stderr);
			return GUARD_EXIT_USAGE;
		}
	}
	if (all ? optind != argc || device : optind + 1 != argc) {
		guard_usage(stderr);
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

	ret = all ? guard_all(&c, &files) : guard_volume(&c, &files, argv[optind], device);
	if (ret != GUARD_EXIT_OK)
		log_error("guard: the boot must stop here (exit %d): no passphrase prompt", ret);
	crypttab_done(&files);
	agent_config_done(&c);
	return ret;
}
