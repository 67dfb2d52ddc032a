#include "jwe.h"

#include "b64.h"
#include "cleanup.h"
#include "json_build.h"
#include "json_strict.h"
#include "jwk.h"
#include "kdf.h"
#include "log.h"
#include "secmem.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <string.h>

#define JWE_ALG	       "ECDH-ES+A256KW"
#define JWE_ENC	       "A256GCM"
#define JWE_KEK_LEN    32
#define JWE_Z_LEN      32 /* P-256 shared secret: the x coordinate */
#define JWE_HEADER_MAX 1024

DEFINE_CLEANUP_FUNC(EVP_PKEY_CTX, EVP_PKEY_CTX_free)
DEFINE_CLEANUP_FUNC(EVP_CIPHER_CTX, EVP_CIPHER_CTX_free)
/* The intermediate secrets of one JWE operation, in one secure allocation (each secmem_alloc()
 * is a locked mapping of its own: one instead of three keeps the syscalls down). */
struct jwe_secrets {
	uint8_t z[JWE_Z_LEN];
	uint8_t kek[JWE_KEK_LEN];
	uint8_t cek[JWE_CEK_LEN];
};

/* Z = ECDH(priv, peer). The peer was checked when it was parsed (jwk_to_public_key(): on the
 * curve, not infinity; P-256 has cofactor 1), so OpenSSL's costly full re-check is skipped. */
static int ecdh_shared_secret(EVP_PKEY *priv, EVP_PKEY *peer, uint8_t z[JWE_Z_LEN])
{
	_cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = NULL;
	size_t zlen = JWE_Z_LEN;

	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
	if (!ctx || EVP_PKEY_derive_init(ctx) <= 0 ||
	    EVP_PKEY_derive_set_peer_ex(ctx, peer, 0) <= 0 || EVP_PKEY_derive(ctx, z, &zlen) <= 0 ||
	    zlen != JWE_Z_LEN) {
		ERR_clear_error();
		return log_error_errno(-EINVAL, "JWE: ECDH key agreement failed");
	}
	return 0;
}

/* KEK = Concat KDF (NIST SP 800-56A, OpenSSL's SSKDF) over SHA-256 with the JWA OtherInfo for
 * "ECDH-ES+A256KW": AlgorithmID, empty PartyUInfo and PartyVInfo, SuppPubInfo = 256 bits. */
static int concat_kdf(const uint8_t *z, uint8_t kek[JWE_KEK_LEN])
{
	static const uint8_t other_info[] = {
		0,   0,	  0,   14,  'E', 'C', 'D', 'H', '-', 'E', 'S',
		'+', 'A', '2', '5', '6', 'K', 'W', 0,	0,   0,	  0, /* PartyUInfo */
		0,   0,	  0,   0,				     /* PartyVInfo */
		0,   0,	  1,   0,				     /* keydatalen = 256 */
	};
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)z, JWE_Z_LEN),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)other_info,
						  sizeof(other_info)),
		OSSL_PARAM_construct_end(),
	};

	if (kdf_evp_derive("SSKDF", params, kek, JWE_KEK_LEN) < 0)
		return log_error_errno(-EIO, "JWE: Concat KDF failed");
	return 0;
}

/* AES-256 key wrap (RFC 3394) of the CEK under the KEK, or unwrap when !wrap. */
static int aes_key_wrap(int wrap, const uint8_t kek[JWE_KEK_LEN], const uint8_t *in, size_t in_len,
			uint8_t *out, size_t want_len)
{
	_cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *ctx = NULL;
	int n = 0, m = 0;

	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return log_error_errno(-ENOMEM, "JWE: out of memory");
	EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (EVP_CipherInit_ex(ctx, EVP_aes_256_wrap(), NULL, kek, NULL, wrap) <= 0 ||
	    EVP_CipherUpdate(ctx, out, &n, in, (int)in_len) <= 0 ||
	    EVP_CipherFinal_ex(ctx, out + n, &m) <= 0 || (size_t)n + (size_t)m != want_len) {
		ERR_clear_error();
		if (wrap)
			return log_error_errno(-EIO, "JWE: AES key wrap failed");
		return -EBADMSG;
	}
	return 0;
}

/* AES-256-GCM under the CEK and IV with the encoded protected header as AAD (RFC 7516 §5.1
 * step 14), to encrypt (enc 1) or decrypt (enc 0). */
