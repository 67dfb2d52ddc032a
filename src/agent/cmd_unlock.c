/* tdx-unlock unlock: the command the initramfs runs before cryptsetup. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "agent/config.h"
#include "agent/luks_discover.h"
#include "agent/luks_header.h"
#include "agent/phase_timing.h"
#include "agent/unlock.h"
#include "cleanup.h"
#include "cmd_dispatch.h"
#include "commands.h"
#include "log.h"
#include "secmem.h"

/* OpenSSL's secure heap holds the ephemeral EC private scalar (BN_secure_new): locked,
 * excluded from core dumps and cleansed on free, like src/common/secmem.h memory. */
#define OPENSSL_SECURE_HEAP	(64 * 1024)
#define OPENSSL_SECURE_HEAP_MIN 32

static const char usage[] =
	"usage: tdx-unlock unlock [OPTIONS] [DEVICE...]\n"
	"\n"
	"Unlocks every LUKS2 device that carries a tdx-unlock token (or the DEVICEs "
	"given)\n"
	"with a disk secret released by an attested key-release server.\n"
	"\n"
	"  --config FILE       agent configuration (default " AGENT_CONFIG_DEFAULT_PATH ")\n"
	"  --name NAME         mapping name for a single DEVICE (default luks-<UUID>)\n"
	"  --test-passphrase   only check that the derived passphrase opens the keyslot\n"
	"  --ask-passphrase    when the automatic unlock fails (outcome in RTMR3), ask "
	"for\n"
	"                      the passphrase and open from the validated header copy\n"
	"                      (default in an initramfs, without --test-passphrase)\n"
	"  --no-ask-passphrase never ask\n"
	"  --log-target T      stderr, kmsg or auto (default auto: /dev/kmsg in an "
	"initramfs\n"
	"                      without systemd, else stderr)\n"
	"  -v, --verbose       debug logging\n"
	"\n"
	"Exit codes: 0 all unlocked, 1 internal error or no quote, 2 usage/configuration\n"
	"or a DEVICE that cannot be opened, 3 no token, 4 servers unreachable, 5 refused,\n"
	"6 header invalid, 7 activation failed, 8 disabled, 9 recovery mode (1-9: the\n"
	"outcome is in RTMR3 and what the agent validated is open); 10 RTMR3 cannot "
	"record\n"
	"the outcome, 11 not opened with the passphrase (10, 11: power off; "
	"docs/agent.md).\n";

/* Inside an initramfs: dracut's and systemd's carry /etc/initrd-release, initramfs-tools' its
 * /conf/initramfs.conf. */
static bool in_initrd(void)
{
	return access("/etc/initrd-release", F_OK) == 0 ||
	       access("/conf/initramfs.conf", F_OK) == 0;
}

static enum log_target log_target_auto(void)
{
	/* systemd (dracut) collects stderr into the journal; initramfs-tools has only the kernel
	 * log, which is also what reaches the console. Run by hand, the host's kernel log is
	 * nobody's business: stderr. */
	if (getenv("JOURNAL_STREAM") || isatty(STDERR_FILENO) || !in_initrd())
		return LOG_TARGET_STDERR;
	if (access("/dev/kmsg", W_OK) == 0)
		return LOG_TARGET_KMSG;
	return LOG_TARGET_STDERR;
}

static bool cmdline_disables(enum log_target target, enum log_level level)
{
	struct agent_config scratch;
	bool disabled;

	agent_config_init(&scratch);
	/* Quiet: errors are reported, with consequences, when the real configuration loads. */
	log_setup("tdx-unlock", target, (enum log_level)(LOG_LVL_ERR - 1));
	disabled = agent_config_apply_kernel_cmdline(&scratch) == 0 && scratch.disabled;
	log_setup("tdx-unlock", target, level);
	agent_config_done(&scratch);
	return disabled;
}

