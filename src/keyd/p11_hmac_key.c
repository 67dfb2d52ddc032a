#include "p11_hmac_key.h"

#include <dlfcn.h>
#include <errno.h>
#include <p11-kit/pkcs11.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "log.h"
#include "secmem.h"

#define P11_MAX_SLOTS 64

struct p11_hmac_key {
	void *dl;
	CK_FUNCTION_LIST_PTR f;
	bool finalize; /* we initialised the module */
	CK_SESSION_HANDLE session;
	bool have_session;
	CK_OBJECT_HANDLE key;
	pthread_mutex_t lock;
};

/* Compares a blank-padded token info field with a URI attribute (NULL matches anything). */
static bool field_matches(const unsigned char *field, size_t size, const char *want)
{
	size_t n = size;

	if (!want)
		return true;
	while (n > 0 && field[n - 1] == ' ')
		n--;
	return strlen(want) == n && memcmp(field, want, n) == 0;
}

static void module_unload(struct p11_hmac_key *k)
{
	if (k->have_session)
		k->f->C_CloseSession(k->session);
	if (k->finalize)
		k->f->C_Finalize(NULL);
	if (k->dl)
		dlclose(k->dl);
}

void p11_hmac_key_close(struct p11_hmac_key *k)
{
	if (!k)
		return;
	module_unload(k);
	pthread_mutex_destroy(&k->lock);
	free(k);
}

static int module_load(const struct pkcs11_uri *u, struct p11_hmac_key *k)
{
	CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
	CK_C_GetFunctionList get;
	CK_RV rv;

	k->dl = dlopen(u->module_path, RTLD_NOW | RTLD_LOCAL);
	if (!k->dl)
		return log_error_errno(-ENOENT, "pkcs11: cannot load module %s: %s", u->module_path,
				       dlerror());
	get = (CK_C_GetFunctionList)dlsym(k->dl, "C_GetFunctionList");
	if (!get || get(&k->f) != CKR_OK || !k->f)
		return log_error_errno(-ENOTSUP, "pkcs11: %s is not a PKCS#11 module",
				       u->module_path);
	rv = k->f->C_Initialize(&args);
	if (rv == CKR_OK)
		k->finalize = true;
	else if (rv != CKR_CRYPTOKI_ALREADY_INITIALIZED)
		return log_error_errno(-EIO, "pkcs11: C_Initialize of %s failed: 0x%lx",
				       u->module_path, (unsigned long)rv);
	return 0;
}

/* The one slot whose token matches the URI's token attributes. */
static int find_slot(const struct pkcs11_uri *u, struct p11_hmac_key *k, CK_SLOT_ID *slot,
		     CK_FLAGS *token_flags)
{
	CK_SLOT_ID slots[P11_MAX_SLOTS];
	CK_ULONG n = P11_MAX_SLOTS;
	unsigned found = 0;
	CK_RV rv;

	if (!k->f)
		return -EINVAL;
	rv = k->f->C_GetSlotList(CK_TRUE, slots, &n);
	if (rv != CKR_OK)
		return log_error_errno(-EIO, "pkcs11: C_GetSlotList failed: 0x%lx",
				       (unsigned long)rv);
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;

		if (k->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		if (!field_matches(ti.label, sizeof(ti.label), u->token) ||
		    !field_matches(ti.manufacturerID, sizeof(ti.manufacturerID), u->manufacturer) ||
		    !field_matches(ti.serialNumber, sizeof(ti.serialNumber), u->serial) ||
		    !field_matches(ti.model, sizeof(ti.model), u->model))
			continue;
		*slot = slots[i];
		*token_flags = ti.flags;
		found++;
	}
	if (found == 0)
		return log_error_errno(-ENOENT, "pkcs11: no token matches the URI (token %s)",
				       u->token ? u->token : "(any)");
	if (found > 1)
		return log_error_errno(-ENOTUNIQ,
				       "pkcs11: %u tokens match the URI; name one with token= or "
				       "serial=",
				       found);
	return 0;
}

