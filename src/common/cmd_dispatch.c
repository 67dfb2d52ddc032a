/* Subcommand dispatch, option tables and exit codes shared by tdx-unlock and tdx-keyd. */
#include <errno.h>
#include <getopt.h>
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
		return CMD_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("%s %s\n", prog, PROJECT_VERSION);
		return CMD_EXIT_OK;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout, prog, commands, n_commands);
		return CMD_EXIT_OK;
	}
	for (size_t i = 0; i < n_commands; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown command '%s'\n", prog, argv[1]);
	usage(stderr, prog, commands, n_commands);
	return CMD_EXIT_USAGE;
}

int cmd_exit_code(int r)
{
	static const struct {
		int error;
		enum cmd_exit code;
	} map[] = {
		{-ENODEV, CMD_EXIT_USAGE},
	};

	if (r >= 0)
		return CMD_EXIT_OK;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].error == r)
			return map[i].code;
	return CMD_EXIT_FAILED;
}

/* getopt_long's value of option i: its letter, or 256 + i for a long-only one. */
static int option_val(const struct cmd_option *o, size_t i)
{
	return o->short_name ? (unsigned char)o->short_name : 256 + (int)i;
}

static int usage_error(const char *usage_text)
{
	fputs(usage_text, stderr);
	return CMD_EXIT_USAGE;
}

int cmd_options_parse_rest(int argc, char **argv, const char *usage_text,
			   const struct cmd_option *opts, size_t n_opts, char ***operands,
			   size_t *n_operands)
{
	struct option longopts[CMD_OPTIONS_MAX + 2] = {{0}};
	bool seen[CMD_OPTIONS_MAX] = {false};
	char shortopts[2 * CMD_OPTIONS_MAX + 3] = "";
	size_t ns = 0;
	int c;

	if (n_opts > CMD_OPTIONS_MAX)
		return usage_error(usage_text);
	for (size_t i = 0; i < n_opts; i++) {
		longopts[i] = (struct option){opts[i].name,
					      opts[i].flag ? no_argument : required_argument, NULL,
					      option_val(&opts[i], i)};
		if (opts[i].short_name) {
			shortopts[ns++] = opts[i].short_name;
			if (!opts[i].flag)
				shortopts[ns++] = ':';
		}
	}
	longopts[n_opts] = (struct option){"help", no_argument, NULL, 'h'};
	shortopts[ns] = 'h';

	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		size_t i;

		if (c == 'h') {
			fputs(usage_text, stdout);
			return CMD_EXIT_OK;
		}
		for (i = 0; i < n_opts && option_val(&opts[i], i) != c; i++)
			;
		if (i == n_opts)
			return usage_error(usage_text); /* getopt named the option */
		seen[i] = true;
		if (opts[i].flag) {
			*opts[i].flag = true;
		} else if (opts[i].values) {
			if (*opts[i].n_values == opts[i].max_values) {
				fprintf(stderr, "at most %zu --%s\n", opts[i].max_values,
					opts[i].name);
				return CMD_EXIT_USAGE;
			}
			opts[i].values[(*opts[i].n_values)++] = optarg;
		} else {
			*opts[i].value = optarg;
		}
	}
	for (size_t i = 0; i < n_opts; i++)
		if (opts[i].required && !seen[i])
			return usage_error(usage_text);
	*operands = argv + optind;
	*n_operands = (size_t)(argc - optind);
	return -1;
}

int cmd_options_parse(int argc, char **argv, const char *usage_text, const struct cmd_option *opts,
		      size_t n_opts, const char **operands, size_t n_operands)
{
	char **rest;
	size_t n_rest;
	int r;

	r = cmd_options_parse_rest(argc, argv, usage_text, opts, n_opts, &rest, &n_rest);
	if (r >= 0)
		return r;
	if (n_rest != n_operands)
		return usage_error(usage_text);
	for (size_t i = 0; i < n_operands; i++)
		operands[i] = rest[i];
	return -1;
}
