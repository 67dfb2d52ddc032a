/* Writes the seed corpora of the protocol fuzz harnesses (tests/fuzz/) from our own builders and
 * the protocol test vectors: fuzz-seeds OUTDIR [QUOTE] (creates OUTDIR/<harness>/<name>; with a
 * quote file, also the tdx-keyd service scenarios). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/luks_token.h"
#include "keyd/policy.h"
#include "b64.h"
#include "fileio.h"
#include "jwe.h"
#include "jwk.h"
#include "kbs_msg.h"
#include "log.h"
#include "../unit/protocol-vectors.h"

static const char *out_dir;

/* Writes [prefix byte] + data to OUT/harness/name. */
static int seed(const char *harness, const char *name, int prefix, const void *data, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", out_dir, harness);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return log_error_errno(-errno, "fuzz-seeds: cannot create %s: %m", path);
	snprintf(path, sizeof(path), "%s/%s/%s", out_dir, harness, name);
	f = fopen(path, "we");
	if (!f)
		return log_error_errno(-errno, "fuzz-seeds: cannot write %s: %m", path);
	if (prefix >= 0)
		fputc(prefix, f);
	fwrite(data, 1, len, f);
	if (fclose(f) != 0)
		return log_error_errno(-EIO, "fuzz-seeds: cannot write %s", path);
	return 0;
}

static int seed_str(const char *harness, const char *name, int prefix, const char *s)
{
	return s ? seed(harness, name, prefix, s, strlen(s)) : -EINVAL;
}

