/* Test tool: exposes the protocol primitives on the command line so that
 * tests/vectors/interop-check.py can compare them with an independent implementation (Python
 * cryptography) on random inputs. Not for production use: keys and secrets pass through files
 * and stdout.
 *   protocol-interop jwe-encrypt JWK_FILE PLAINTEXT_FILE     -> JWE text on stdout
 *   protocol-interop jwe-decrypt PRIVATE_KEY_PEM JWE_FILE    -> plaintext hex on stdout
 *   protocol-interop report-data NONCE JWK_FILE              -> REPORTDATA hex
 *   protocol-interop passphrase SECRET_HEX SALT_HEX UUID KEYSLOT          -> passphrase hex
 *   protocol-interop disk-secret ROOT_HEX POLICY_ID RESOURCE_PATH VERSION -> secret hex */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "fileio.h"
#include "hexutil.h"
#include "json_strict.h"
#include "jwe.h"
#include "jwk.h"
#include "kbs_msg.h"
#include "kdf.h"
#include "log.h"
#include "secmem.h"

static void print_hex(const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		printf("%02x", b[i]);
	printf("\n");
}

static struct json_object *read_json(const char *path)
{
	struct json_object *v = NULL;
	uint8_t *text = NULL;
	size_t len = 0;

	if (file_read_all(path, 1 << 20, &text, &len) == 0)
		json_strict_parse((const char *)text, len, 1 << 20, &v, NULL, 0);
	free(text);
	return v;
}

static int cmd_jwe_encrypt(const char *jwk_path, const char *pt_path)
{
	struct json_object *jwk = read_json(jwk_path);
	EVP_PKEY *key = NULL;
	uint8_t *pt = NULL;
	size_t len = 0;
	char *out = NULL;
	int r = -EINVAL;

	if (jwk && jwk_to_public_key(jwk, "jwk", JWK_ALG_REQUIRED, &key, NULL, 0) == 0 &&
	    file_read_all(pt_path, JWE_MAX_PLAINTEXT_LEN, &pt, &len) == 0 &&
	    (r = jwe_encrypt(key, pt, len, &out, NULL)) == 0)
		printf("%s\n", out);
	free(out);
	free(pt);
	EVP_PKEY_free(key);
	json_object_put(jwk);
	return r;
}

static int cmd_jwe_decrypt(const char *pem_path, const char *jwe_path)
{
	FILE *f = fopen(pem_path, "re");
	EVP_PKEY *key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	uint8_t *text = NULL, *pt = NULL;
	size_t len = 0, pt_len = 0;
	char reason[256];
	int r = -EINVAL;

	if (f)
		fclose(f);
	if (key && file_read_all(jwe_path, JWE_MAX_LEN, &text, &len) == 0) {
		/* The file may end with a newline; the JWE is the text before it. */
		while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
			len--;
		r = jwe_decrypt(key, (const char *)text, len, &pt, &pt_len, reason, sizeof(reason));
		if (r == 0)
			print_hex(pt, pt_len);
		else
			fprintf(stderr, "refused: %s\n", reason);
	}
	secmem_free(pt);
	free(text);
	EVP_PKEY_free(key);
	return r;
}

static int cmd_report_data(const char *nonce, const char *jwk_path)
{
	struct json_object *jwk = read_json(jwk_path);
	uint8_t rd[KBS_REPORT_DATA_LEN];
	int r = -EINVAL;

	if (jwk && (r = kbs_report_data(nonce, jwk, rd)) == 0)
		print_hex(rd, sizeof(rd));
	json_object_put(jwk);
	return r;
}

static int cmd_passphrase(const char *secret_hex, const char *salt_hex, const char *uuid,
			  const char *keyslot)
{
	uint8_t *secret = NULL, *salt = NULL, out[KDF_PASSPHRASE_LEN];
	size_t slen = 0, salt_len = 0;
	int r = -EINVAL;

	if (hex_decode_alloc(secret_hex, strlen(secret_hex), &secret, &slen) == 0 &&
	    hex_decode_alloc(salt_hex, strlen(salt_hex), &salt, &salt_len) == 0 &&
	    (r = kdf_luks_passphrase(secret, slen, salt, salt_len, uuid,
				     (unsigned)strtoul(keyslot, NULL, 10), out)) == 0)
		print_hex(out, sizeof(out));
	free(secret);
	free(salt);
	return r;
}

static int cmd_disk_secret(const char *root_hex, const char *policy_id, const char *path,
			   const char *version)
{
	uint8_t *root = NULL, out[KDF_DISK_SECRET_LEN];
	size_t len = 0;
	int r = -EINVAL;

	if (hex_decode_alloc(root_hex, strlen(root_hex), &root, &len) == 0 &&
	    (r = kdf_disk_secret(root, len, policy_id, path, (uint32_t)strtoul(version, NULL, 10),
				 out)) == 0)
		print_hex(out, sizeof(out));
	free(root);
	return r;
}

int main(int argc, char **argv)
{
	int r;

	log_setup("protocol-interop", LOG_TARGET_STDERR, LOG_LVL_ERR);
	if (argc == 4 && strcmp(argv[1], "jwe-encrypt") == 0)
		r = cmd_jwe_encrypt(argv[2], argv[3]);
	else if (argc == 4 && strcmp(argv[1], "jwe-decrypt") == 0)
		r = cmd_jwe_decrypt(argv[2], argv[3]);
	else if (argc == 4 && strcmp(argv[1], "report-data") == 0)
		r = cmd_report_data(argv[2], argv[3]);
	else if (argc == 6 && strcmp(argv[1], "passphrase") == 0)
		r = cmd_passphrase(argv[2], argv[3], argv[4], argv[5]);
	else if (argc == 6 && strcmp(argv[1], "disk-secret") == 0)
		r = cmd_disk_secret(argv[2], argv[3], argv[4], argv[5]);
	else {
		fprintf(stderr,
			"usage: see the comment at the top of tests/tools/protocol-interop.c\n");
		return 2;
	}
	return r == 0 ? 0 : 1;
}
