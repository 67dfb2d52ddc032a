/* tdx-unlock check-header: validate any LUKS2 header against the allow-list, tdx-unlock token or
 * not. The initramfs guard runs it before anything (a passphrase prompt included) may open a LUKS
 * device, so a host-written header (CVE-2025-59054) never reaches libcryptsetup's own open path.
 * Exit 0 only when the header is acceptable. */
#include <getopt.h>
#include <stdio.h>

#include "cleanup.h"
#include "cmd_args.h"
#include "commands.h"
#include "log.h"
#include "luks_header.h"

static void check_header_usage(FILE *f)
{
	fprintf(f, "usage: tdx-unlock check-header DEVICE\n"
		   "exit 0: the LUKS2 header passes the allow-list; 1: refused (reason on stdout); "
		   "2: usage or device unreadable\n");
}

int cmd_check_header(int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	_cleanup_(luks_header_freep) struct luks_header *h = NULL;
	const char *device;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			check_header_usage(stdout);
			return 0;
		default:
			check_header_usage(stderr);
			return 2;
		}
	}
	if (optind + 1 != argc) {
		check_header_usage(stderr);
		return 2;
	}
	device = argv[optind];

	/* The same sealed copy and validation as unlock; only the token is optional here. */
	r = cmd_header_load(device, true, &h);
	if (r != 0)
		return r;
	if (h->token_id >= 0)
		printf("%s: ok: LUKS2 header %s acceptable (tdx-unlock token %d, keyslot %d)\n",
		       device, h->uuid, h->token_id, h->token.keyslot);
	else
		printf("%s: ok: LUKS2 header %s acceptable (no tdx-unlock token)\n", device,
		       h->uuid);
	return 0;
}