static bool gcm_begin(EVP_CIPHER_CTX *gcm, int enc, const uint8_t *cek, const uint8_t *iv,
		      const char *protected)
{
	int n;

	return EVP_CipherInit_ex(gcm, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) > 0 &&
	       EVP_CIPHER_CTX_ctrl(gcm, EVP_CTRL_GCM_SET_IVLEN, JWE_IV_LEN, NULL) > 0 &&
	       EVP_CipherInit_ex(gcm, NULL, NULL, cek, iv, enc) > 0 &&
	       EVP_CipherUpdate(gcm, NULL, &n, (const uint8_t *)protected, (int)strlen(protected)) >
		       0;
}

static int add_b64url(struct json_object *o, const char *key, const uint8_t *data, size_t len)
{
	_cleanup_free_ char *s = b64_encode(B64_URL, data, len);

	if (!s)
		return -ENOMEM;
	return json_add_string(o, key, s);
}

/* sec->cek holds the CEK; sec->z and sec->kek are filled here. */
static int encrypt_with(EVP_PKEY *recipient, EVP_PKEY *ephemeral, struct jwe_secrets *sec,
			const uint8_t *iv, const uint8_t *pt, size_t pt_len, char **out,
			size_t *out_len)
{
	_cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *check = NULL;
	_cleanup_(json_object_putp) struct json_object *header = NULL;
	_cleanup_(json_object_putp) struct json_object *epk = NULL;
	_cleanup_(json_object_putp) struct json_object *jwe = NULL;
	_cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *gcm = NULL;
	_cleanup_free_ char *protected = NULL;
	_cleanup_free_ uint8_t *ct = NULL;
	uint8_t wrapped[JWE_ENCRYPTED_KEY_LEN], tag[JWE_TAG_LEN];
	const char *text;
	int r, n = 0, m = 0;

	if (pt_len > JWE_MAX_PLAINTEXT_LEN)
		return log_error_errno(-EMSGSIZE, "JWE: plaintext of %zu bytes is too large",
				       pt_len);
	/* The recipient key comes from the caller: on the curve, not infinity (cheap check). */
	check = EVP_PKEY_CTX_new_from_pkey(NULL, recipient, NULL);
	if (!check || EVP_PKEY_public_check_quick(check) != 1) {
		ERR_clear_error();
		return log_error_errno(-EINVAL, "JWE: recipient is not a valid P-256 public key");
	}

	r = ecdh_shared_secret(ephemeral, recipient, sec->z);
	if (r < 0)
		return r;
	r = concat_kdf(sec->z, sec->kek);
	if (r < 0)
		return r;
	r = aes_key_wrap(1, sec->kek, sec->cek, JWE_CEK_LEN, wrapped, sizeof(wrapped));
	if (r < 0)
		return r;

	/* Member order as Trustee serialises it (alg, enc, epk{crv, kty, x, y}). */
	r = jwk_from_public_key(ephemeral, 0, &epk);
	if (r < 0)
		return r;
	header = json_object_new_object();
	if (!header)
		return log_error_errno(-ENOMEM, "JWE: out of memory");
	r = json_add_string(header, "alg", JWE_ALG) ?: json_add_string(header, "enc", JWE_ENC);
	if (r == 0 && json_object_object_add(header, "epk", epk) == 0)
		epk = NULL; /* now owned by header */
	else
		r = -ENOMEM;
	if (r < 0)
		return log_error_errno(r, "JWE: out of memory");
	text = json_object_to_json_string_ext(header, JSON_C_TO_STRING_PLAIN |
							      JSON_C_TO_STRING_NOSLASHESCAPE);
	protected = text ? b64_encode(B64_URL, (const uint8_t *)text, strlen(text)) : NULL;
	ct = malloc(pt_len + 1);
	gcm = EVP_CIPHER_CTX_new();
	/* protected and ct are _cleanup_free_: clang 14's analyzer does not model the attribute. */
	if (!protected || !ct || !gcm)
		return log_error_errno(-ENOMEM, "JWE: out of memory"); /* NOLINT(*unix.Malloc) */

	if (!gcm_begin(gcm, 1, sec->cek, iv, protected) ||
	    EVP_EncryptUpdate(gcm, ct, &n, pt, (int)pt_len) <= 0 ||
	    EVP_EncryptFinal_ex(gcm, ct + n, &m) <= 0 || (size_t)n + (size_t)m != pt_len ||
	    EVP_CIPHER_CTX_ctrl(gcm, EVP_CTRL_GCM_GET_TAG, JWE_TAG_LEN, tag) <= 0) {
		ERR_clear_error();
		return log_error_errno(-EIO, "JWE: AES-256-GCM encryption failed");
	}

	jwe = json_object_new_object();
	if (!jwe)
		return log_error_errno(-ENOMEM, "JWE: out of memory");
	r = json_add_string(jwe, "protected", protected)
		?: add_b64url(jwe, "encrypted_key", wrapped, sizeof(wrapped))
		?: add_b64url(jwe, "iv", iv, JWE_IV_LEN)
		?: add_b64url(jwe, "ciphertext", ct, pt_len)
		?: add_b64url(jwe, "tag", tag, sizeof(tag));
	if (r < 0)
		return log_error_errno(r, "JWE: out of memory");
	text = json_object_to_json_string_ext(jwe, JSON_C_TO_STRING_PLAIN |
							   JSON_C_TO_STRING_NOSLASHESCAPE);
	*out = text ? strdup(text) : NULL;
	if (!*out)
		return log_error_errno(-ENOMEM, "JWE: out of memory");
	if (out_len)
		*out_len = strlen(*out);
	return 0;
}

