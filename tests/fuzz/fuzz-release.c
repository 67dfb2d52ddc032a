/* libFuzzer harness: tdx-keyd's KBS endpoints behind the HTTP transport (release_service_handle)
 * with a complete test setup (quote hierarchy, collateral cache, policy, root key). The first
 * byte picks the scenario:
 *   0  POST /kbs/v0/auth with the input as body
 *   1  auth, then POST /kbs/v0/attest with the input as body ("@NONCE@" replaced by the
 *      session's nonce) and the session cookie
 *   2  a request with the input as "METHOD-byte path \0 Cookie header \0 body"
 *   3  a complete valid session (quote bound to the nonce and a fresh key), then GET of the input
 *      as resource path; a 200 must carry a JWE that decrypts to 32 bytes */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "jwe.h"
#include "jwk.h"
#include "kbs_msg.h"
#include "keyd/keyd_config.h"
#include "keyd/release.h"
#include "keyd/session.h"
#include "keyd/policy.h"
#include "quotesim.h"
#include "secmem.h"
#include "fuzz-common.h"

/* Configuration: set up once before fuzzing starts. */
static struct release_service *service;
static struct keyd_config *service_cfg; /* for a fresh service when the table is full */
static struct quotesim *sim;
static struct quotesim_quote_opts quote_opts;

