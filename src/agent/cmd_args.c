/* What the disk-side admin commands share. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <libcryptsetup.h>

#include "cleanup.h"
#include "cmd_args.h"
#include "cmd_dispatch.h"
#include "log.h"
#include "luks_enroll.h"
#include "luks_header.h"
#include "luks_token.h"
#include "secmem.h"
#include "secret_input.h"

int cmd_keyslot_parse(const char *cmd, const char *arg, int *keyslot)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (!*arg || *end || v < 0 || v > 31)
		return log_error_errno(-EINVAL, "%s: --keyslot '%s' is not a keyslot number 0..31",
				       cmd, arg);
	*keyslot = (int)v;
	return 0;
}

int cmd_new_secret_read(const char *cmd, const char *path, uint8_t **out, size_t *len)
{
	uint8_t *secret = NULL;
	size_t n = 0;
	int r;

	r = secret_file_read(path, CMD_SECRET_MAX, &secret, &n);
	if (r < 0)
		return r;
	if (n < CMD_SECRET_MIN) {
		secmem_free(secret);
		return log_error_errno(-EINVAL, "%s: %s: a secret must have at least %d bytes", cmd,
				       path, CMD_SECRET_MIN);
	}
	*out = secret;
	*len = n;
	return 0;
}

int cmd_new_key_open(const char *cmd, const char *device, const char *keyslot_arg,
		     const char *resource, const char *secret_file, struct cmd_new_key *k)
{
	int r;

	*k = (struct cmd_new_key){.keyslot = -1};
	if (keyslot_arg && (r = cmd_keyslot_parse(cmd, keyslot_arg, &k->keyslot)) < 0)
		return r;
	if (resource && luks_resource_path_check(resource) < 0)
		return log_error_errno(-EINVAL, "%s: --resource '%s' is not a repo/type/tag path",
				       cmd, resource);
	r = cmd_new_secret_read(cmd, secret_file, &k->secret, &k->secret_len);
	if (r < 0)
		return r;
	return luks_device_open(device, &k->cd);
}

int cmd_new_key_enroll(struct cmd_new_key *k, const char *resource, int token_id,
		       struct luks_token *out, int *out_token_id)
{
	int r = luks_enroll_add(k->cd, k->keyslot, k->existing, k->existing_len, k->secret,
				k->secret_len, resource, token_id, out, out_token_id);

	secmem_free(TAKE_PTR(k->existing));
	secmem_free(TAKE_PTR(k->secret));
	return r;
}

void cmd_new_key_done(struct cmd_new_key *k)
{
	if (k->cd)
		crypt_free(k->cd);
	secmem_free(k->existing);
	secmem_free(k->secret);
	*k = (struct cmd_new_key){.keyslot = -1};
}

int cmd_header_validate(const char *cmd, struct crypt_device *cd, const char *device,
			const char *what, char *uuid, int *token_id, struct luks_token *token)
{
	char reason[LUKS_REASON_MAX];
	int r;

	r = luks_header_validate(cd, LUKS_TOKEN_REQUIRED, uuid, token_id, token, reason,
				 sizeof(reason));
	if (r < 0)
		log_error("%s: %s: %s%s%s", cmd, device, what ? what : "", what ? ": " : "",
			  reason);
	return r;
}

int cmd_header_load(const char *device, bool token_optional, struct luks_header **out)
{
	char reason[LUKS_REASON_MAX];
	int r;

	if (token_optional)
		r = luks_header_load_any(device, out, reason, sizeof(reason));
	else
		r = luks_header_load(device, out, reason, sizeof(reason));
	if (r == -ENODEV)
		printf("%s: cannot be opened\n", device);
	else if (r < 0)
		printf("%s: refused: %s\n", device,
		       reason[0] ? reason : "header could not be read");
	return cmd_exit_code(r);
}
