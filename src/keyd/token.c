#define _GNU_SOURCE /* asprintf */
#include "token.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "b64.h"
#include "cleanup.h"
#include "hexutil.h"
#include "json_build.h"
#include "json_strict.h"
#include "kdf.h"

int token_build(const uint8_t key[TOKEN_KEY_LEN], unsigned lifetime_s, const char *tcb_status,
		const uint8_t mrtd[TDX_MR_LEN], char **out)
{
	static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	_cleanup_(json_object_putp) json_object *claims = json_object_new_object();
	_cleanup_free_ char *h64 = NULL, *c64 = NULL, *signing = NULL, *s64 = NULL;
	char mrtd_hex[2 * TDX_MR_LEN + 1];
	uint8_t mac[32];
	const char *ctext;
	time_t now = time(NULL);

	if (!claims)
		return -ENOMEM;
	hex_encode(mrtd, TDX_MR_LEN, mrtd_hex);
	/* Checked adders: a claim lost to an allocation failure fails the token, not thins it. */
	if (json_add_string(claims, "iss", "tdx-keyd") < 0 ||
	    json_add_member(claims, "iat", json_object_new_int64(now)) < 0 ||
	    json_add_member(claims, "exp", json_object_new_int64(now + lifetime_s)) < 0 ||
	    json_add_string(claims, "tee", "tdx") < 0 ||
	    json_add_string(claims, "tcb-status", tcb_status) < 0 ||
	    json_add_string(claims, "mrtd", mrtd_hex) < 0)
		return -ENOMEM;
	ctext = json_object_to_json_string_ext(claims, JSON_C_TO_STRING_PLAIN);
	if (!ctext)
		return -ENOMEM;
	h64 = b64_encode(B64_URL, (const uint8_t *)header, strlen(header));
	c64 = b64_encode(B64_URL, (const uint8_t *)ctext, strlen(ctext));
	if (!h64 || !c64 || asprintf(&signing, "%s.%s", h64, c64) < 0) {
		signing = NULL;
		return -ENOMEM;
	}
	if (kdf_hmac_sha256(key, TOKEN_KEY_LEN, signing, strlen(signing), mac) < 0)
		return -EIO;
	s64 = b64_encode(B64_URL, mac, sizeof(mac));
	if (!s64 || asprintf(out, "%s.%s", signing, s64) < 0)
		return -ENOMEM;
	return 0;
}
