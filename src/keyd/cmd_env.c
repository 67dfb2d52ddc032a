/* The hardened process, configuration and root key of a tdx-keyd command. */
#include "cmd_env.h"

#include <stddef.h>

#include "cleanup.h"
#include "cmd_dispatch.h"
#include "keyd_config.h"
#include "rootkey.h"
#include "secmem.h"

int cmd_env_load(const char *config_path, bool with_rootkey, struct cmd_env *env)
{
	int r;

	*env = (struct cmd_env){0};
	r = secmem_harden_process();
	if (r == 0)
		r = keyd_config_load(config_path, &env->cfg);
	if (r == 0 && with_rootkey)
		r = rootkey_load_config(env->cfg, &env->rk);
	return r;
}

void cmd_env_done(struct cmd_env *env)
{
	rootkey_free(env->rk);
	keyd_config_free(env->cfg);
	*env = (struct cmd_env){0};
}

int cmd_env_main(int argc, char **argv, const char *usage, bool with_rootkey,
		 int (*run)(const struct cmd_env *env))
{
	const char *config = NULL;
	const struct cmd_option opts[] = {CMD_OPT("config", 'c', true, &config)};
	struct cmd_env env;
	int r;

	r = cmd_options_parse(argc, argv, usage, opts, ARRAY_SIZE(opts), NULL, 0);
	if (r >= 0)
		return r;
	r = cmd_env_load(config, with_rootkey, &env);
	if (r == 0)
		r = run(&env);
	cmd_env_done(&env);
	return cmd_exit_code(r);
}
