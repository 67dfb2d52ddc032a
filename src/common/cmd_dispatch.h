/* Subcommand dispatch of tdx-unlock and tdx-keyd: run the table entry named by argv[1], read a
 * command's options from one table, and map its result to the exit codes both programs share. */
#pragma once

#include <stdbool.h>
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

/* The exit codes every command of both programs shares (tdx-unlock(8), tdx-keyd(8)); `unlock`
 * and `guard` add their own above these (unlock.h, docs/agent.md). */
enum cmd_exit {
	CMD_EXIT_OK = 0,
	CMD_EXIT_FAILED = 1, /* refused, or the operation failed */
	CMD_EXIT_USAGE = 2,  /* bad arguments, or what they name cannot be opened or read */
};

/* The one mapping from a command's result to its exit code: r >= 0 is CMD_EXIT_OK; -ENODEV (what
 * the command line names cannot be opened or read) is CMD_EXIT_USAGE; any other error (refused,
 * failed) is CMD_EXIT_FAILED. */
int cmd_exit_code(int r);

/* One option of a command: "--name VALUE" (*value set; given again, the last wins), "--name" alone
 * (*flag set), or a repeatable "--name VALUE" (appended to values[], at most max_values, counted in
 * *n_values). short_name is the one-letter form, 0 for none. */
struct cmd_option {
	const char *name;
	char short_name;
	bool required;
	const char **value;
	bool *flag;
	const char **values;
	size_t *n_values;
	size_t max_values;
};

#define CMD_OPT(name, short_name, required, value)                             \
	{                                                                      \
		(name), (short_name), (required), (value), NULL, NULL, NULL, 0 \
	}
#define CMD_FLAG(name, flag) CMD_FLAG_SHORT(name, 0, flag)
#define CMD_FLAG_SHORT(name, short_name, flag)                           \
	{                                                                \
		(name), (short_name), false, NULL, (flag), NULL, NULL, 0 \
	}
#define CMD_OPT_LIST(name, short_name, values, n_values, max_values)                        \
	{                                                                                   \
		(name), (short_name), false, NULL, NULL, (values), (n_values), (max_values) \
	}

/* At most this many options per command (--help is added to them). */
#define CMD_OPTIONS_MAX 24

/* Reads a command's argv (argv[0] its name) with getopt_long: the options of opts[] and --help
 * (-h), then exactly n_operands operands into operands[]. Returns -1 when the command goes on,
 * else the exit code to return now: CMD_EXIT_OK after --help (usage printed to stdout),
 * CMD_EXIT_USAGE for an unknown, missing or surplus option or operand (usage printed to stderr). */
int cmd_options_parse(int argc, char **argv, const char *usage, const struct cmd_option *opts,
		      size_t n_opts, const char **operands, size_t n_operands);

/* The same for a command whose number of operands varies (unlock's DEVICEs, guard's NAME or
 * --all): any number is accepted, *operands points at them in argv and *n_operands counts them;
 * the command checks how many it got. */
int cmd_options_parse_rest(int argc, char **argv, const char *usage, const struct cmd_option *opts,
			   size_t n_opts, char ***operands, size_t *n_operands);
