/* tdx-keyd: attested key-release server and its admin commands. */
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
	{"verify-quote", cmd_verify_quote, "verify a TDX quote against collateral"},
	{"serve", cmd_serve, "run the key-release server (--config FILE)"},
	{"check-config", cmd_check_config, "validate a configuration and what it names"},
	{"policy-from-quote", cmd_policy_from_quote, "print a policy accepting a quote's TD"},
	{"derive-secret", cmd_derive_secret, "write a disk secret for enrollment (0600 file)"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: tdx-keyd COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-18s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv)
{
	log_setup("tdx-keyd", LOG_TARGET_STDERR, LOG_LVL_INFO);
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
	fprintf(stderr, "tdx-keyd: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
