#include <stdio.h>

#include "cleanup.h"
#include "cmd_dispatch.h"
#include "commands.h"
#include "log.h"
#include "rootkey.h"
#include "secmem.h"

/* Moves a fleet to an HSM without re-enrolling: the root key file's bytes become a
 * non-extractable HMAC key in the token, which then derives the same disk secrets. */
int cmd_import_root_key(int argc, char **argv)
{
	static const char usage[] =
		"usage: tdx-keyd import-root-key --key-file FILE --pkcs11 'pkcs11:token=...;"
		"object=...?module-path=...&pin-source=...'\n";
	const char *key_file = NULL, *uri = NULL;
	const struct cmd_option opts[] = {
		CMD_OPT("key-file", 'k', true, &key_file),
		CMD_OPT("pkcs11", 'p', true, &uri),
	};
	int r;

	r = cmd_options_parse(argc, argv, usage, opts, ARRAY_SIZE(opts), NULL, 0);
	if (r >= 0)
		return r;
	r = secmem_harden_process();
	if (r == 0)
		r = rootkey_import_pkcs11(key_file, uri);
	if (r < 0)
		return cmd_exit_code(r);
	fprintf(stderr,
		"imported %s into the token as a non-extractable HMAC key; set root_key_pkcs11 "
		"and keep the file offline (or destroy it)\n",
		key_file);
	return CMD_EXIT_OK;
}
