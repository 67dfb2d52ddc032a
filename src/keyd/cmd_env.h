/* What the tdx-keyd commands load the same way: the process hardened first (no core dump may hold
 * the root key), then the configuration file, then (when asked) the root key it names. */
#pragma once

#include <stdbool.h>

struct keyd_config;
struct rootkey;

struct cmd_env {
	struct keyd_config *cfg;
	struct rootkey *rk; /* NULL unless asked for */
};

/* Returns 0, or a negative errno (logged where it happened); env holds what was loaded either way
 * and is released by cmd_env_done(). */
int cmd_env_load(const char *config_path, bool with_rootkey, struct cmd_env *env);
void cmd_env_done(struct cmd_env *env);

/* A command whose one option is --config FILE (serve, check-config): its options read, its
 * environment loaded, then run(env). Returns the exit code. */
int cmd_env_main(int argc, char **argv, const char *usage, bool with_rootkey,
		 int (*run)(const struct cmd_env *env));
