/* tdx-unlock check-header: validate any LUKS2 header against the allow-list, tdx-unlock token or
 * not. The initramfs guard runs it before anything (a passphrase prompt included) may open a LUKS
 * device, so a host-written header (CVE-2025-59054) never reaches libcryptsetup's own open path.
 * Exit 0 only when the header is acceptable. */
#include <stdio.h>

#include "cleanup.h"
#include "cmd_args.h"
#include "cmd_dispatch.h"
#include "commands.h"
#include "log.h"
#include "luks_header.h"

int cmd_check_header(int argc, char **argv)
{
	static const char usage[] =
		"usage: tdx-unlock check-header DEVICE\n"
		"exit 0: the LUKS2 header passes the allow-list; 1: refused (reason on stdout); "
		"2: usage or device unreadable\n";
	_cleanup_(luks_header_freep) struct luks_header *h = NULL;
	const char *device;
	int r;

	r = cmd_options_parse(argc, argv, usage, NULL, 0, &device, 1);
	if (r >= 0)
		return r;

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
	return CMD_EXIT_OK;
}
