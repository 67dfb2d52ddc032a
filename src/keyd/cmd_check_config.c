#include <errno.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "cmd_env.h"
#include "commands.h"
#include "dcap/dcap.h"
#include "keyd_config.h"
#include "log.h"
#include "policy.h"

/* Loads everything serve would load, without listening or writing the audit log. */
static int check(const struct cmd_env *env)
{
	const struct keyd_config *cfg = env->cfg;
	struct policy_set *ps = NULL;
	struct dcap_verifier *v = NULL;
	SSL_CTX *ctx = NULL;
	struct stat st;
	int r;

	r = policy_set_load_dir(cfg->policy_dir, &ps);
	if (r < 0)
		goto out;
	r = dcap_verifier_new(cfg->test_root_ca, &v);
	if (r < 0)
		goto out;
	if (stat(cfg->collateral_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		r = log_error_errno(-ENOENT, "collateral_dir %s is not a directory",
				    cfg->collateral_dir);
		goto out;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		r = log_error_errno(-EINVAL, "TLS certificate %s or key %s unusable", cfg->tls_cert,
				    cfg->tls_key);
		goto out;
	}
	printf("%s: OK: %zu policies, listen %s:%u%s\n", cfg->path, policy_set_size(ps),
	       cfg->listen_address, cfg->listen_port,
	       cfg->test_root_ca ? ", TEST ROOT CA (tests only)" : "");
out:
	SSL_CTX_free(ctx);
	dcap_verifier_free(v);
	policy_set_unref(ps);
	return r;
}

int cmd_check_config(int argc, char **argv)
{
	/* The root key too: everything serve would load. */
	return cmd_env_main(argc, argv, "usage: tdx-keyd check-config --config FILE\n", true,
			    check);
}
