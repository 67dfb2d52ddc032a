/* tdx-unlock enroll: add the tdx-unlock keyslot and token to a LUKS2 device or image. */
#include <errno.h>
#include <stdio.h>

#include <libcryptsetup.h>

#include "cleanup.h"
#include "cmd_args.h"
#include "cmd_dispatch.h"
#include "commands.h"
#include "log.h"
#include "luks_enroll.h"
#include "luks_header.h"
#include "secmem.h"
#include "secret_input.h"

int cmd_enroll(int argc, char **argv)
{
	static const char usage[] =
		"usage: tdx-unlock enroll DEVICE --resource REPO/TYPE/TAG --secret-file FILE "
		"[--keyslot N] [--key-file FILE]\n";
	const char *resource = NULL, *secret_file = NULL, *key_file = NULL, *keyslot_arg = NULL;
	const char *device;
	const struct cmd_option opts[] = {
		CMD_OPT("resource", 0, true, &resource),
		CMD_OPT("secret-file", 0, true, &secret_file),
		CMD_OPT("keyslot", 0, false, &keyslot_arg),
		CMD_OPT("key-file", 0, false, &key_file),
	};
	_cleanup_(cmd_new_key_done) struct cmd_new_key k = {.keyslot = -1};
	char reason[LUKS_REASON_MAX], uuid[LUKS_UUID_LEN + 1];
	struct luks_token tok;
	int token_id = -1, r;

	r = cmd_options_parse(argc, argv, usage, opts, ARRAY_SIZE(opts), &device, 1);
	if (r >= 0)
		return r;
	if (cmd_new_key_open("enroll", device, keyslot_arg, resource, secret_file, &k) < 0)
		return CMD_EXIT_USAGE;

	/* Enrolling a disk the unlock path would refuse helps nobody: same allow-list first. */
	r = luks_header_validate(k.cd, LUKS_TOKEN_ABSENT, uuid, &token_id, &tok, reason,
				 sizeof(reason));
	if (r == -EEXIST) {
		log_error("enroll: %s is already enrolled (token %d); use rotate or unenroll",
			  device, token_id);
		return CMD_EXIT_FAILED;
	}
	if (r < 0) {
		log_error("enroll: %s: header refused: %s", device, reason);
		return CMD_EXIT_FAILED;
	}

	if (secret_passphrase_get(key_file, &k.existing, &k.existing_len) < 0)
		return CMD_EXIT_USAGE;
	r = cmd_new_key_enroll(&k, resource, -1, &tok, &token_id);
	if (r < 0)
		return CMD_EXIT_FAILED;

	/* What we wrote must pass exactly the check the unlock path runs. */
	if (cmd_header_validate("enroll", k.cd, device, "enrolled header fails validation", uuid,
				&token_id, &tok) < 0)
		return CMD_EXIT_FAILED;
	printf("enrolled %s: uuid %s, keyslot %d, token %d, resource %s\n", device, uuid,
	       tok.keyslot, token_id, tok.resource);
	return CMD_EXIT_OK;
}