int jwe_encrypt(EVP_PKEY *recipient, const uint8_t *pt, size_t pt_len, char **out, size_t *out_len)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *ephemeral = NULL;
	_cleanup_secmem_ struct jwe_secrets *sec = NULL;
	uint8_t iv[JWE_IV_LEN];
	int r;

	r = jwk_generate_p256(&ephemeral);
	if (r < 0)
		return r;
	sec = secmem_alloc(sizeof(*sec));
	if (!sec)
		return log_error_errno(-ENOMEM, "JWE: cannot allocate secure memory");
	if (RAND_priv_bytes(sec->cek, JWE_CEK_LEN) != 1 || RAND_bytes(iv, sizeof(iv)) != 1)
		return log_error_errno(-EIO, "JWE: random number generator failed");
	return encrypt_with(recipient, ephemeral, sec, iv, pt, pt_len, out, out_len);
}

int jwe_encrypt_fixed_for_test(EVP_PKEY *recipient, EVP_PKEY *ephemeral,
			       const uint8_t cek[JWE_CEK_LEN], const uint8_t iv[JWE_IV_LEN],
			       const uint8_t *pt, size_t pt_len, char **out, size_t *out_len)
{
	_cleanup_secmem_ struct jwe_secrets *sec = secmem_alloc(sizeof(*sec));

	if (!sec)
		return log_error_errno(-ENOMEM, "JWE: cannot allocate secure memory");
	memcpy(sec->cek, cek, JWE_CEK_LEN);
	return encrypt_with(recipient, ephemeral, sec, iv, pt, pt_len, out, out_len);
}

/* The protected header's member key must be the one value this JWE profile accepts. */
static int header_expect(struct json_object *header, const char *key, const char *want,
			 char *reason, size_t reason_len)
{
	const char *v;
	int r;

	r = json_strict_get_string(header, "JWE protected header", key, 64, &v, reason, reason_len);
	if (r < 0)
		return r;
	if (strcmp(v, want) != 0)
		return json_strict_fail(reason, reason_len, -EINVAL,
					"JWE: %s \"%.32s\" refused, only %s is accepted", key, v,
					want);
	return 0;
}

/* Checks the protected header and returns the sender's ephemeral public key. */
static int parse_protected(const char *protected, EVP_PKEY **epk_out, char *reason,
			   size_t reason_len)
{
	static const char *const members[] = {"alg", "enc", "epk", NULL};
	_cleanup_(json_object_putp) struct json_object *header = NULL;
	struct json_object *epk;
	uint8_t raw[JWE_HEADER_MAX];
	size_t raw_len;
	int r;

	if (b64_decode(B64_URL, protected, strlen(protected), raw, sizeof(raw), &raw_len) < 0)
		return json_strict_fail(reason, reason_len, -EINVAL,
					"JWE: 'protected' is not base64url");
	r = json_strict_parse((const char *)raw, raw_len, sizeof(raw), &header, reason, reason_len);
	if (r < 0)
		return json_strict_fail(reason, reason_len, -EINVAL,
					"JWE: protected header is not valid JSON");
	if (!json_object_is_type(header, json_type_object))
		return json_strict_fail(reason, reason_len, -EINVAL,
					"JWE: protected header is not a JSON object");
	r = header_expect(header, "alg", JWE_ALG, reason, reason_len);
	if (r == 0)
		r = header_expect(header, "enc", JWE_ENC, reason, reason_len);
	if (r < 0)
		return r;
	/* zip, crit, apu, apv, ... would change how to decrypt: refused, not ignored. */
	r = json_strict_only_members(header, "JWE protected header", members, reason, reason_len);
	if (r < 0)
		return r;
	r = json_strict_get_object(header, "JWE protected header", "epk", &epk, reason, reason_len);
	if (r < 0)
		return r;
	return jwk_to_public_key(epk, "JWE epk", JWK_ALG_ABSENT, epk_out, reason, reason_len);
}

