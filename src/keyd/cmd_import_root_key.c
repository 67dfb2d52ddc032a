#include <getopt.h>
#include <stdio.h>

#include "commands.h"
#include "log.h"
#include "rootkey.h"
#include "secmem.h"

/* Moves a fleet to an HSM without re-enrolling: the root key file's bytes become a
 * non-extractable HMAC key in the token, which then derives the same disk secrets. */
int cmd_import_root_key(int argc, char **argv)
{
	static const struct option opts[] = {{"key-file", required_argument, NULL, 'k'},
					     {"pkcs11", required_argument, NULL, 'p'},
					     {"help", no_argument, NULL, 'h'},
					     {}};
	static const char usage[] =
		"usage: tdx-keyd import-root-key --key-file FILE --pkcs11 'pkcs11:token=...;"
		"object=...?module-path=...&pin-source=...'\n";
	const char *key_file = NULL, *uri = NULL;
	int c, r;

	while ((c = getopt_long(argc, argv, "k:p:h", opts, NULL)) >= 0) {
		switch (c) {
		case 'k':
			key_file = optarg;
			break;
		case 'p':
			uri = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return 2;
		}
	}
	if (!key_file || !uri || optind != argc) {
		fputs(usage, stderr);
		return 2;
	}
	if (secmem_harden_process() < 0)
		return 1;
	r = rootkey_import_pkcs11(key_file, uri);
	if (r < 0)
		return 1;
	fprintf(stderr,
		"imported %s into the token as a non-extractable HMAC key; set root_key_pkcs11 "
		"and keep the file offline (or destroy it)\n",
		key_file);
	return 0;
}
