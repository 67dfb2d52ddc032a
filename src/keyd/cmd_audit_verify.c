#include <errno.h>
#include <stdio.h>

#include "audit.h"
#include "cleanup.h"
#include "cmd_dispatch.h"
#include "cmd_env.h"
#include "commands.h"
#include "keyd_config.h"
#include "log.h"
#include "rootkey.h"
#include "secmem.h"

#define AUDIT_VERIFY_MAX_FILES 64

/* Checks the audit HMAC chain with the key derived from the configured root key: exit 0 when
 * intact, 1 naming the first bad record, 2 on usage errors. */
int cmd_audit_verify(int argc, char **argv)
{
	static const char usage[] =
		"usage: tdx-keyd audit-verify --config FILE [--audit FILE]...\n"
		"  --audit (repeatable, oldest file first) defaults to the configured audit_file\n";
	const char *config = NULL, *files[AUDIT_VERIFY_MAX_FILES];
	size_t n = 0;
	const struct cmd_option opts[] = {
		CMD_OPT("config", 'c', true, &config),
		CMD_OPT_LIST("audit", 'a', files, &n, AUDIT_VERIFY_MAX_FILES),
	};
	struct cmd_env env;
	uint8_t *key = NULL;
	char reason[512] = "";
	int r;

	r = cmd_options_parse(argc, argv, usage, opts, ARRAY_SIZE(opts), NULL, 0);
	if (r >= 0)
		return r;
	r = cmd_env_load(config, true, &env);
	if (r < 0)
		goto out;
	if (n == 0) {
		if (!env.cfg->audit_file) {
			r = log_error_errno(-EINVAL, "%s names no audit_file: give --audit FILE",
					    config);
			goto out;
		}
		files[n++] = env.cfg->audit_file;
	}
	key = secmem_alloc(AUDIT_KEY_LEN);
	r = key ? rootkey_subkey(env.rk, "audit/v1", key) : -ENOMEM;
	if (r < 0)
		goto out;
	r = audit_verify(key, files, n, reason, sizeof(reason));
	if (r < 0)
		fprintf(stdout, "audit-verify: FAILED: %s\n", reason[0] ? reason : "error");
out:
	secmem_free(key);
	cmd_env_done(&env);
	return cmd_exit_code(r);
}