int cmd_unlock(int argc, char **argv)
{
	const char *config_path = AGENT_CONFIG_DEFAULT_PATH, *target_name = "auto";
	struct unlock_options o = {0};
	bool verbose = false, ask = false, no_ask = false;
	const struct cmd_option opts[] = {
		CMD_OPT("config", 0, false, &config_path),
		CMD_OPT("name", 0, false, &o.name),
		CMD_FLAG("test-passphrase", &o.test_passphrase),
		CMD_FLAG("ask-passphrase", &ask),
		CMD_FLAG("no-ask-passphrase", &no_ask),
		CMD_OPT("log-target", 0, false, &target_name),
		CMD_FLAG_SHORT("verbose", 'v', &verbose),
	};
	struct phase_timing timing;
	enum log_target target;
	struct agent_config config;
	enum unlock_exit ret;
	char **devices;
	size_t n_devices;
	int r;

	phase_timing_init(&timing);
	/* Before anything else: no core dumps, no ptrace by others, a locked heap for OpenSSL. */
	if (secmem_harden_process() < 0)
		return UNLOCK_EXIT_FAILURE;
	if (CRYPTO_secure_malloc_init(OPENSSL_SECURE_HEAP, OPENSSL_SECURE_HEAP_MIN) == 0)
		log_warn("unlock: OpenSSL secure heap unavailable; ephemeral keys use the normal "
			 "heap");

	r = cmd_options_parse_rest(argc, argv, usage, opts, ARRAY_SIZE(opts), &devices, &n_devices);
	if (r >= 0)
		return r;
	if (!strcmp(target_name, "auto"))
		target = log_target_auto();
	else if (!strcmp(target_name, "stderr"))
		target = LOG_TARGET_STDERR;
	else if (!strcmp(target_name, "kmsg"))
		target = LOG_TARGET_KMSG;
	else {
		log_error("unlock: --log-target must be stderr, kmsg or auto: '%s'", target_name);
		return UNLOCK_EXIT_USAGE;
	}
	log_setup("tdx-unlock", target, verbose ? LOG_LVL_DEBUG : LOG_LVL_INFO);

	if (ask && no_ask) {
		log_error("unlock: --ask-passphrase and --no-ask-passphrase exclude each other");
		return UNLOCK_EXIT_USAGE;
	}
	o.devices = devices;
	o.n_devices = n_devices;
	if (o.n_devices > LUKS_DISCOVER_MAX) {
		log_error("unlock: at most %d devices", LUKS_DISCOVER_MAX);
		return UNLOCK_EXIT_USAGE;
	}
	if (o.name && o.n_devices != 1) {
		log_error("unlock: --name needs exactly one DEVICE");
		return UNLOCK_EXIT_USAGE;
	}

	/* rd.tdx_unlock=0 wins even over a missing or broken configuration file. */
	if (cmdline_disables(target, verbose ? LOG_LVL_DEBUG : LOG_LVL_INFO)) {
		log_info("unlock: disabled by rd.tdx_unlock=0 on the kernel command line");
		return UNLOCK_EXIT_DISABLED;
	}
	agent_config_init(&config);
	if (agent_config_load(&config, config_path) < 0) {
		log_error("unlock: no usable configuration; leaving the disks to the passphrase "
			  "prompt");
		agent_config_done(&config);
		/* Whether a kernel without RTMR3 is acceptable is unknown: it is not. */
		return unlock_record_failure(false, UNLOCK_EXIT_USAGE, NULL);
	}
	if (!verbose)
		log_setup("tdx-unlock", target, config.log_level);
	if (config.disabled) {
		log_info("unlock: disabled by rd.tdx_unlock=0 on the kernel command line");
		agent_config_done(&config);
		return UNLOCK_EXIT_DISABLED;
	}
	o.config = &config;
	o.timing = &timing;
	/* In the initramfs the agent is the only opener (docs/threat-model.md, path 9). */
	o.ask_passphrase = ask || (!no_ask && in_initrd() && !o.test_passphrase);
	ret = unlock_run(&o);
	if (!timing.work_done_us)
		timing.work_done_us = phase_now_us();
	agent_config_done(&config);
	/* Whatever OpenSSL kept in its secure heap is cleansed as the heap is torn down. */
	CRYPTO_secure_malloc_done();
	phase_end(&timing, PHASE_WIPE_EXIT, timing.work_done_us);
	phase_timing_log_summary(&timing, unlock_exit_name(ret));
	return ret;
}
