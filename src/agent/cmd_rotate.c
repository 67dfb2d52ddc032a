/* tdx-unlock rotate: replace the tdx-unlock keyslot with one for a new secret and salt. The new
 * keyslot is added and proven first, the token is rewritten in one header write, and only then is
 * the old keyslot removed: a crash at any point leaves a disk that unlocks. */
#include <errno.h>
#include <stdio.h>

#include <libcryptsetup.h>

#include "cleanup.h"
#include "cmd_args.h"
#include "cmd_dispatch.h"
#include "commands.h"
#include "log.h"
#include "luks_activate.h"
#include "luks_enroll.h"
#include "luks_header.h"
#include "secmem.h"
#include "secret_input.h"

int cmd_rotate(int argc, char **argv)
{
	static const char usage[] =
		"usage: tdx-unlock rotate DEVICE --secret-file NEW [--resource REPO/TYPE/TAG] "
		"[--keyslot N] [--old-secret-file OLD | --key-file FILE]\n";
	const char *resource = NULL, *secret_file = NULL, *old_file = NULL, *key_file = NULL;
	const char *keyslot_arg = NULL, *device;
	const struct cmd_option opts[] = {
		CMD_OPT("secret-file", 0, true, &secret_file),
		CMD_OPT("old-secret-file", 0, false, &old_file),
		CMD_OPT("resource", 0, false, &resource),
		CMD_OPT("keyslot", 0, false, &keyslot_arg),
		CMD_OPT("key-file", 0, false, &key_file),
	};
	_cleanup_(cmd_new_key_done) struct cmd_new_key k = {.keyslot = -1};
	_cleanup_secmem_ uint8_t *old_secret = NULL;
	char reason[LUKS_REASON_MAX], uuid[LUKS_UUID_LEN + 1],
		resource_buf[LUKS_TOKEN_RESOURCE_MAX + 1];
	struct luks_token old, tok;
	size_t old_len = 0;
	int token_id = -1, new_id = -1, r;

	r = cmd_options_parse(argc, argv, usage, opts, ARRAY_SIZE(opts), &device, 1);
	if (r >= 0)
		return r;
	if (old_file && key_file) {
		fputs(usage, stderr);
		return CMD_EXIT_USAGE;
	}
	if (cmd_new_key_open("rotate", device, keyslot_arg, resource, secret_file, &k) < 0)
		return CMD_EXIT_USAGE;
	if (cmd_header_validate("rotate", k.cd, device, NULL, uuid, &token_id, &old) < 0)
		return CMD_EXIT_FAILED;
	if (k.keyslot == old.keyslot) {
		log_error("rotate: the new keyslot must differ from the current keyslot %d",
			  old.keyslot);
		return CMD_EXIT_USAGE;
	}
	snprintf(resource_buf, sizeof(resource_buf), "%s", resource ? resource : old.resource);

	/* Unlock the volume key with the current tdx-unlock secret, or a recovery passphrase. */
	if (old_file) {
		uint8_t *pass = NULL;
		size_t pass_len = 0;
		if (secret_file_read(old_file, CMD_SECRET_MAX, &old_secret, &old_len) < 0)
			return CMD_EXIT_USAGE;
		if (luks_passphrase_derive(old_secret, old_len, &old, uuid, &pass, &pass_len) < 0)
			return CMD_EXIT_FAILED;
		k.existing = (char *)pass;
		k.existing_len = pass_len;
	} else if (secret_passphrase_get(key_file, &k.existing, &k.existing_len) < 0) {
		return CMD_EXIT_USAGE;
	}

	r = cmd_new_key_enroll(&k, resource_buf, token_id, &tok, &new_id);
	if (r < 0)
		return CMD_EXIT_FAILED;
	/* Only a keyslot tdx-unlock enrolled: a token naming the recovery keyslot loses the token,
	 * never the keyslot. */
	if (luks_keyslot_enrolled_check(k.cd, old.keyslot, reason, sizeof(reason)) < 0) {
		printf("rotate: kept old keyslot %d: tdx-unlock did not enroll it (%s)\n",
		       old.keyslot, reason);
		r = 0;
	} else {
		r = luks_keyslot_remove(k.cd, old.keyslot);
	}
	if (r < 0) {
		log_error("rotate: old keyslot %d could not be removed; the disk unlocks with the "
			  "new one, remove the old keyslot by hand",
			  old.keyslot);
		return CMD_EXIT_FAILED;
	}
	if (cmd_header_validate("rotate", k.cd, device, "rotated header fails validation", uuid,
				&new_id, &tok) < 0)
		return CMD_EXIT_FAILED;
	printf("rotated %s: keyslot %d -> %d, token %d, resource %s\n", device, old.keyslot,
	       tok.keyslot, new_id, tok.resource);
	return CMD_EXIT_OK;
}
