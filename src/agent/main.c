/* tdx-unlock: initramfs agent (unlock) and disk-side admin commands. */
#include "agent/luks_header.h"
#include "cleanup.h"
#include "cmd_dispatch.h"
#include "commands.h"
#include "log.h"

static const struct command commands[] = {
	{"unlock", cmd_unlock, "unlock every LUKS2 device carrying a tdx-unlock token"},
	{"enroll", cmd_enroll, "add the tdx-unlock keyslot and token to a LUKS2 device"},
	{"unenroll", cmd_unenroll, "remove the tdx-unlock token and its keyslot"},
	{"list", cmd_list, "show a device's keyslots and tdx-unlock token"},
	{"rotate", cmd_rotate, "replace the tdx-unlock keyslot for a new secret"},
	{"check", cmd_check, "validate header and token exactly as unlock does"},
	{"check-header", cmd_check_header, "validate any LUKS2 header against the allow-list"},
	{"guard", cmd_guard, "before a passphrase prompt: check the volume, record the fallback"},
};

int main(int argc, char **argv)
{
	log_setup("tdx-unlock", LOG_TARGET_STDERR, LOG_LVL_INFO);
	/* libcryptsetup speaks through our log, also before a device context exists. */
	luks_log_attach(NULL);
	return cmd_dispatch("tdx-unlock", commands, ARRAY_SIZE(commands), argc, argv);
}
