#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "cmd_dispatch.h"
#include "cmd_env.h"
#include "commands.h"
#include "fileio.h"
#include "kdf.h"
#include "keyd_config.h"
#include "log.h"
#include "policy.h"
#include "rootkey.h"
#include "secmem.h"

/* For image enrollment: the disk secret keyd will release for a resource, written to a new 0600
 * file (never to the terminal), with the policy id and key version that resource falls under. */
int cmd_derive_secret(int argc, char **argv)
{
	static const char usage[] = "usage: tdx-keyd derive-secret --config FILE --resource "
				    "REPO/TYPE/TAG --out FILE\n";
	const char *config = NULL, *resource = NULL, *out = NULL;
	const struct cmd_option opts[] = {
		CMD_OPT("config", 'c', true, &config),
		CMD_OPT("resource", 'r', true, &resource),
		CMD_OPT("out", 'o', true, &out),
	};
	struct cmd_env env;
	struct policy_set *ps = NULL;
	const struct policy *p;
	uint8_t *secret = NULL;
	int r;

	r = cmd_options_parse(argc, argv, usage, opts, ARRAY_SIZE(opts), NULL, 0);
	if (r >= 0)
		return r;
	if (!strcmp(out, "-") || !strncmp(out, "/dev/", 5) || !strncmp(out, "/proc/", 6)) {
		log_error("--out must name a new regular file, not %s", out);
		return CMD_EXIT_USAGE;
	}
	if (!policy_resource_path_valid(resource)) {
		log_error("--resource '%s' is not repo/type/tag", resource);
		return CMD_EXIT_USAGE;
	}
	r = cmd_env_load(config, true, &env);
	if (r < 0)
		goto out;
	r = policy_set_load_dir(env.cfg->policy_dir, &ps);
	if (r < 0)
		goto out;
	p = policy_set_find(ps, resource);
	if (!p) {
		r = log_error_errno(-ENOENT, "resource %s is not covered by any policy in %s",
				    resource, env.cfg->policy_dir);
		goto out;
	}
	secret = secmem_alloc(KDF_DISK_SECRET_LEN);
	if (!secret) {
		r = -ENOMEM;
		goto out;
	}
	r = rootkey_disk_secret(env.rk, p->id, resource, p->key_version, secret);
	if (r < 0)
		goto out;
	r = file_write_private(out, secret, KDF_DISK_SECRET_LEN, 0);
	if (r < 0)
		goto out;
	fprintf(stderr, "wrote the disk secret of %s (policy %s, key version %u) to %s\n", resource,
		p->id, p->key_version, out);
out:
	secmem_free(secret);
	policy_set_unref(ps);
	cmd_env_done(&env);
	return cmd_exit_code(r);
}
