/* tdx-unlock check: run the unlock path's header and token validation on a device and say what
 * it found or exactly why unlock would refuse. Exit 0 only when unlock would proceed. */
#include <stdio.h>

#include <libcryptsetup.h>

#include "cleanup.h"
#include "cmd_args.h"
#include "cmd_dispatch.h"
#include "commands.h"
#include "log.h"
#include "luks_activate.h"
#include "luks_header.h"
#include "secmem.h"
#include "secret_input.h"

int cmd_check(int argc, char **argv)
{
	static const char usage[] = "usage: tdx-unlock check DEVICE [--secret-file FILE]\n";
	const char *secret_file = NULL, *device;
	const struct cmd_option opts[] = {
		CMD_OPT("secret-file", 0, false, &secret_file),
	};
	_cleanup_(luks_header_freep) struct luks_header *h = NULL;
	_cleanup_secmem_ uint8_t *secret = NULL;
	char name[LUKS_NAME_MAX + 1];
	struct crypt_pbkdf_type pbkdf;
	size_t secret_len = 0;
	int r;

	r = cmd_options_parse(argc, argv, usage, opts, ARRAY_SIZE(opts), &device, 1);
	if (r >= 0)
		return r;

	r = cmd_header_load(device, false, &h);
	if (r != 0)
		return r;

	printf("device %s\nuuid %s\n", device, h->uuid);
	printf("cipher %s-%s, %d-bit key, %d-byte sectors, data offset %llu bytes\n",
	       crypt_get_cipher(h->cd), crypt_get_cipher_mode(h->cd),
	       crypt_get_volume_key_size(h->cd) * 8, crypt_get_sector_size(h->cd),
	       (unsigned long long)crypt_get_data_offset(h->cd) * 512ULL);
	if (crypt_keyslot_get_pbkdf(h->cd, h->token.keyslot, &pbkdf) == 0)
		printf("token %d: keyslot %d (%s-%s, %u iterations), resource %s\n", h->token_id,
		       h->token.keyslot, pbkdf.type, pbkdf.hash, pbkdf.iterations,
		       h->token.resource);
	if (luks_default_name(h, name, sizeof(name)) == 0)
		printf("name %s\n", name);

	if (secret_file) {
		if (secret_file_read(secret_file, CMD_SECRET_MAX, &secret, &secret_len) < 0)
			return CMD_EXIT_USAGE;
		r = luks_unlock(h, secret, secret_len, NULL, 0);
		if (r < 0) {
			printf("%s: refused: the secret does not open keyslot %d\n", device,
			       h->token.keyslot);
			return CMD_EXIT_FAILED;
		}
		printf("passphrase: keyslot %d opens with the derived passphrase\n",
		       h->token.keyslot);
	}
	printf("ok: unlock would proceed\n");
	return CMD_EXIT_OK;
}
