/* Subcommand dispatch shared by tdx-unlock and tdx-keyd. */
#include <stdio.h>
#include <string.h>

#include "cmd_dispatch.h"

/* From the VERSION file, through the Makefile (mk/install.mk). */
#ifndef PROJECT_VERSION
#define PROJECT_VERSION "unknown"
#endif

static void usage(FILE *f, const char *prog, const struct command *commands, size_t n_commands)
{
	fprintf(f, "usage: %s COMMAND [OPTIONS]\n       %s --version\n\ncommands:\n", prog, prog);
	for (size_t i = 0; i < n_commands; i++)
		fprintf(f, "  %-18s %s\n", commands[i].name, commands[i].help);
}

int cmd_dispatch(const char *prog, const struct command *commands, size_t n_commands, int argc,
		 char **argv)
{
	if (argc < 2) {
		usage(stderr, prog, commands, n_commands);
		return 2;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("%s %s\n", prog, PROJECT_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout, prog, commands, n_commands);
		return 0;
	}
	for (size_t i = 0; i < n_commands; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown command '%s'\n", prog, argv[1]);
	usage(stderr, prog, commands, n_commands);
	return 2;
}
