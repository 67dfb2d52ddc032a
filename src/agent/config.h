/* Agent configuration from the measured boot: the initramfs config file plus rd.tdx_unlock.*
 * kernel command-line overrides. The LUKS2 header never contributes to it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/crypttab.h"
#include "log.h"

#define AGENT_CONFIG_DEFAULT_PATH  "/etc/tdx-unlock/agent.conf"
#define AGENT_CMDLINE_DEFAULT_PATH "/proc/cmdline"
#define AGENT_TSM_REPORT_PATH	   "/sys/kernel/config/tsm/report"
#define AGENT_CONFIG_MAX_SERVERS   8
/* The whole run's budget; the unit's TimeoutStartSec must exceed it by the time one activation
 * takes (docs/agent.md: 60 s + 30 s = the dracut unit's 90 s). */
#define AGENT_TOTAL_TIMEOUT_MAX_S 60
/* All passphrase prompts of one run together (after the outcome is recorded; docs/agent.md). */
#define AGENT_PASSPHRASE_TIMEOUT_MAX_S 300
#define AGENT_CONFIG_MAX_PINS	       4
#define AGENT_PIN_LEN		       32 /* SHA-256 of the server's SubjectPublicKeyInfo (DER) */
#define AGENT_CRYPTTAB_PATH	       "/etc/crypttab" /* dracut, systemd */
#define AGENT_CRYPTTAB_ITOOLS_PATH \
	"/cryptroot/crypttab" /* initramfs-tools (cryptsetup-initramfs) */

struct agent_server {
	char *url; /* https://host[:port] (no trailing slash) */
	uint8_t pins[AGENT_CONFIG_MAX_PINS][AGENT_PIN_LEN];
	size_t n_pins;
	char *ca_file; /* PEM bundle; NULL when only pins are used */
};

struct agent_config {
	struct agent_server servers[AGENT_CONFIG_MAX_SERVERS]; /* tried in this order */
	size_t n_servers;
	unsigned connect_timeout_ms; /* per connection attempt: keeps failover fast */
	unsigned request_timeout_ms; /* per HTTP exchange */
	unsigned total_timeout_s;    /* whole unlock run, all devices, all retries */
	unsigned attempts;	     /* rounds over the server list within total_timeout_s */
	unsigned backoff_initial_ms; /* pause after the first failed round, doubled each round */
	unsigned backoff_max_ms;
	unsigned passphrase_tries;     /* per volume, when the agent asks for the passphrase */
	unsigned passphrase_timeout_s; /* every prompt of the run together */
	enum log_level log_level;
	bool disabled;		 /* rd.tdx_unlock=0 */
	bool recovery;		 /* rd.tdx_unlock.recovery=1: record "recovery", release nothing */
	bool allow_missing_rtmr; /* config: a kernel without RTMR3 may unlock and fall back */
	/* Where mapping names come from (docs/agent.md): NULL = AGENT_CRYPTTAB_PATH, then
	 * AGENT_CRYPTTAB_ITOOLS_PATH; "" = no crypttab. */
	char *crypttab_path;
	struct crypttab
		cryptopts; /* cryptopts=target=,source= (they replace /cryptroot/crypttab) */
	struct crypttab luks_names; /* rd.luks.name=UUID=NAME as source "UUID=<uuid>" */
};

/* Fills in the defaults (no servers; they must come from the file or the command line). */
void agent_config_init(struct agent_config *c);
/* Releases every string the config owns and re-initialises it. */
void agent_config_done(struct agent_config *c);

/* Parses a JSON config file (docs/agent.md). Unknown keys and bad values are errors. */
int agent_config_load_file(struct agent_config *c, const char *path);
int agent_config_parse_json(struct agent_config *c, const char *text, size_t len);

/* Applies rd.tdx_unlock.* options from a kernel command line, and collects the mapping names of
 * rd.luks.name= / luks.name= and cryptopts= (an invalid one is logged and ignored: those options
 * belong to cryptsetup's boot integration). Other words are ignored. */
int agent_config_apply_cmdline(struct agent_config *c, const char *cmdline);
int agent_config_apply_cmdline_file(struct agent_config *c, const char *path);
/* Applies the kernel command line: AGENT_CMDLINE_DEFAULT_PATH (missing, as in a bare chroot, means
 * no overrides), or in tests the text of $TDX_UNLOCK_TEST_CMDLINE instead (docs/testing.md). */
int agent_config_apply_kernel_cmdline(struct agent_config *c);

/* Checks the final configuration is usable: at least one server, each https with a pin or CA. */
int agent_config_validate(const struct agent_config *c);

/* Loads file then the kernel command line (agent_config_apply_kernel_cmdline), then validates. */
int agent_config_load(struct agent_config *c, const char *config_path);
