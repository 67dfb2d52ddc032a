/* tdx-unlock list: show a device's keyslots and its tdx-unlock token(s), read from a raw copy of
 * its header (the device is never written). */
#include <stdio.h>
#include <string.h>

#include <libcryptsetup.h>

#include "b64.h"
#include "cleanup.h"
#include "cmd_dispatch.h"
#include "commands.h"
#include "log.h"
#include "luks_enroll.h"
#include "luks_header.h"

static const char *keyslot_state(crypt_keyslot_info st)
{
	switch (st) {
	case CRYPT_SLOT_ACTIVE:
	case CRYPT_SLOT_ACTIVE_LAST:
		return "active";
	case CRYPT_SLOT_UNBOUND:
		return "unbound";
	default:
		return "invalid";
	}
}

int cmd_list(int argc, char **argv)
{
	_cleanup_(luks_header_freep) struct luks_header *h = NULL;
	char why[LUKS_REASON_MAX] = "";
	struct crypt_device *cd;
	const char *device;
	int found = 0, r;

	r = cmd_options_parse(argc, argv, "usage: tdx-unlock list DEVICE\n", NULL, 0, &device, 1);
	if (r >= 0)
		return r;
	/* Read only: libcryptsetup loads the raw header copy, never the device. */
	r = luks_header_load_unchecked(device, &h, why, sizeof(why));
	if (r < 0) {
		if (why[0])
			log_error("%s", why);
		return CMD_EXIT_USAGE;
	}
	cd = h->cd;

	printf("device %s\nuuid %s\n", device, crypt_get_uuid(cd) ? crypt_get_uuid(cd) : "-");
	for (int k = 0; k < crypt_keyslot_max(CRYPT_LUKS2); k++) {
		struct crypt_pbkdf_type pbkdf;
		crypt_keyslot_info st = crypt_keyslot_status(cd, k);

		if (st == CRYPT_SLOT_INACTIVE || st == CRYPT_SLOT_INVALID)
			continue;
		if (crypt_keyslot_get_pbkdf(cd, k, &pbkdf) == 0)
			printf("keyslot %d: %s, %s\n", k, keyslot_state(st), pbkdf.type);
		else
			printf("keyslot %d: %s\n", k, keyslot_state(st));
	}
	for (int t = 0; t < 32; t++) {
		const char *type = NULL, *json = NULL;
		char reason[LUKS_REASON_MAX] = "unreadable", salt[64];
		struct luks_token tok;
		crypt_token_info ti = crypt_token_status(cd, t, &type);

		if (ti == CRYPT_TOKEN_INVALID)
			break;
		if (ti == CRYPT_TOKEN_INACTIVE || !type)
			continue;
		if (strcmp(type, LUKS_TOKEN_TYPE) != 0) {
			char name[64];

			snprintf(name, sizeof(name), "%s", type);
			printf("token %d: %s (not tdx-unlock)\n", t, luks_text_printable(name));
			continue;
		}
		found++;
		if (crypt_token_json_get(cd, t, &json) < 0 ||
		    luks_token_parse(json, &tok, reason, sizeof(reason)) < 0) {
			printf("token %d: tdx-unlock, MALFORMED: %s\n", t, reason);
			continue;
		}
		(void)b64_encode_to(B64_STD, tok.salt, sizeof(tok.salt), salt, sizeof(salt));
		printf("token %d: tdx-unlock v%u, keyslot %d, resource %s, salt %s\n", t,
		       tok.version, tok.keyslot, tok.resource, salt);
	}
	if (!found)
		printf("no tdx-unlock token\n");
	return CMD_EXIT_OK;
}
