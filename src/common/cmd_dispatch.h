/* Subcommand dispatch of tdx-unlock and tdx-keyd: run the table entry named by argv[1]. */
#pragma once

#include <stddef.h>

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
};

/* Runs the command named by argv[1] with argv shifted by one and returns its exit code; "help" and
 * "--help" print the table to stdout (exit 0); "--version" prints "<prog> <PROJECT_VERSION>" (exit
 * 0); a missing or unknown name prints it to stderr (exit 2). */
int cmd_dispatch(const char *prog, const struct command *commands, size_t n_commands, int argc,
		 char **argv);