static void copy_file(const char *from, const char *to)
{
	uint8_t *buf = NULL;
	size_t len = 0;

	if (file_read_all(from, 1 << 20, &buf, &len) < 0 || file_write_private(to, buf, len, 1) < 0)
		abort();
	free(buf);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const items[] = {"tcb_info.json",	     "qe_identity.json",
					    "pck_crl.der",	     "root_crl.der",
					    "tcb_signing_chain.pem", "pck_crl_chain.pem"};
	char dir[64], sim_dir[PATH_MAX], path[256], from[PATH_MAX + 64], *policy = NULL,
									 *conf = NULL;
	const char *ca = getenv("FUZZ_DCAP_CA");
	struct keyd_config *cfg = NULL;
	struct quotesim_ca_opts o;
	uint8_t key[32];
	size_t i;

	(void)argc;
	(void)argv;
	fuzz_log_quiet("fuzz-keyd-service");
	snprintf(dir, sizeof(dir), "/tmp/fuzz-keyd-service-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	/* The hierarchy of make fuzz-seeds when given, so that seed quotes chain to our root. */
	if (!ca || !realpath(ca, sim_dir)) {
		snprintf(sim_dir, sizeof(sim_dir), "%s/sim", dir);
		quotesim_ca_opts_init(&o);
		if (quotesim_ca_create(sim_dir, &o) < 0)
			abort();
	}
	if (quotesim_load(sim_dir, &sim) < 0)
		abort();
	quotesim_quote_opts_init(sim, &quote_opts);

	snprintf(path, sizeof(path), "%s/collateral", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/collateral/00906ed50000", dir);
	mkdir(path, 0700);
	for (i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
		snprintf(from, sizeof(from), "%s/%s", sim_dir, items[i]);
		snprintf(path, sizeof(path), "%s/collateral/00906ed50000/%s", dir, items[i]);
		copy_file(from, path);
	}
	snprintf(path, sizeof(path), "%s/policies", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/policies/test-image.json", dir);
	if (policy_from_td_body(&quote_opts.body, "test-image", "default/disk/root", &policy) < 0 ||
	    file_write_private(path, policy, strlen(policy), 1) < 0)
		abort();
	free(policy);
	memset(key, 0x42, sizeof(key));
	snprintf(path, sizeof(path), "%s/root.key", dir);
	if (file_write_private(path, key, sizeof(key), 1) < 0)
		abort();
	if (asprintf(&conf,
		     "{\"listen\":{\"address\":\"127.0.0.1\",\"port\":0},\"tls\":{\"certificate\":"
		     "\"tls.crt\",\"private_key\":\"tls.key\"},\"test_root_ca\":\"%s/root_ca.pem\","
		     "\"policy_dir\":\"policies\",\"collateral_dir\":\"collateral\","
		     "\"root_key_file\":\"root.key\",\"audit_file\":\"/dev/null\","
		     "\"limits\":{\"max_sessions\":64}}",
		     sim_dir) < 0)
		abort();
	snprintf(path, sizeof(path), "%s/keyd.json", dir);
	if (file_write_private(path, conf, strlen(conf), 1) < 0 ||
	    keyd_config_load(path, &cfg) < 0 || release_service_new(cfg, &service) < 0)
		abort();
	service_cfg = cfg;
	free(conf);
	return 0; /* cfg and dir stay for the life of the process */
}

static void handle(enum keyd_method m, const char *path, const char *cookie, const char *body,
		   size_t body_len, struct keyd_reply *rep)
{
	struct keyd_request req = {.method = m,
				   .path = path,
				   .cookie = cookie,
				   .body = body,
				   .body_len = body_len,
				   .peer = "127.0.0.1:1"};

	memset(rep, 0, sizeof(*rep));
	release_service_handle(service, &req, rep);
	if (rep->status < 200 || rep->status > 599 || !rep->body)
		__builtin_trap(); /* every request gets a status and a JSON body */
}

/* auth; fills cookie ("kbs-session-id=...") and the challenge. */
/* "kbs-session-id=" and a sealed session: a shorter copy would cut the cookie. */
#define COOKIE_HDR_MAX (SESSION_COOKIE_MAX + 64)

static int start_session(char cookie[COOKIE_HDR_MAX], struct kbs_challenge *ch)
{
	struct keyd_reply rep;
	char *body = NULL;
	int r = -1;

	if (kbs_auth_request_build(&body) < 0)
		abort();
	handle(KEYD_POST, "/kbs/v0/auth", NULL, body, strlen(body), &rep);
	free(body);
	if (rep.status == 200 &&
	    kbs_challenge_parse(rep.body, strlen(rep.body), ch, NULL, 0) == 0) {
		snprintf(cookie, COOKIE_HDR_MAX, "%.*s", (int)strcspn(rep.set_cookie, ";"),
			 rep.set_cookie);
		r = 0;
	}
	keyd_reply_done(&rep);
	return r;
}

static void scenario_attest(const uint8_t *data, size_t size)
{
	struct kbs_challenge ch;
	struct keyd_reply rep;
	char cookie[COOKIE_HDR_MAX], *body;
	const char *mark;
	size_t n = 0, nl;

	if (start_session(cookie, &ch) < 0)
		return; /* table full of fresh sessions is fine */
	nl = strlen(ch.nonce);
	body = malloc(size * (nl + 1) + 1);
	if (!body)
		return;
	/* Splice in the session's nonce wherever the input says @NONCE@. */
	while (size > 0) {
		mark = memmem(data, size, "@NONCE@", 7);
		if (!mark) {
			memcpy(body + n, data, size);
			n += size;
			break;
		}
		memcpy(body + n, data, (size_t)(mark - (const char *)data));
		n += (size_t)(mark - (const char *)data);
		memcpy(body + n, ch.nonce, nl);
		n += nl;
		size -= (size_t)(mark - (const char *)data) + 7;
		data = (const uint8_t *)mark + 7;
	}
	handle(KEYD_POST, "/kbs/v0/attest", cookie, body, n, &rep);
	keyd_reply_done(&rep);
	free(body);
}

static void scenario_raw(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 3), *path, *cookie, *body;
	struct keyd_reply rep;
	size_t pl, cl;

	if (!copy || size < 1)
		goto out;
	memcpy(copy, data + 1, size - 1);
	copy[size - 1] = copy[size] = copy[size + 1] = '\0';
	path = copy;
	pl = strlen(path);
	cookie = path + pl + 1;
	cl = strlen(cookie);
	body = cookie + cl + 1;
	handle(data[0] % 3 == 0	  ? KEYD_GET
	       : data[0] % 3 == 1 ? KEYD_POST
				  : KEYD_OTHER,
	       path, cl ? cookie : NULL, body,
	       pl + cl + 2 <= size - 1 ? size - 1 - (pl + cl + 2) : 0, &rep);
	keyd_reply_done(&rep);
out:
	free(copy);
}

static void scenario_resource(const uint8_t *data, size_t size)
{
	struct kbs_challenge ch;
	struct keyd_reply rep;
	struct json_object *jwk = NULL;
	EVP_PKEY *tee = NULL;
	uint8_t rd[KBS_REPORT_DATA_LEN], *quote = NULL, *secret = NULL;
	size_t quote_len = 0, secret_len = 0;
	char cookie[COOKIE_HDR_MAX], *body = NULL, *path = NULL;

	if (start_session(cookie, &ch) < 0)
		return;
	if (jwk_generate_p256(&tee) < 0 || jwk_from_public_key(tee, 1, &jwk) < 0 ||
	    kbs_report_data(ch.nonce, jwk, rd) < 0 ||
	    quotesim_quote(sim, &quote_opts, rd, &quote, &quote_len) < 0 ||
	    kbs_attest_request_build(ch.nonce, tee, quote, quote_len, NULL, 0, NULL, &body) < 0)
		abort();
	handle(KEYD_POST, "/kbs/v0/attest", cookie, body, strlen(body), &rep);
	if (rep.status != 200 && strstr(rep.body, "session table full")) {
		/* Attested sessions are never evicted (they expire): every valid session this
		 * scenario makes stays in the table, so a long run fills it by design. Start a
		 * fresh service and go on; any other refusal of a valid session is a bug. */
		keyd_reply_done(&rep);
		release_service_free(service);
		if (release_service_new(service_cfg, &service) < 0)
			abort();
		goto out;
	}
	if (rep.status != 200)
		__builtin_trap(); /* the valid session must attest */
	keyd_reply_done(&rep);

	path = malloc(size + 1);
	if (!path)
		goto out;
	memcpy(path, data, size);
	path[size] = '\0';
	handle(KEYD_GET, path, cookie, "", 0, &rep);
	if (rep.status == 200) {
		if (jwe_decrypt(tee, rep.body, strlen(rep.body), &secret, &secret_len, NULL, 0) <
			    0 ||
		    secret_len != 32)
			__builtin_trap(); /* a release is a JWE to the session key */
		secmem_free(secret);
	}
	keyd_reply_done(&rep);
out:
	free(path);
	free(body);
	free(quote);
	json_object_put(jwk);
	EVP_PKEY_free(tee);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keyd_reply rep;

	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0:
		handle(KEYD_POST, "/kbs/v0/auth", NULL, (const char *)data + 1, size - 1, &rep);
		keyd_reply_done(&rep);
		break;
	case 1:
		scenario_attest(data + 1, size - 1);
		break;
	case 2:
		scenario_raw(data + 1, size - 1);
		break;
	case 3:
		scenario_resource(data + 1, size - 1);
		break;
	}
	return 0;
}