static int session_open(const struct pkcs11_uri *u, struct p11_hmac_key *k, bool rw)
{
	_cleanup_secmem_ char *pin = NULL;
	CK_SLOT_ID slot = 0;
	CK_FLAGS tflags = 0;
	CK_RV rv;
	int r;

	r = find_slot(u, k, &slot, &tflags);
	if (r < 0)
		return r;
	rv = k->f->C_OpenSession(slot, CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0), NULL, NULL,
				 &k->session);
	if (rv != CKR_OK)
		return log_error_errno(-EIO, "pkcs11: C_OpenSession failed: 0x%lx",
				       (unsigned long)rv);
	k->have_session = true;
	r = pkcs11_uri_pin(u, &pin);
	if (r < 0)
		return r;
	if (!pin) {
		if (tflags & CKF_LOGIN_REQUIRED)
			return log_error_errno(-EACCES,
					       "pkcs11: the token needs a PIN: add pin-source= "
					       "to the URI");
		return 0;
	}
	rv = k->f->C_Login(k->session, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
		return log_error_errno(-EACCES, "pkcs11: login to the token failed: %s (0x%lx)",
				       rv == CKR_PIN_INCORRECT ? "wrong PIN" : "refused",
				       (unsigned long)rv);
	return 0;
}

/* Handles of secret keys with the URI's label (and id); *n is in/out. */
static int find_keys(const struct pkcs11_uri *u, struct p11_hmac_key *k, CK_OBJECT_HANDLE *h,
		     CK_ULONG *n)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE tmpl[3] = {
		{CKA_CLASS, &cls, sizeof(cls)},
		{CKA_LABEL, u->object, strlen(u->object)},
		{CKA_ID, u->id, u->id_len},
	};
	CK_ULONG max = *n;
	CK_RV rv;

	rv = k->f->C_FindObjectsInit(k->session, tmpl, u->id ? 3 : 2);
	if (rv != CKR_OK)
		return log_error_errno(-EIO, "pkcs11: C_FindObjectsInit failed: 0x%lx",
				       (unsigned long)rv);
	rv = k->f->C_FindObjects(k->session, h, max, n);
	k->f->C_FindObjectsFinal(k->session);
	if (rv != CKR_OK)
		return log_error_errno(-EIO, "pkcs11: C_FindObjects failed: 0x%lx",
				       (unsigned long)rv);
	return 0;
}

static int key_check(const struct pkcs11_uri *u, struct p11_hmac_key *k)
{
	CK_KEY_TYPE type = 0;
	CK_BBOOL sign = CK_FALSE, sensitive = CK_FALSE, extractable = CK_TRUE;
	CK_ATTRIBUTE a[4] = {
		{CKA_KEY_TYPE, &type, sizeof(type)},
		{CKA_SIGN, &sign, sizeof(sign)},
		{CKA_SENSITIVE, &sensitive, sizeof(sensitive)},
		{CKA_EXTRACTABLE, &extractable, sizeof(extractable)},
	};
	CK_RV rv;

	rv = k->f->C_GetAttributeValue(k->session, k->key, a, 4);
	if (rv != CKR_OK)
		return log_error_errno(-EIO, "pkcs11: cannot read the attributes of key %s: 0x%lx",
				       u->object, (unsigned long)rv);
	if (type != CKK_GENERIC_SECRET)
		return log_error_errno(
			-EINVAL, "pkcs11: key %s is not a generic secret (CKK_GENERIC_SECRET)",
			u->object);
	if (!sign)
		return log_error_errno(-EINVAL, "pkcs11: key %s is not allowed to sign (CKA_SIGN)",
				       u->object);
	if (!sensitive || extractable)
		return log_error_errno(-EPERM,
				       "pkcs11: key %s can leave the token (it must be "
				       "CKA_SENSITIVE and not CKA_EXTRACTABLE)",
				       u->object);
	return 0;
}

