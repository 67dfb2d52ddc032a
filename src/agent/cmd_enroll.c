/* tdx-unlock enroll: add the tdx-unlock keyslot and token to a LUKS2 device or image. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>

#include <libcryptsetup.h>

#include "cleanup.h"
#include "cmd_args.h"
#include "commands.h"
#include "log.h"
#include "luks_enroll.h"
#include "luks_header.h"
#include "secmem.h"
#include "secret_input.h"

static void enroll_usage(FILE *f)
{
	fprintf(f, "usage: tdx-unlock enroll DEVICE --resource REPO/TYPE/TAG --secret-file FILE "
		   "[--keyslot N] [--key-file FILE]\n");
}

int cmd_enroll(int argc, char **argv)
{
	static const struct option opts[] = {
		{"resource", required_argument, NULL, 'r'},
		{"secret-file", required_argument, NULL, 's'},
		{"keyslot", required_argument, NULL, 'k'},
		{"key-file", required_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	_cleanup_(crypt_freep) struct crypt_device *cd = NULL;
	_cleanup_secmem_ uint8_t *secret = NULL;
	_cleanup_secmem_ char *existing = NULL;
	const char *resource = NULL, *secret_file = NULL, *key_file = NULL, *device;
	char reason[LUKS_REASON_MAX], uuid[LUKS_UUID_LEN + 1];
	struct luks_token tok;
	size_t secret_len = 0, existing_len = 0;
	int keyslot = -1, token_id = -1, c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			resource = optarg;
			break;
		case 's':
			secret_file = optarg;
			break;
		case 'f':
			key_file = optarg;
			break;
		case 'k':
			if (cmd_keyslot_parse("enroll", optarg, &keyslot) < 0)
				return 2;
			break;
		case 'h':
			enroll_usage(stdout);
			return 0;
		default:
			enroll_usage(stderr);
			return 2;
		}
	}
	if (optind + 1 != argc || !resource || !secret_file) {
		enroll_usage(stderr);
		return 2;
	}
	device = argv[optind];
	if (luks_resource_path_check(resource) < 0) {
		log_error("enroll: --resource '%s' is not a repo/type/tag path", resource);
		return 2;
	}

	if (cmd_new_secret_read("enroll", secret_file, &secret, &secret_len) < 0)
		return 2;
	if (luks_device_open(device, &cd) < 0)
		return 2;

	/* Enrolling a disk the unlock path would refuse helps nobody: same allow-list first. */
	r = luks_header_validate(cd, LUKS_TOKEN_ABSENT, uuid, &token_id, &tok, reason,
				 sizeof(reason));
	if (r == -EEXIST) {
		log_error("enroll: %s is already enrolled (token %d); use rotate or unenroll",
			  device, token_id);
		return 1;
	}
	if (r < 0) {
		log_error("enroll: %s: header refused: %s", device, reason);
		return 1;
	}

	if (secret_passphrase_get(key_file, &existing, &existing_len) < 0)
		return 2;
	r = luks_enroll_add(cd, keyslot, existing, existing_len, secret, secret_len, resource, -1,
			    &tok, &token_id);
	secmem_free(TAKE_PTR(existing));
	secmem_free(TAKE_PTR(secret));
	if (r < 0)
		return 1;

	/* What we wrote must pass exactly the check the unlock path runs. */
	r = luks_header_validate(cd, LUKS_TOKEN_REQUIRED, uuid, &token_id, &tok, reason,
				 sizeof(reason));
	if (r < 0) {
		log_error("enroll: %s: enrolled header fails validation: %s", device, reason);
		return 1;
	}
	printf("enrolled %s: uuid %s, keyslot %d, token %d, resource %s\n", device, uuid,
	       tok.keyslot, token_id, tok.resource);
	return 0;
}
