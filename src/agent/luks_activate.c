#include "luks_activate.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libcryptsetup.h>

#include "kdf.h"
#include "log.h"
#include "secmem.h"

int luks_default_name(const struct luks_header *h, char *name, size_t name_len)
{
	if ((size_t)snprintf(name, name_len, "luks-%s", h->uuid) >= name_len)
		return log_error_errno(-ENAMETOOLONG, "device name for %s too long", h->device);
	return 0;
}

int luks_passphrase_derive(const uint8_t *secret, size_t secret_len, const struct luks_token *tok,
			   const char *uuid, uint8_t **passphrase, size_t *passphrase_len)
{
	uint8_t *p;
	int r;

	if (!secret || secret_len == 0)
		return log_error_errno(-EINVAL, "passphrase: empty secret");
	p = secmem_alloc(KDF_PASSPHRASE_LEN);
	if (!p)
		return log_error_errno(-ENOMEM, "passphrase: no secure memory");
	r = kdf_luks_passphrase(secret, secret_len, tok->salt, sizeof(tok->salt), uuid,
				(unsigned)tok->keyslot, p);
	if (r < 0) {
		secmem_free(p);
		return log_error_errno(r, "passphrase: derivation failed");
	}
	*passphrase = p;
	*passphrase_len = KDF_PASSPHRASE_LEN;
	return 0;
}

int luks_unlock(const struct luks_header *h, const uint8_t *secret, size_t secret_len,
		const char *name, uint32_t flags)
{
	_cleanup_secmem_ uint8_t *pass = NULL;
	size_t pass_len = 0;
	int r;

	if (name && (!name[0] || strlen(name) > LUKS_NAME_MAX || strchr(name, '/')))
		return log_error_errno(-EINVAL, "%s: invalid device-mapper name", h->device);
	r = luks_header_pinned(h);
	if (r < 0)
		return r;
	r = luks_passphrase_derive(secret, secret_len, &h->token, h->uuid, &pass, &pass_len);
	if (r < 0)
		return r;
	/* Only our keyslot: the recovery keyslots are for the human at the prompt. */
	r = crypt_activate_by_passphrase(h->cd, name, h->token.keyslot, (const char *)pass,
					 pass_len, flags);
	if (r == -EEXIST)
		return log_error_errno(r, "%s: a device named %s is already active", h->device,
				       name ? name : "?");
	if (r == -EPERM)
		return log_error_errno(r, "%s: the released secret does not open keyslot %d",
				       h->device, h->token.keyslot);
	if (r < 0)
		return log_error_errno(r, "%s: activation as %s failed: %s", h->device,
				       name ? name : "(verification only)", strerror(-r));
	if (name)
		log_info("%s: unlocked as /dev/mapper/%s (keyslot %d)", h->device, name,
			 h->token.keyslot);
	else
		log_info("%s: keyslot %d opens with the derived passphrase", h->device,
			 h->token.keyslot);
	return 0;
}

int luks_open_passphrase(const struct luks_header *h, const char *passphrase, size_t len,
			 const char *name, uint32_t flags)
{
	int r;

	if (name && (!name[0] || strlen(name) > LUKS_NAME_MAX || strchr(name, '/')))
		return log_error_errno(-EINVAL, "%s: invalid device-mapper name", h->device);
	r = luks_header_pinned(h);
	if (r < 0)
		return r;
	/* Any keyslot of the validated copy: the human's recovery passphrase, on the bytes that
	 * were checked, and the data device pinned by its descriptor. */
	r = crypt_activate_by_passphrase(h->cd, name, CRYPT_ANY_SLOT, passphrase, len, flags);
	if (r == -EPERM)
		return log_error_errno(r, "%s: the passphrase opens no keyslot", h->device);
	if (r == -EEXIST)
		return log_error_errno(r, "%s: a device named %s is already active", h->device,
				       name ? name : "?");
	if (r < 0)
		return log_error_errno(r, "%s: activation as %s failed: %s", h->device,
				       name ? name : "(verification only)", strerror(-r));
	if (name)
		log_info(
			"%s: unlocked as /dev/mapper/%s with the passphrase (keyslot %d), from the "
			"validated header copy",
			h->device, name, r);
	else
		log_info("%s: the passphrase opens keyslot %d of the validated header copy",
			 h->device, r);
	return 0;
}