int p11_hmac_key_open(const struct pkcs11_uri *u, struct p11_hmac_key **out)
{
	struct p11_hmac_key *k = calloc(1, sizeof(*k));
	CK_OBJECT_HANDLE h[2] = {0};
	CK_ULONG n = 2;
	int r;

	if (!k)
		return -ENOMEM;
	pthread_mutex_init(&k->lock, NULL);
	r = module_load(u, k);
	if (r == 0)
		r = session_open(u, k, false);
	if (r == 0)
		r = find_keys(u, k, h, &n);
	if (r == 0 && n != 1)
		r = log_error_errno(n == 0 ? -ENOENT : -ENOTUNIQ,
				    "pkcs11: %s secret key labelled %s in the token",
				    n == 0 ? "no" : "more than one", u->object);
	if (r == 0) {
		k->key = h[0];
		r = key_check(u, k);
	}
	if (r < 0) {
		p11_hmac_key_close(k);
		return r;
	}
	*out = k;
	return 0;
}

int p11_hmac_key_sign(struct p11_hmac_key *k, const void *msg, size_t len, uint8_t out[32])
{
	CK_MECHANISM mech = {CKM_SHA256_HMAC, NULL, 0};
	CK_ULONG outl = 32;
	CK_RV rv;

	pthread_mutex_lock(&k->lock);
	rv = k->f->C_SignInit(k->session, &mech, k->key);
	if (rv == CKR_OK)
		rv = k->f->C_Sign(k->session, (CK_BYTE_PTR)msg, len, out, &outl);
	pthread_mutex_unlock(&k->lock);
	if (rv != CKR_OK || outl != 32) {
		secmem_wipe(out, 32);
		return log_error_errno(-EIO, "pkcs11: CKM_SHA256_HMAC in the token failed: 0x%lx",
				       (unsigned long)rv);
	}
	return 0;
}

int p11_hmac_key_import(const struct pkcs11_uri *u, const uint8_t *key, size_t len)
{
	struct p11_hmac_key k = {0};
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_GENERIC_SECRET;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE tmpl[] = {
		{CKA_CLASS, &cls, sizeof(cls)},	    {CKA_KEY_TYPE, &type, sizeof(type)},
		{CKA_TOKEN, &yes, sizeof(yes)},	    {CKA_PRIVATE, &yes, sizeof(yes)},
		{CKA_SENSITIVE, &yes, sizeof(yes)}, {CKA_EXTRACTABLE, &no, sizeof(no)},
		{CKA_SIGN, &yes, sizeof(yes)},	    {CKA_VERIFY, &yes, sizeof(yes)},
		{CKA_ENCRYPT, &no, sizeof(no)},	    {CKA_DECRYPT, &no, sizeof(no)},
		{CKA_WRAP, &no, sizeof(no)},	    {CKA_UNWRAP, &no, sizeof(no)},
		{CKA_DERIVE, &no, sizeof(no)},	    {CKA_LABEL, u->object, strlen(u->object)},
		{CKA_VALUE, (void *)key, len},	    {CKA_ID, u->id, u->id_len},
	};
	CK_OBJECT_HANDLE h[1];
	CK_ULONG n = 1, nattr = ARRAY_SIZE(tmpl) - (u->id ? 0 : 1);
	CK_RV rv;
	int r;

	r = module_load(u, &k);
	if (r == 0)
		r = session_open(u, &k, true);
	if (r == 0)
		r = find_keys(u, &k, h, &n);
	if (r == 0 && n > 0)
		r = log_error_errno(-EEXIST, "pkcs11: the token already holds a key labelled %s",
				    u->object);
	if (r == 0) {
		rv = k.f->C_CreateObject(k.session, tmpl, nattr, &h[0]);
		if (rv != CKR_OK)
			r = log_error_errno(-EIO, "pkcs11: C_CreateObject failed: 0x%lx",
					    (unsigned long)rv);
	}
	module_unload(&k);
	return r;
}
