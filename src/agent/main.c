/* tdx-unlock: initramfs agent (unlock) and disk-side admin commands. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "log.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
};

static const struct command commands[] = {
	{ "unlock", cmd_unlock, "unlock every LUKS2 device carrying a tdx-unlock token" },
	{ "enroll", cmd_enroll, "add the tdx-unlock keyslot and token to a LUKS2 device" },
	{ "unenroll", cmd_unenroll, "remove the tdx-unlock token and its keyslot" },
	{ "list", cmd_list, "show a device's keyslots and tdx-unlock token" },
	{ "rotate", cmd_rotate, "replace the tdx-unlock keyslot for a new secret" },
	{ "check", cmd_check, "validate header and token exactly as unlock does" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: tdx-unlock COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-18s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv)
{
	log_setup("tdx-unlock", LOG_TARGET_STDERR, LOG_LVL_INFO);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "tdx-unlock: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
