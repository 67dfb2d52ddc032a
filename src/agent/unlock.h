/* The boot-time unlock run: find the LUKS2 devices carrying a tdx-unlock token, attest to the
 * configured key-release servers in order, receive each disk's secret, open the disks from their
 * validated header copies, extend RTMR3 once, and wipe every secret. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "agent/config.h"
#include "agent/crypttab.h"
#include "agent/rtmr.h"
#include "cmd_dispatch.h"

/* Process exit codes of `tdx-unlock unlock` (docs/agent.md): the shared ones (cmd_dispatch.h),
 * then its own. Codes 1-9 say why the automatic unlock did not open everything; the outcome is in
 * RTMR3 (or the configuration acknowledges a kernel without it), and every device the agent
 * validated was then opened with the passphrase it asked for itself (when it asks:
 * ask_passphrase). UNLOCK_EXIT_NO_RTMR: the outcome is not recorded, UNLOCK_EXIT_NOT_OPENED: a
 * validated device stayed closed; both mean power off. With several devices the first failing
 * device decides. */
enum unlock_exit {
	UNLOCK_EXIT_OK = CMD_EXIT_OK,	       /* every device with a token was unlocked */
	UNLOCK_EXIT_FAILURE = CMD_EXIT_FAILED, /* internal error, or no quote (not a TDX guest) */
	UNLOCK_EXIT_USAGE = CMD_EXIT_USAGE,    /* bad arguments or configuration */
	UNLOCK_EXIT_NO_TOKEN = 3,	       /* no device carries a tdx-unlock token */
	UNLOCK_EXIT_UNREACHABLE = 4,	       /* no configured server answered in time */
	UNLOCK_EXIT_REFUSED = 5,	   /* refused (attestation, policy, or server key != pin) */
	UNLOCK_EXIT_HEADER_INVALID = 6,	   /* LUKS2 header or token failed validation */
	UNLOCK_EXIT_ACTIVATION_FAILED = 7, /* secret released but the keyslot did not open */
	UNLOCK_EXIT_DISABLED = 8,	   /* rd.tdx_unlock=0 on the kernel command line */
	UNLOCK_EXIT_RECOVERY = 9,	   /* rd.tdx_unlock.recovery=1: "recovery" recorded */
	UNLOCK_EXIT_NO_RTMR = 10,    /* RTMR3 cannot record the outcome: no prompt, power off */
	UNLOCK_EXIT_NOT_OPENED = 11, /* the passphrase did not open a validated volume: power off */
};

const char *unlock_exit_name(enum unlock_exit code);

/* Records o with content in RTMR3 (rtmr_record()); a kernel without RTMR3 is acceptable only when
 * the measured configuration says so (allow_missing_rtmr). Returns code, or UNLOCK_EXIT_NO_RTMR. */
enum unlock_exit unlock_record_outcome(bool allow_missing_rtmr, enum rtmr_outcome o,
				       const char *content, enum unlock_exit code);

/* Records a failed run's outcome in RTMR3 before anything else may happen ("no-token" for
 * UNLOCK_EXIT_NO_TOKEN, else "error" with the reason word of code): returns code, or
 * UNLOCK_EXIT_NO_RTMR when it cannot be recorded and allow_missing_rtmr does not acknowledge a
 * kernel without RTMR3. content NULL: the reason word. */
enum unlock_exit unlock_record_failure(bool allow_missing_rtmr, enum unlock_exit code,
				       const char *content);

struct phase_timing;

struct unlock_options {
	const struct agent_config *config;
	char *const *devices; /* explicit devices/image files; NULL or empty = discover */
	size_t n_devices;
	const char *name;     /* mapping name for a single device; NULL = unlock_mapping_name() */
	bool test_passphrase; /* verify the passphrase opens the keyslot; create no mapping */
	bool ask_passphrase;  /* after a recorded failure, ask for the passphrase and open */
	struct phase_timing *timing; /* per-phase times (agent/phase_timing.h); may be NULL */
};

/* Runs the whole unlock and returns its exit code. */
enum unlock_exit unlock_run(const struct unlock_options *o);

/* Reads the crypttab file(s) of the configuration into t: `crypttab_path`, or by default
 * /etc/crypttab and then /cryptroot/crypttab (skipped when cryptopts= are on the command line:
 * Debian's cryptroot replaces it with them). Absent files are skipped silently. */
int unlock_crypttab_load(const struct agent_config *c, struct crypttab *t);

/* The other direction, for the guard: the source the boot's cryptsetup opens for a mapping name
 * (cryptopts=, the crypttab files, rd.luks.name=, in unlock_mapping_name()'s order; "luks-<UUID>"
 * names UUID=<UUID>). NULL when no configuration names it. *origin says which. */
const char *unlock_volume_source(const struct agent_config *c, const struct crypttab *files,
				 const char *name, char *buf, size_t size, const char **origin);

/* The name the boot's cryptsetup expects for the device: the first match in cryptopts=, the
 * crypttab files, rd.luks.name=, else "luks-<UUID>". *origin says which (for the log). */
int unlock_mapping_name(const struct agent_config *c, const struct crypttab *files,
			const char *uuid, const char *device, char name[VOLUME_NAME_MAX + 1],
			const char **origin);
