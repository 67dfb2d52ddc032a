/* tdx-unlock unenroll: remove the tdx-unlock token and its keyslot; other keyslots stay. */
#include <stdio.h>
#include <string.h>

#include <libcryptsetup.h>

#include "cleanup.h"
#include "cmd_dispatch.h"
#include "commands.h"
#include "log.h"
#include "luks_enroll.h"
#include "luks_header.h"

int cmd_unenroll(int argc, char **argv)
{
	_cleanup_(crypt_freep) struct crypt_device *cd = NULL;
	const char *device;
	int removed = 0, failed = 0, r;

	r = cmd_options_parse(argc, argv, "usage: tdx-unlock unenroll DEVICE\n", NULL, 0, &device,
			      1);
	if (r >= 0)
		return r;
	if (luks_device_open(device, &cd) < 0)
		return CMD_EXIT_USAGE;

	/* Works on broken tokens too: a token that does not parse is removed, its keyslot kept. */
	for (int t = 0; t < 32; t++) {
		const char *type = NULL, *json = NULL;
		char reason[LUKS_REASON_MAX];
		bool kept = false;
		struct luks_token tok;
		crypt_token_info ti = crypt_token_status(cd, t, &type);

		if (ti == CRYPT_TOKEN_INVALID)
			break;
		if (ti == CRYPT_TOKEN_INACTIVE || !type || strcmp(type, LUKS_TOKEN_TYPE) != 0)
			continue;
		if (crypt_token_json_get(cd, t, &json) < 0 ||
		    luks_token_parse(json, &tok, reason, sizeof(reason)) < 0) {
			log_warn("unenroll: token %d is malformed; removing it, keeping keyslots",
				 t);
			if (luks_enroll_remove(cd, t, NULL, &kept) < 0)
				failed++;
			else
				removed++;
			continue;
		}
		if (luks_enroll_remove(cd, t, &tok, &kept) < 0) {
			failed++;
			continue;
		}
		if (kept)
			printf("removed token %d from %s; kept keyslot %d: tdx-unlock did not "
			       "enroll "
			       "it\n",
			       t, device, tok.keyslot);
		else
			printf("removed token %d and keyslot %d from %s\n", t, tok.keyslot, device);
		removed++;
	}
	if (failed)
		return CMD_EXIT_FAILED;
	if (!removed) {
		log_error("unenroll: %s has no tdx-unlock token", device);
		return CMD_EXIT_FAILED;
	}
	return CMD_EXIT_OK;
}
