#include <errno.h>
#include <getopt.h>
#include <stdio.h>

#include "audit.h"
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
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"audit", required_argument, NULL, 'a'},
					     {"help", no_argument, NULL, 'h'},
					     {}};
	static const char usage[] =
		"usage: tdx-keyd audit-verify --config FILE [--audit FILE]...\n"
		"  --audit (repeatable, oldest file first) defaults to the configured audit_file\n";
	const char *config = NULL, *files[AUDIT_VERIFY_MAX_FILES];
	struct keyd_config *cfg = NULL;
	struct rootkey *rk = NULL;
	uint8_t *key = NULL;
	char reason[512] = "";
	size_t n = 0;
	int c, r;

	while ((c = getopt_long(argc, argv, "c:a:h", opts, NULL)) >= 0) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'a':
			if (n == AUDIT_VERIFY_MAX_FILES) {
				fprintf(stderr, "at most %d --audit files\n",
					AUDIT_VERIFY_MAX_FILES);
				return 2;
			}
			files[n++] = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return 2;
		}
	}
	if (!config || optind != argc) {
		fputs(usage, stderr);
		return 2;
	}
	if (secmem_harden_process() < 0)
		return 1;
	r = keyd_config_load(config, &cfg);
	if (r < 0)
		goto out;
	if (n == 0) {
		if (!cfg->audit_file) {
			r = log_error_errno(-EINVAL, "%s names no audit_file: give --audit FILE",
					    config);
			goto out;
		}
		files[n++] = cfg->audit_file;
	}
	r = rootkey_load_config(cfg, &rk);
	if (r < 0)
		goto out;
	key = secmem_alloc(AUDIT_KEY_LEN);
	r = key ? rootkey_subkey(rk, "audit/v1", key) : -ENOMEM;
	if (r < 0)
		goto out;
	r = audit_verify(key, files, n, reason, sizeof(reason));
	if (r < 0)
		fprintf(stdout, "audit-verify: FAILED: %s\n", reason[0] ? reason : "error");
out:
	secmem_free(key);
	rootkey_free(rk);
	keyd_config_free(cfg);
	return r < 0 ? 1 : 0;
}
