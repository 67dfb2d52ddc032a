#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

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
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"resource", required_argument, NULL, 'r'},
					     {"out", required_argument, NULL, 'o'},
					     {"help", no_argument, NULL, 'h'},
					     {}};
	static const char usage[] = "usage: tdx-keyd derive-secret --config FILE --resource "
				    "REPO/TYPE/TAG --out FILE\n";
	const char *config = NULL, *resource = NULL, *out = NULL;
	struct keyd_config *cfg = NULL;
	struct policy_set *ps = NULL;
	struct rootkey *rk = NULL;
	const struct policy *p;
	uint8_t *secret = NULL;
	int c, r;

	while ((c = getopt_long(argc, argv, "c:r:o:h", opts, NULL)) >= 0) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'r':
			resource = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return 2;
		}
	}
	if (!config || !resource || !out || optind != argc) {
		fputs(usage, stderr);
		return 2;
	}
	if (!strcmp(out, "-") || !strncmp(out, "/dev/", 5) || !strncmp(out, "/proc/", 6)) {
		log_error("--out must name a new regular file, not %s", out);
		return 2;
	}
	if (!policy_resource_path_valid(resource)) {
		log_error("--resource '%s' is not repo/type/tag", resource);
		return 2;
	}
	r = secmem_harden_process();
	if (r < 0)
		return 1;
	r = keyd_config_load(config, &cfg);
	if (r < 0)
		goto out;
	r = rootkey_load_config(cfg, &rk);
	if (r < 0)
		goto out;
	r = policy_set_load_dir(cfg->policy_dir, &ps);
	if (r < 0)
		goto out;
	p = policy_set_find(ps, resource);
	if (!p) {
		r = log_error_errno(-ENOENT, "resource %s is not covered by any policy in %s",
				    resource, cfg->policy_dir);
		goto out;
	}
	secret = secmem_alloc(KDF_DISK_SECRET_LEN);
	if (!secret) {
		r = -ENOMEM;
		goto out;
	}
	r = rootkey_disk_secret(rk, p->id, resource, p->key_version, secret);
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
	rootkey_free(rk);
	keyd_config_free(cfg);
	return r < 0 ? 1 : 0;
}
