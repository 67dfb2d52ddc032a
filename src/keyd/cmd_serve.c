#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd_env.h"
#include "commands.h"
#include "keyd_config.h"
#include "http_front.h"
#include "release.h"
#include "log.h"

static int serve(const struct cmd_env *env)
{
	struct release_service *svc = NULL;
	int r;

	r = release_service_new(env->cfg, &svc);
	if (r == 0)
		/* Tests listen on port 0 and learn the port from this file (docs/testing.md). */
		r = http_front_run(env->cfg, svc, getenv("TDX_KEYD_TEST_PORT_FILE"));
	release_service_free(svc);
	return r;
}

int cmd_serve(int argc, char **argv)
{
	return cmd_env_main(argc, argv, "usage: tdx-keyd serve --config FILE\n", false, serve);
}