int main(int argc, char **argv)
{
	static const uint8_t msg[] = "0123456789abcdef0123456789abcdef";
	struct json_object *vec, *jwk = NULL, *epk = NULL;
	struct luks_token tok = {.keyslot = 1, .resource = "tdx-unlock/disk/root", .version = 1};
	char *s = NULL, name[32];
	uint8_t quote[600];
	EVP_PKEY *tee;
	size_t i, n;
	int r = 0;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: fuzz-seeds OUTDIR [QUOTE]\n");
		return 2;
	}
	out_dir = argv[1];
	if (mkdir(out_dir, 0755) < 0 && errno != EEXIST) {
		log_error_errno(-errno, "fuzz-seeds: cannot create %s: %m", out_dir);
		return 1;
	}
	vec = vectors_load();
	tee = vec ? vec_tee_key(vec) : NULL;
	if (!tee) {
		fprintf(stderr, "fuzz-seeds: tests/vectors/protocol-vectors.json not readable\n");
		return 1;
	}

	/* JWE: the vector and fresh encryptions of several sizes to the same key. */
	r |= seed_str("jwe", "vector", -1, vec_str(vec, "jwe", "jwe"));
	for (n = 0; n <= 32; n += 16) {
		if (jwe_encrypt(tee, msg, n, &s, NULL) == 0) {
			snprintf(name, sizeof(name), "len%zu", n);
			r |= seed_str("jwe", name, -1, s);
			free(s);
		}
	}

	/* KBS messages, prefixed with the harness's parser selector. */
	if (kbs_auth_request_build(&s) == 0) {
		r |= seed_str("kbs-msg", "auth", 0, s);
		free(s);
	}
	if (kbs_challenge_build(vec_str(vec, "report_data", "nonce"), &s) == 0) {
		r |= seed_str("kbs-msg", "challenge", 1, s);
		free(s);
	}
	r |= seed_str(
		"kbs-msg", "challenge-object", 1,
		"{\"nonce\":\"n\",\"extra-params\":{\"selected-hash-algorithm\":\"sha384\"}}");
	for (i = 0; i < sizeof(quote); i++)
		quote[i] = (uint8_t)i;
	if (kbs_attest_request_build(vec_str(vec, "report_data", "nonce"), tee, quote,
				     sizeof(quote), quote, 100, NULL, &s) == 0) {
		r |= seed_str("kbs-msg", "attest", 2, s);
		free(s);
	}
	if (kbs_attest_request_build("n", tee, quote, 40, NULL, 0, NULL, &s) == 0) {
		r |= seed_str("kbs-msg", "attest-nolog", 2, s);
		free(s);
	}
	if (kbs_attest_response_build("eyJhbGciOiJFUzI1NiJ9.e30.c2ln", &s) == 0) {
		r |= seed_str("kbs-msg", "token", 3, s);
		free(s);
	}
	if (kbs_error_build(KBS_ERR_POLICY_DENY, "MRTD mismatch", &s) == 0) {
		r |= seed_str("kbs-msg", "error", 4, s);
		free(s);
	}

	/* JWKs (with and without alg) and JCS inputs. */
	if (jwk_from_public_key(tee, 1, &jwk) == 0 && jwk_from_public_key(tee, 0, &epk) == 0) {
		r |= seed_str("jwk", "tee-pubkey", -1, json_object_to_json_string(jwk));
		r |= seed_str("jwk", "epk", -1, json_object_to_json_string(epk));
	}
	r |= seed_str("jwk", "runtime-data", -1, vec_str(vec, "report_data", "canonical"));
	r |= seed_str("jwk", "jcs-sorting", -1,
		      json_object_get_string(json_object_object_get(
			      json_object_array_get_idx(json_object_object_get(vec, "jcs"), 1),
			      "input")));

	/* Base64 in both alphabets. */
	r |= seed_str("b64", "std", -1, "Zm9vYmE=");
	r |= seed_str("b64", "url", -1, vec_str(vec, "report_data", "nonce"));
	r |= seed_str("b64", "url2", -1, "94XM0NiFMudz-Tmjz_BwXLE15fwVbPnUORSd5MVlBXc");

	/* LUKS token as enrollment writes it. */
	memcpy(tok.salt, quote, sizeof(tok.salt));
	if (luks_token_format(&tok, &s) == 0) {
		r |= seed_str("luks-token", "token", -1, s);
		free(s);
	}

	/* Agent configuration: JSON file and kernel command line. */
	r |= seed_str("agent-config", "json", 0,
		      "{\"servers\":[{\"url\":\"https://kbs.example:8443\",\"pins\":["
		      "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"]}],"
		      "\"connect_timeout_ms\":2000,\"total_timeout_s\":60}");
	r |= seed_str("agent-config", "cmdline", 1,
		      "quiet rd.tdx_unlock.url=https://10.0.0.1:8443 rd.tdx_unlock.pin="
		      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef "
		      "rd.tdx_unlock.timeout=30");

	/* tdx-keyd policy (as policy-from-quote writes it) and configuration. */
	{
		static const struct tdx_td_body body = {.mrtd = {1}, .rtmr = {{2}, {3}}};

		if (policy_from_td_body(&body, "test-image", "default/disk/*", &s) == 0) {
			r |= seed_str("policy", "from-td-body", -1, s);
			free(s);
		}
	}
	r |= seed_str("keyd-config", "keyd.json", -1,
		      "{\"listen\":{\"address\":\"127.0.0.1\",\"port\":0},\"tls\":{"
		      "\"certificate\":\"tls.crt\",\"private_key\":\"tls.key\"},"
		      "\"test_root_ca\":\"sim/root_ca.pem\",\"policy_dir\":\"policies\","
		      "\"collateral_dir\":\"collateral\",\"root_key_file\":\"root.key\","
		      "\"audit_file\":\"audit.log\",\"limits\":{\"request_timeout_ms\":2000,"
		      "\"session_lifetime_s\":300,\"max_sessions\":100000}}");

	/* tdx-keyd service scenarios (see tests/fuzz/fuzz-keyd-service.c). */
	if (argc == 3) {
		uint8_t *q = NULL;
		size_t qlen = 0;

		if (kbs_auth_request_build(&s) == 0) {
			r |= seed_str("keyd-service", "auth", 0, s);
			free(s);
		}
		if (file_read_all(argv[2], KBS_QUOTE_MAX_LEN, &q, &qlen) == 0 &&
		    kbs_attest_request_build("@NONCE@", tee, q, qlen, NULL, 0, NULL, &s) == 0) {
			r |= seed_str("keyd-service", "attest", 1, s);
			free(s);
		}
		free(q);
		r |= seed("keyd-service", "raw-resource", 2,
			  "\001/kbs/v0/resource/default/disk/root\0kbs-session-id=0123\0",
			  sizeof("\001/kbs/v0/resource/default/disk/root\0kbs-session-id=0123\0") -
				  1);
		r |= seed("keyd-service", "raw-other", 2, "\002/kbs/v0/x\0\0{}",
			  sizeof("\002/kbs/v0/x\0\0{}") - 1);
		r |= seed_str("keyd-service", "resource", 3, "/kbs/v0/resource/default/disk/root");
	}

	json_object_put(jwk);
	json_object_put(epk);
	EVP_PKEY_free(tee);
	json_object_put(vec);
	return r ? 1 : 0;
}