int jwe_decrypt(EVP_PKEY *recipient, const char *text, size_t len, uint8_t **pt_out, size_t *pt_len,
		char *reason, size_t reason_len)
{
	static const char *const members[] = {"protected",  "encrypted_key", "iv",
					      "ciphertext", "tag",	     NULL};
	_cleanup_(json_object_putp) struct json_object *jwe = NULL;
	_cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *gcm = NULL;
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *epk = NULL;
	_cleanup_secmem_ struct jwe_secrets *sec = NULL;
	_cleanup_secmem_ uint8_t *pt = NULL;
	_cleanup_free_ uint8_t *ct = NULL;
	uint8_t wrapped[JWE_ENCRYPTED_KEY_LEN], iv[JWE_IV_LEN], tag[JWE_TAG_LEN];
	const char *protected, *ct64;
	size_t ct_len = 0;
	int r, n = 0, m = 0;

	r = json_strict_parse(text, len, JWE_MAX_LEN, &jwe, reason, reason_len);
	if (r < 0)
		return r;
	if (!json_object_is_type(jwe, json_type_object))
		return json_strict_fail(reason, reason_len, -EINVAL, "JWE: not a JSON object");
	r = json_strict_only_members(jwe, "JWE", members, reason, reason_len);
	if (r < 0)
		return r;
	r = json_strict_get_string(jwe, "JWE", "protected", JWE_HEADER_MAX * 4 / 3 + 4, &protected,
				   reason, reason_len);
	if (r < 0)
		return r;
	r = parse_protected(protected, &epk, reason, reason_len);
	if (r < 0)
		return r;
	r = json_strict_get_b64url_exact(jwe, "JWE", "encrypted_key", wrapped, sizeof(wrapped),
					 reason, reason_len);
	if (r < 0)
		return r;
	r = json_strict_get_b64url_exact(jwe, "JWE", "iv", iv, sizeof(iv), reason, reason_len);
	if (r < 0)
		return r;
	r = json_strict_get_b64url_exact(jwe, "JWE", "tag", tag, sizeof(tag), reason, reason_len);
	if (r < 0)
		return r;
	r = json_strict_get_string(jwe, "JWE", "ciphertext", JWE_MAX_PLAINTEXT_LEN * 4 / 3 + 4,
				   &ct64, reason, reason_len);
	if (r < 0)
		return r;
	if (b64_decode_alloc(B64_URL, ct64, strlen(ct64), &ct, &ct_len) < 0)
		return json_strict_fail(reason, reason_len, -EINVAL,
					"JWE: 'ciphertext' is not base64url");
	if (ct_len > JWE_MAX_PLAINTEXT_LEN)
		return json_strict_fail(reason, reason_len, -EINVAL,
					"JWE: ciphertext of %zu bytes is too large", ct_len);

	sec = secmem_alloc(sizeof(*sec));
	pt = secmem_alloc(ct_len ? ct_len : 1);
	if (!sec || !pt)
		return log_error_errno(-ENOMEM, "JWE: cannot allocate secure memory");
	r = ecdh_shared_secret(recipient, epk, sec->z);
	if (r < 0)
		return json_strict_fail(reason, reason_len, r,
					"JWE: key agreement with epk failed");
	r = concat_kdf(sec->z, sec->kek);
	if (r < 0)
		return r;
	r = aes_key_wrap(0, sec->kek, wrapped, sizeof(wrapped), sec->cek, JWE_CEK_LEN);
	if (r < 0)
		return json_strict_fail(reason, reason_len, -EBADMSG,
					"JWE: encrypted_key does not unwrap (not for this key?)");

	gcm = EVP_CIPHER_CTX_new();
	if (!gcm)
		return log_error_errno(-ENOMEM, "JWE: out of memory");
	if (!gcm_begin(gcm, 0, sec->cek, iv, protected) ||
	    EVP_DecryptUpdate(gcm, pt, &n, ct, (int)ct_len) <= 0 ||
	    EVP_CIPHER_CTX_ctrl(gcm, EVP_CTRL_GCM_SET_TAG, JWE_TAG_LEN, tag) <= 0 ||
	    EVP_DecryptFinal_ex(gcm, pt + n, &m) <= 0 || (size_t)n + (size_t)m != ct_len) {
		ERR_clear_error();
		return json_strict_fail(reason, reason_len, -EBADMSG,
					"JWE: AES-256-GCM tag check failed");
	}
	*pt_out = TAKE_PTR(pt);
	*pt_len = ct_len;
	return 0;
}
