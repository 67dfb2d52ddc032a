/* tdx-keyd: attested key-release server and its admin commands. */
#include "cleanup.h"
#include "cmd_dispatch.h"
#include "commands.h"
#include "log.h"

static const struct command commands[] = {
	{"verify-quote", cmd_verify_quote, "verify a TDX quote against collateral"},
	{"serve", cmd_serve, "run the key-release server (--config FILE)"},
	{"check-config", cmd_check_config, "validate a configuration and what it names"},
	{"policy-from-quote", cmd_policy_from_quote, "print a policy accepting a quote's TD"},
	{"derive-secret", cmd_derive_secret, "write a disk secret for enrollment (0600 file)"},
	{"image-measure", cmd_image_measure, "print the event digests a direct boot measures"},
	{"import-root-key", cmd_import_root_key, "copy a root key file into a PKCS#11 token"},
	{"audit-verify", cmd_audit_verify, "check the audit log's HMAC chain"},
	{"fetch-secret", cmd_fetch_secret, "get a disk secret from keyd's admin endpoint (mTLS)"},
};

int main(int argc, char **argv)
{
	log_setup("tdx-keyd", LOG_TARGET_STDERR, LOG_LVL_INFO);
	return cmd_dispatch("tdx-keyd", commands, ARRAY_SIZE(commands), argc, argv);
}
