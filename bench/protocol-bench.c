/* Benchmark of the protocol code on one core: operations per second of JWE encryption (server,
 * per release) and decryption (agent), attest-request parsing with a 5 KiB quote, REPORTDATA,
 * and the two key derivations. Each figure runs for about 0.5 s. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jwe.h"
#include "jwk.h"
#include "kbs_msg.h"
#include "kdf.h"
#include "log.h"
#include "secmem.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define BENCH(name, body)                                           \
	do {                                                        \
		double t0 = now_s(), t;                             \
		unsigned long n = 0;                                \
		do {                                                \
			body;                                       \
			n++;                                        \
		} while ((t = now_s() - t0) < 0.5);                 \
		printf("  %-44s %10.0f /s\n", name, (double)n / t); \
	} while (0)

int main(void)
{
	static const char uuid[] = "3f0e5b4c-8f1a-4b7e-9c2d-5a6b7c8d9e0f";
	uint8_t secret[32] = {1}, salt[32] = {2}, out[32], quote[5120], rd[64], *pt = NULL;
	struct json_object *jwk = NULL;
	struct kbs_attest_request req;
	char *jwe = NULL, *tmp = NULL, *attest = NULL;
	size_t jwe_len = 0, pt_len = 0, i;
	EVP_PKEY *tee = NULL;

	log_setup("protocol-bench", LOG_TARGET_STDERR, LOG_LVL_ERR);
	for (i = 0; i < sizeof(quote); i++)
		quote[i] = (uint8_t)i;
	if (jwk_generate_p256(&tee) < 0 || jwk_from_public_key(tee, 1, &jwk) < 0 ||
	    jwe_encrypt(tee, secret, sizeof(secret), &jwe, &jwe_len) < 0 ||
	    kbs_attest_request_build("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", tee, quote,
				     sizeof(quote), NULL, 0, NULL, &attest) < 0)
		return 1;

	printf("protocol (one core):\n");
	BENCH("JWE encrypt (ECDH-ES+A256KW, A256GCM)", {
		jwe_encrypt(tee, secret, sizeof(secret), &tmp, NULL);
		free(tmp);
	});
	BENCH("JWE decrypt into secure memory", {
		jwe_decrypt(tee, jwe, jwe_len, &pt, &pt_len, NULL, 0);
		secmem_free(pt);
	});
	BENCH("attest request parse (5 KiB quote)", {
		kbs_attest_request_parse(attest, strlen(attest), &req, NULL, 0);
		kbs_attest_request_done(&req);
	});
	BENCH("REPORTDATA (JCS + SHA-384)",
	      kbs_report_data("AAECAwQFBgcICQoLDA0ODxAREhM=", jwk, rd));
	BENCH("keyslot passphrase (HKDF-SHA256)",
	      kdf_luks_passphrase(secret, 32, salt, 32, uuid, 1, out));
	BENCH("disk secret (HMAC-SHA256)",
	      kdf_disk_secret(secret, 32, "prod-web", "default/disk/root", 1, out));
	free(jwe);
	free(attest);
	json_object_put(jwk);
	EVP_PKEY_free(tee);
	return 0;
}
