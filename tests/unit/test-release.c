/* Unit tests of keyd's release decision (release_service_handle() without the HTTP transport), with
 * quotes from a generated test hierarchy: the released secret is sealed to the key the attested
 * quote bound and to no other, a session cannot re-attest to swap its key, a resource is released
 * only under the policy that covers it, hostile paths and cookies are refused, every audit line
 * is one valid JSON record, and workers, reloads and session expiry run concurrently. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "aael.h"
#include "fileio.h"
#include "jwe.h"
#include "jwk.h"
#include "kbs_msg.h"
#include "kdf.h"
#include "dcap/collateral_store.h"
#include "keyd/keyd_config.h"
#include "keyd/release.h"
#include "keyd/policy.h"
#include "keyd/session.h"
#include "quote.h"
#include "quotesim.h"
#include "secmem.h"
#include "utf8.h"

#define FMSPC_DIR "00906ed50000"

static char dir[] = "/tmp/test-keyd-service.XXXXXX";
static uint8_t root_key[32];

struct fixture {
	struct quotesim *sim;
	struct keyd_config cfg;
	struct release_service *svc;
	struct quotesim_quote_opts qo; /* the quote policy "a" accepts */
	char *other_root_key;	       /* another fleet's root key */
};

static char *path_in(const char *name)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

static void write_text(const char *name, const char *text)
{
	char *p = path_in(name);
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	fclose(f);
	free(p);
}

/* A policy accepting exactly body (its measurements), for the resources given as a JSON array,
 * with extra top-level members (JSON text without braces, or ""). */
static void write_policy(const char *file, const char *id, const struct tdx_td_body *body,
			 const char *resources_json, const char *extra)
{
	char *doc = NULL, *text = NULL;
	struct json_object *o;

	assert_int_equal(policy_from_td_body(body, id, "x/y/z", &doc), 0);
	o = json_tokener_parse(doc);
	assert_non_null(o);
	json_object_object_add(o, "resources", json_tokener_parse(resources_json));
	if (extra && *extra) {
		char *wrapped = NULL;
		struct json_object *e;

		assert_true(asprintf(&wrapped, "{%s}", extra) > 0);
		e = json_tokener_parse(wrapped);
		assert_non_null(e);
		json_object_object_foreach (e, k, v)
			json_object_object_add(o, k, json_object_get(v));
		json_object_put(e);
		free(wrapped);
	}
	assert_true(asprintf(&text, "%s", json_object_to_json_string(o)) > 0);
	write_text(file, text);
	json_object_put(o);
	free(doc);
	free(text);
}

static void write_collateral(const struct quotesim *sim, time_t issued)
{
	struct quotesim_collateral_opts co = {0};
	char *d = path_in("collateral/" FMSPC_DIR);

	if (issued) {
		struct quotesim_window w = {issued, time(NULL) + 10 * 86400};

		co.tcb_info = co.qe_identity = co.pck_crl = co.root_crl = w;
	}
	assert_int_equal(quotesim_collateral_write(sim, d, &co), 0);
	free(d);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct tdx_td_body other;
	char *p;
	int fd;

	assert_non_null(f);
	p = path_in("sim");
	assert_int_equal(quotesim_ca_create(p, NULL), 0);
	assert_int_equal(quotesim_load(p, &f->sim), 0);
	free(p);
	quotesim_quote_opts_init(f->sim, &f->qo);
	p = path_in("collateral");
	mkdir(p, 0700);
	free(p);
	p = path_in("collateral/" FMSPC_DIR);
	mkdir(p, 0700);
	free(p);
	write_collateral(f->sim, 0);
	p = path_in("policies");
	mkdir(p, 0700);
	free(p);
	/* Policy "a" accepts the simulator's quotes; policy "b" another image (other MRTD). */
	write_policy("policies/a.json", "a", &f->qo.body, "[\"a/disk/root\",\"a/disk/data\"]", "");
	other = f->qo.body;
	other.mrtd[0] ^= 0xff;
	write_policy("policies/b.json", "b", &other, "[\"b/disk/*\"]", "");

	for (int i = 0; i < 32; i++)
		root_key[i] = (uint8_t)(0xa0 + i);
	p = path_in("root.key");
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, root_key, 32), 32);
	close(fd);
	f->cfg.root_key_file = p;
	f->other_root_key = path_in("other-root.key");
	fd = open(f->other_root_key, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "another fleet's root key, 32 b.", 32), 32);
	close(fd);
	f->cfg.test_root_ca = path_in("sim/" QUOTESIM_ROOT_CA);
	f->cfg.policy_dir = path_in("policies");
	f->cfg.collateral_dir = path_in("collateral");
	f->cfg.audit_file = path_in("audit.log");
	f->cfg.limits = (struct keyd_limits){.max_sessions = 1000,
					     .session_lifetime_s = 300,
					     .auth_rate_per_s = 1000000,
					     .auth_burst = 1000000,
					     .auth_audit_interval_s = 10};
	unlink(f->cfg.audit_file);
	assert_int_equal(release_service_new(&f->cfg, &f->svc), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	release_service_free(f->svc);
	quotesim_free(f->sim);
	free(f->cfg.root_key_file);
	free(f->other_root_key);
	free(f->cfg.test_root_ca);
	free(f->cfg.policy_dir);
	free(f->cfg.collateral_dir);
	free(f->cfg.audit_file);
	free(f);
	return 0;
}

#define COOKIE_HDR_MAX (SESSION_COOKIE_MAX + 64)

static void call(struct release_service *s, enum keyd_method m, const char *path,
		 const char *cookie, const char *body, struct keyd_reply *rep)
{
	struct keyd_request req = {.method = m,
				   .path = path,
				   .cookie = cookie,
				   .body = body ? body : "",
				   .body_len = body ? strlen(body) : 0,
				   .peer = "127.0.0.1:1",
				   .peer_addr = "127.0.0.1"};

	release_service_handle(s, &req, rep);
}

/* auth: the cookie header value ("kbs-session-id=<id>") and the nonce. */
static void auth(struct release_service *s, char cookie[COOKIE_HDR_MAX],
		 char nonce[KBS_NONCE_MAX_LEN + 1])
{
	static const char body[] = "{\"version\":\"0.4.0\",\"tee\":\"tdx\",\"extra-params\":{}}";
	struct kbs_challenge ch;
	struct keyd_reply rep;

	call(s, KEYD_POST, "/kbs/v0/auth", NULL, body, &rep);
	assert_int_equal(rep.status, 200);
	assert_int_equal(kbs_challenge_parse(rep.body, strlen(rep.body), &ch, NULL, 0), 0);
	snprintf(nonce, KBS_NONCE_MAX_LEN + 1, "%s", ch.nonce);
	assert_int_equal(strncmp(rep.set_cookie, "kbs-session-id=", 15), 0);
	snprintf(cookie, COOKIE_HDR_MAX, "%.*s", (int)strcspn(rep.set_cookie, ";"), rep.set_cookie);
	keyd_reply_done(&rep);
}

/* attest with key `sent` in runtime-data and a quote of body whose REPORTDATA binds (rd_nonce,
 * rd_key). On success the cookie becomes the attested session's. */
static void attest(struct fixture *f, char *cookie, const char *nonce, EVP_PKEY *sent,
		   const char *rd_nonce, EVP_PKEY *rd_key, const struct tdx_td_body *body,
		   struct keyd_reply *rep)
{
	struct quotesim_quote_opts qo = f->qo;
	struct json_object *jwk = NULL;
	uint8_t rd[KBS_REPORT_DATA_LEN], *quote = NULL;
	size_t quote_len;
	char *req = NULL;

	if (body)
		qo.body = *body;
	assert_int_equal(jwk_from_public_key(rd_key, 1, &jwk), 0);
	assert_int_equal(kbs_report_data(rd_nonce, jwk, rd), 0);
	assert_int_equal(quotesim_quote(f->sim, &qo, rd, &quote, &quote_len), 0);
	assert_int_equal(
		kbs_attest_request_build(nonce, sent, quote, quote_len, NULL, 0, NULL, &req), 0);
	call(f->svc, KEYD_POST, "/kbs/v0/attest", cookie, req, rep);
	if (rep->status == 200) {
		assert_int_equal(strncmp(rep->set_cookie, "kbs-session-id=", 15), 0);
		snprintf(cookie, COOKIE_HDR_MAX, "%.*s", (int)strcspn(rep->set_cookie, ";"),
			 rep->set_cookie);
	}
	json_object_put(jwk);
	free(quote);
	free(req);
}

static void expect_error(struct keyd_reply *rep, int status, const char *type, const char *detail)
{
	struct kbs_error e;

	assert_int_equal(rep->status, status);
	assert_int_equal(kbs_error_parse(rep->body, strlen(rep->body), &e, NULL, 0), 0);
	assert_string_equal(e.type, type);
	if (!strstr(e.detail, detail))
		fail_msg("detail \"%s\" lacks \"%s\"", e.detail, detail);
	keyd_reply_done(rep);
}

/* A full valid session; returns its cookie, its (now spent) nonce and key (caller frees). */
static EVP_PKEY *attested_session_nonce(struct fixture *f, char cookie[COOKIE_HDR_MAX],
					char nonce[KBS_NONCE_MAX_LEN + 1])
{
	struct keyd_reply rep;
	EVP_PKEY *key = NULL;

	auth(f->svc, cookie, nonce);
	assert_int_equal(jwk_generate_p256(&key), 0);
	attest(f, cookie, nonce, key, nonce, key, NULL, &rep);
	if (rep.status != 200)
		fail_msg("attest refused: %s", rep.body);
	keyd_reply_done(&rep);
	return key;
}

static EVP_PKEY *attested_session(struct fixture *f, char cookie[COOKIE_HDR_MAX])
{
	char nonce[KBS_NONCE_MAX_LEN + 1];

	return attested_session_nonce(f, cookie, nonce);
}

/* The resource must be released by svc and decrypt with key to the secret of (policy, path, v1). */
static void expect_release_on(struct fixture *f, struct release_service *svc, const char *cookie,
			      const char *path, const char *policy_id, EVP_PKEY *key)
{
	char url[512], reason[256];
	uint8_t want[KDF_DISK_SECRET_LEN], *pt = NULL;
	struct keyd_reply rep;
	size_t pt_len = 0;

	(void)f;
	snprintf(url, sizeof(url), "/kbs/v0/resource/%s", path);
	call(svc, KEYD_GET, url, cookie, NULL, &rep);
	if (rep.status != 200)
		fail_msg("resource %s refused: %s", path, rep.body);
	assert_int_equal(
		jwe_decrypt(key, rep.body, strlen(rep.body), &pt, &pt_len, reason, sizeof(reason)),
		0);
	assert_int_equal(kdf_disk_secret(root_key, 32, policy_id, path, 1, want), 0);
	assert_int_equal(pt_len, sizeof(want));
	assert_memory_equal(pt, want, sizeof(want));
	secmem_free(pt);
	keyd_reply_done(&rep);
}

static void expect_release(struct fixture *f, const char *cookie, const char *path,
			   const char *policy_id, EVP_PKEY *key)
{
	expect_release_on(f, f->svc, cookie, path, policy_id, key);
}

/* Every audit line is one valid UTF-8 JSON object with the fields of docs/keyd.md. */
static size_t check_audit(const struct fixture *f)
{
	uint8_t *buf = NULL;
	size_t len = 0, n = 0;
	char *line, *save = NULL;

	assert_int_equal(file_read_all(f->cfg.audit_file, 64 << 20, &buf, &len), 0);
	assert_true(len > 0 && buf[len - 1] == '\n');
	assert_true(utf8_valid(buf, len));
	buf[len - 1] = '\0';
	for (line = strtok_r((char *)buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct json_object *o = json_tokener_parse(line), *v;

		if (!o)
			fail_msg("audit line is not JSON: %s", line);
		assert_true(json_object_object_get_ex(o, "verdict", &v));
		assert_true(json_object_object_get_ex(o, "reason", &v));
		json_object_put(o);
		n++;
	}
	free(buf);
	return n;
}

static void test_release_sealed_to_the_bound_key(void **state)
{
	struct fixture *f = *state;
	char cookie[COOKIE_HDR_MAX], nonce[KBS_NONCE_MAX_LEN + 1], reason[256];
	EVP_PKEY *key, *other = NULL;
	struct keyd_reply rep;
	uint8_t *pt = NULL;
	size_t pt_len;

	key = attested_session_nonce(f, cookie, nonce);
	expect_release(f, cookie, "a/disk/root", "a", key);
	/* A session fetches several resources of its policy (several disks). */
	expect_release(f, cookie, "a/disk/data", "a", key);

	/* Re-attesting with the spent nonce and another key, in a valid quote that binds that
	 * key, is refused: the key the JWE is sealed to cannot be swapped after attest. */
	assert_int_equal(jwk_generate_p256(&other), 0);
	attest(f, cookie, nonce, other, nonce, other, NULL, &rep);
	expect_error(&rep, 401, "AttestationError", "nonce already used");
	call(f->svc, KEYD_GET, "/kbs/v0/resource/a/disk/root", cookie, NULL, &rep);
	assert_int_equal(rep.status, 200);
	assert_int_equal(jwe_decrypt(other, rep.body, strlen(rep.body), &pt, &pt_len, reason,
				     sizeof(reason)),
			 -EBADMSG);
	keyd_reply_done(&rep);
	expect_release(f, cookie, "a/disk/root", "a", key);

	/* runtime-data names one key, REPORTDATA binds another: refused at attest. */
	auth(f->svc, cookie, nonce);
	attest(f, cookie, nonce, key, nonce, other, NULL, &rep);
	expect_error(&rep, 401, "AttestationError", "REPORTDATA does not bind");
	call(f->svc, KEYD_GET, "/kbs/v0/resource/a/disk/root", cookie, NULL, &rep);
	expect_error(&rep, 401, "TokenNotFound", "session has not attested");

	/* REPORTDATA binds another (well-formed, genuine) nonce: refused. */
	{
		char c2[COOKIE_HDR_MAX], n2[KBS_NONCE_MAX_LEN + 1];

		auth(f->svc, cookie, nonce);
		auth(f->svc, c2, n2);
		attest(f, cookie, nonce, key, n2, key, NULL, &rep);
		expect_error(&rep, 401, "AttestationError", "REPORTDATA does not bind");
		/* ...and that other session's nonce is not accepted on this one either. */
		attest(f, c2, nonce, key, nonce, key, NULL, &rep);
		expect_error(&rep, 401, "AttestationError", "not this session's nonce");
	}
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
	release_service_flush_auth(f->svc); /* auth records are aggregated per address */
	assert_true(check_audit(f) > 8);
}

static void test_release_only_under_the_covering_policy(void **state)
{
	struct fixture *f = *state;
	char cookie[COOKIE_HDR_MAX], nonce[KBS_NONCE_MAX_LEN + 1];
	struct tdx_td_body b_body = f->qo.body;
	struct keyd_reply rep;
	EVP_PKEY *key;

	/* Attested with image "a": policy b's resources stay closed to it. */
	key = attested_session(f, cookie);
	call(f->svc, KEYD_GET, "/kbs/v0/resource/b/disk/root", cookie, NULL, &rep);
	expect_error(&rep, 401, "PolicyDeny", "MRTD mismatch (policy b)");
	call(f->svc, KEYD_GET, "/kbs/v0/resource/c/disk/root", cookie, NULL, &rep);
	expect_error(&rep, 401, "PolicyDeny", "not covered by any policy");
	expect_release(f, cookie, "a/disk/root", "a", key);
	EVP_PKEY_free(key);

	/* Image "b" gets b's resources (and their own secrets), not a's. */
	b_body.mrtd[0] ^= 0xff;
	auth(f->svc, cookie, nonce);
	assert_int_equal(jwk_generate_p256(&key), 0);
	attest(f, cookie, nonce, key, nonce, key, &b_body, &rep);
	assert_int_equal(rep.status, 200);
	keyd_reply_done(&rep);
	expect_release(f, cookie, "b/disk/anything", "b", key);
	call(f->svc, KEYD_GET, "/kbs/v0/resource/a/disk/root", cookie, NULL, &rep);
	expect_error(&rep, 401, "PolicyDeny", "MRTD mismatch (policy a)");
	EVP_PKEY_free(key);

	/* Each measured field the policy lists is checked. */
	for (int field = 0; field < 4; field++) {
		struct tdx_td_body m = f->qo.body;
		static const char *const want[] = {"XFAM mismatch", "MRCONFIGID mismatch",
						   "MROWNER mismatch", "RTMR3 mismatch"};

		if (field == 0)
			m.xfam[7] ^= 1;
		else if (field == 1)
			m.mrconfigid[47] ^= 1;
		else if (field == 2)
			m.mrowner[0] ^= 1;
		else
			m.rtmr[3][10] ^= 1;
		auth(f->svc, cookie, nonce);
		assert_int_equal(jwk_generate_p256(&key), 0);
		attest(f, cookie, nonce, key, nonce, key, &m, &rep);
		if (rep.status != 200)
			fail_msg("attest %d: %s", field, rep.body);
		keyd_reply_done(&rep);
		call(f->svc, KEYD_GET, "/kbs/v0/resource/a/disk/root", cookie, NULL, &rep);
		expect_error(&rep, 401, "PolicyDeny", want[field]);
		EVP_PKEY_free(key);
	}
	check_audit(f);
}

/* TD attributes are chosen by the host when it creates the TD and are not part of MRTD: a policy
 * made from a quote pins them, so the same image started MIGRATABLE (or with any other attribute
 * changed) is refused; a policy without the field does not check them (DEBUG aside). */
static void test_td_attributes(void **state)
{
	struct fixture *f = *state;
	struct tdx_td_body m = f->qo.body;
	char cookie[COOKIE_HDR_MAX], nonce[KBS_NONCE_MAX_LEN + 1];
	struct keyd_reply rep;
	EVP_PKEY *key;

	m.td_attributes[3] |= 0x20; /* bit 29: MIGRATABLE */
	auth(f->svc, cookie, nonce);
	assert_int_equal(jwk_generate_p256(&key), 0);
	attest(f, cookie, nonce, key, nonce, key, &m, &rep);
	assert_int_equal(rep.status, 200);
	keyd_reply_done(&rep);
	call(f->svc, KEYD_GET, "/kbs/v0/resource/a/disk/root", cookie, NULL, &rep);
	expect_error(&rep, 401, "PolicyDeny", "TD attributes mismatch (policy a)");

	/* A policy that waives td_attributes applies the allow-list: MIGRATABLE is still refused,
	 * SEPT_VE_DISABLE | PKS pass. One written before the field existed no longer loads. */
	{
		char *doc = NULL, *text = NULL;
		struct json_object *o, *sets, *set;

		assert_int_equal(policy_from_td_body(&f->qo.body, "a", "a/disk/root", &doc), 0);
		o = json_tokener_parse(doc);
		assert_true(json_object_object_get_ex(o, "measurements", &sets));
		set = json_object_array_get_idx(sets, 0);
		json_object_object_del(set, "td_attributes");
		assert_true(asprintf(&text, "%s", json_object_to_json_string(o)) > 0);
		write_text("policies/a.json", text);
		free(text);
		assert_int_equal(release_service_reload(f->svc), -EINVAL);
		json_object_object_add(set, "td_attributes",
				       json_tokener_parse("{\"waive\": \"host picks them\"}"));
		assert_true(asprintf(&text, "%s", json_object_to_json_string(o)) > 0);
		write_text("policies/a.json", text);
		json_object_put(o);
		free(doc);
		free(text);
	}
	assert_int_equal(release_service_reload(f->svc), 0);
	call(f->svc, KEYD_GET, "/kbs/v0/resource/a/disk/root", cookie, NULL, &rep);
	expect_error(&rep, 401, "PolicyDeny",
		     "TD attributes mismatch (MIGRATABLE set, not on the allow-list) (policy a)");
	EVP_PKEY_free(key);
	m = f->qo.body;
	m.td_attributes[3] |= 0x40; /* bit 30: PKS, on the allow-list */
	auth(f->svc, cookie, nonce);
	assert_int_equal(jwk_generate_p256(&key), 0);
	attest(f, cookie, nonce, key, nonce, key, &m, &rep);
	assert_int_equal(rep.status, 200);
	keyd_reply_done(&rep);
	expect_release(f, cookie, "a/disk/root", "a", key);
	EVP_PKEY_free(key);
}

/* attest with the given event logs for a quote of body. */
static void attest_logs(struct fixture *f, const struct tdx_td_body *body, const uint8_t *ccel,
			size_t ccel_len, const char *aael, struct keyd_reply *rep)
{
	struct quotesim_quote_opts qo = f->qo;
	char cookie[COOKIE_HDR_MAX], nonce[KBS_NONCE_MAX_LEN + 1], *req = NULL;
	struct json_object *jwk = NULL;
	uint8_t rd[KBS_REPORT_DATA_LEN], *quote = NULL;
	size_t quote_len;
	EVP_PKEY *key;

	qo.body = *body;
	auth(f->svc, cookie, nonce);
	assert_int_equal(jwk_generate_p256(&key), 0);
	assert_int_equal(jwk_from_public_key(key, 1, &jwk), 0);
	assert_int_equal(kbs_report_data(nonce, jwk, rd), 0);
	assert_int_equal(quotesim_quote(f->sim, &qo, rd, &quote, &quote_len), 0);
	assert_int_equal(
		kbs_attest_request_build(nonce, key, quote, quote_len, ccel, ccel_len, aael, &req),
		0);
	call(f->svc, KEYD_POST, "/kbs/v0/attest", cookie, req, rep);
	json_object_put(jwk);
	EVP_PKEY_free(key);
	free(quote);
	free(req);
}

/* The event logs sent with a quote are replayed at /attest: logs that reproduce its RTMRs pass,
 * a changed CCEL byte or AAEL line is refused naming the register, a malformed log is refused.
 * Uses the real COS CCEL and its quote's RTMR0-2 (skipped without $TDX_TESTDATA). */
static void test_eventlogs_replayed_at_attest(void **state)
{
	static const char aael[] = "INIT sha384/000000000000000000000000000000000000000000000000"
				   "000000000000000000000000000000000000000000000000\n"
				   "tdx-unlock released 2f1c3a6e-0000-4000-8000-000000000001\n";
	struct fixture *f = *state;
	struct tdx_td_body m = f->qo.body;
	const char *td = getenv("TDX_TESTDATA");
	uint8_t *ccel = NULL, *raw = NULL;
	size_t ccel_len, raw_len;
	struct tdx_quote real;
	struct aael_log *log = NULL;
	struct keyd_reply rep;
	char *p = NULL, *bad;

	if (!td || asprintf(&p, "%s/ccel/ccel_data.bin", td) < 0 ||
	    file_read_all(p, 512 * 1024, &ccel, &ccel_len) < 0) {
		free(p);
		printf("skipped: no real CCEL under $TDX_TESTDATA/ccel\n");
		return;
	}
	free(p);
	assert_true(asprintf(&p, "%s/ccel/cos-113-tdx-quote.bin", td) > 0);
	assert_int_equal(file_read_all(p, 65536, &raw, &raw_len), 0);
	free(p);
	assert_int_equal(quote_parse(raw, raw_len, &real, NULL, 0), 0);
	memcpy(m.rtmr, real.body.rtmr, sizeof(m.rtmr));
	assert_int_equal(aael_parse((const uint8_t *)aael, strlen(aael), &log, NULL, 0), 0);
	assert_int_equal(aael_replay(log, m.rtmr[3]), 0);
	aael_log_free(log);

	attest_logs(f, &m, ccel, ccel_len, aael, &rep);
	if (rep.status != 200)
		fail_msg("consistent logs refused: %s", rep.body);
	keyd_reply_done(&rep);

	bad = strdup(aael);
	bad[strlen(bad) - 2] ^= 1; /* last UUID digit */
	attest_logs(f, &m, ccel, ccel_len, bad, &rep);
	expect_error(&rep, 401, "AttestationError", "event log replay mismatch: RTMR3 (AAEL)");
	bad[strlen(bad) - 1] = 'x'; /* no final newline */
	attest_logs(f, &m, ccel, ccel_len, bad, &rep);
	expect_error(&rep, 401, "AttestationError", "AAEL: line 2: truncated");
	free(bad);

	ccel[65 + 12 + 2 + 7] ^= 0x40; /* a byte of the first event's digest (RTMR0) */
	attest_logs(f, &m, ccel, ccel_len, aael, &rep);
	expect_error(&rep, 401, "AttestationError", "event log replay mismatch: RTMR0 (CCEL)");
	attest_logs(f, &m, ccel, 100, aael, &rep);
	expect_error(&rep, 401, "AttestationError", "CCEL: event 1: truncated");
	free(ccel);
	free(raw);
}

/* A Revoked TCB ends at /attest: no session, no token, whatever a policy lists. */
static void test_revoked_tcb_refused_at_attest(void **state)
{
	struct fixture *f = *state;
	struct quotesim_collateral_opts co = {.tcb_status = "Revoked"};
	char cookie[COOKIE_HDR_MAX], nonce[KBS_NONCE_MAX_LEN + 1];
	struct keyd_reply rep;
	char *d = path_in("collateral/" FMSPC_DIR);
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;

	assert_int_equal(quotesim_collateral_write(f->sim, d, &co), 0);
	free(d);
	assert_int_equal(release_service_reload(f->svc), 0);
	auth(f->svc, cookie, nonce);
	assert_int_equal(jwk_generate_p256(&key), 0);
	attest(f, cookie, nonce, key, nonce, key, NULL, &rep);
	expect_error(&rep, 401, "AttestationError", "TCB status Revoked refused");
	call(f->svc, KEYD_GET, "/kbs/v0/resource/a/disk/root", cookie, NULL, &rep);
	assert_int_equal(rep.status, 401);
	keyd_reply_done(&rep);
}

/* Against the policy policy-from-quote writes for the simulator's TD, a quote that differs in
 * one field only is refused, naming that field. */
static void test_one_field_differs(void **state)
{
	static const struct {
		const char *detail;
		int version;
	} cases[] = {
		{"TD attributes mismatch (policy a)", 4}, {"RTMR2 mismatch (policy a)", 4},
		{"RTMR3 mismatch (policy a)", 4},	  {"MRSERVICETD mismatch", 5},
		{"MROWNERCONFIG mismatch (policy a)", 4},
	};
	struct fixture *f = *state;
	char cookie[COOKIE_HDR_MAX], nonce[KBS_NONCE_MAX_LEN + 1];
	struct keyd_reply rep;
	EVP_PKEY *key;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tdx_td_body m = f->qo.body;
		struct quotesim_quote_opts saved = f->qo;

		switch (i) {
		case 0:
			m.td_attributes[3] |= 0x20; /* MIGRATABLE */
			break;
		case 1:
			m.rtmr[2][47] ^= 1;
			break;
		case 2:
			m.rtmr[3][0] ^= 0x80;
			break;
		case 3:
			f->qo.version = 5;
			f->qo.body_type = 3;
			m.mrservicetd[0] = 0x5e;
			break;
		default:
			m.mrownerconfig[7] ^= 1;
		}
		auth(f->svc, cookie, nonce);
		assert_int_equal(jwk_generate_p256(&key), 0);
		attest(f, cookie, nonce, key, nonce, key, &m, &rep);
		if (rep.status != 200)
			fail_msg("case %zu: attest refused: %s", i, rep.body);
		keyd_reply_done(&rep);
		call(f->svc, KEYD_GET, "/kbs/v0/resource/a/disk/root", cookie, NULL, &rep);
		expect_error(&rep, 401, "PolicyDeny", cases[i].detail);
		EVP_PKEY_free(key);
		f->qo = saved;
	}
	/* The unchanged TD, as a v5 quote with MRSERVICETD zero, is released. */
	f->qo.version = 5;
	f->qo.body_type = 3;
	key = attested_session(f, cookie);
	expect_release(f, cookie, "a/disk/root", "a", key);
	EVP_PKEY_free(key);
}

/* Policy conditions on the verified collateral, evaluated at resource time against the policy in
 * force then (a reload between attest and resource applies). */
static void test_collateral_age_and_eval_number(void **state)
{
	struct fixture *f = *state;
	char cookie[COOKIE_HDR_MAX];
	struct keyd_reply rep;
	EVP_PKEY *key;

	/* Collateral issued 3 days ago, still valid. */
	write_collateral(f->sim, time(NULL) - 3 * 86400);
	write_policy("policies/a.json", "a", &f->qo.body, "[\"a/disk/root\"]",
		     "\"max_collateral_age_days\": 2");
	assert_int_equal(release_service_reload(f->svc), 0);
	key = attested_session(f, cookie);
	call(f->svc, KEYD_GET, "/kbs/v0/resource/a/disk/root", cookie, NULL, &rep);
	expect_error(&rep, 401, "PolicyDeny", "collateral older than 2 days (policy a)");

	/* The age is that of the older of TCB info and QE identity: fresh CRLs and a fresh QE
	 * identity do not make 3-day-old TCB info look new. */
	{
		struct quotesim_window fresh = {time(NULL) - 3600, time(NULL) + 10 * 86400};
		struct quotesim_window old = {time(NULL) - 3 * 86400, time(NULL) + 10 * 86400};
		struct quotesim_collateral_opts co = {.tcb_info = old};
		char *d = path_in("collateral/" FMSPC_DIR);

		co.qe_identity = co.pck_crl = co.root_crl = fresh;
		assert_int_equal(quotesim_collateral_write(f->sim, d, &co), 0);
		free(d);
		assert_int_equal(release_service_reload(f->svc), 0);
		EVP_PKEY_free(key);
		key = attested_session(f, cookie);
		call(f->svc, KEYD_GET, "/kbs/v0/resource/a/disk/root", cookie, NULL, &rep);
		expect_error(&rep, 401, "PolicyDeny", "collateral older than 2 days (policy a)");
	}

	write_policy("policies/a.json", "a", &f->qo.body, "[\"a/disk/root\"]",
		     "\"max_collateral_age_days\": 4, \"min_tcb_eval_number\": 18");
	assert_int_equal(release_service_reload(f->svc), 0);
	call(f->svc, KEYD_GET, "/kbs/v0/resource/a/disk/root", cookie, NULL, &rep);
	expect_error(&rep, 401, "PolicyDeny",
		     "TCB evaluation data number 17 below the minimum 18 of policy a");

	write_policy("policies/a.json", "a", &f->qo.body, "[\"a/disk/root\"]",
		     "\"max_collateral_age_days\": 4, \"min_tcb_eval_number\": 17");
	assert_int_equal(release_service_reload(f->svc), 0);
	expect_release(f, cookie, "a/disk/root", "a", key);

	/* TCB status: OutOfDate collateral for this platform is refused by the default. */
	{
		struct quotesim_collateral_opts co = {.tcb_status = "OutOfDate"};
		char *d = path_in("collateral/" FMSPC_DIR);

		assert_int_equal(quotesim_collateral_write(f->sim, d, &co), 0);
		free(d);
	}
	assert_int_equal(release_service_reload(f->svc), 0);
	EVP_PKEY_free(key);
	key = attested_session(f, cookie);
	call(f->svc, KEYD_GET, "/kbs/v0/resource/a/disk/root", cookie, NULL, &rep);
	expect_error(&rep, 401, "PolicyDeny", "TCB status OutOfDate not accepted by policy a");
	write_policy("policies/a.json", "a", &f->qo.body, "[\"a/disk/root\"]",
		     "\"tcb_statuses\": [\"UpToDate\", \"OutOfDate\"]");
	assert_int_equal(release_service_reload(f->svc), 0);
	expect_release(f, cookie, "a/disk/root", "a", key);
	EVP_PKEY_free(key);

	/* DEBUG is refused even when a policy lists the debug TD's exact measurements. */
	{
		struct tdx_td_body dbg = f->qo.body;
		char nonce[KBS_NONCE_MAX_LEN + 1];

		dbg.td_attributes[0] |= 1;
		write_policy("policies/a.json", "a", &dbg, "[\"a/disk/root\"]", "");
		assert_int_equal(release_service_reload(f->svc), 0);
		auth(f->svc, cookie, nonce);
		assert_int_equal(jwk_generate_p256(&key), 0);
		attest(f, cookie, nonce, key, nonce, key, &dbg, &rep);
		expect_error(&rep, 401, "AttestationError", "debug TD refused");
		call(f->svc, KEYD_GET, "/kbs/v0/resource/a/disk/root", cookie, NULL, &rep);
		expect_error(&rep, 401, "TokenNotFound", "session has not attested");
		EVP_PKEY_free(key);
	}
	check_audit(f);
}

static void test_resource_paths(void **state)
{
	static const char *const bad[] = {"a/disk/../root",
					  "a/disk/..",
					  "../disk/root",
					  "a/../root",
					  "a/./root",
					  "a/disk/.",
					  "a/disk/%2e%2e",
					  "a/disk%2Froot",
					  "a%2Fdisk%2Froot",
					  "a//root",
					  "a/disk/root/",
					  "/a/disk/root",
					  "a/disk",
					  "a/disk/root/x",
					  "a/disk/root%00",
					  "a/disk/ro ot",
					  "a/disk/r\\oot",
					  "a/disk/root?x=1#",
					  "",
					  "a/disk/r\xc3\xa9"};
	struct fixture *f = *state;
	char cookie[COOKIE_HDR_MAX], url[1024];
	struct keyd_reply rep;
	EVP_PKEY *key;

	key = attested_session(f, cookie);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(url, sizeof(url), "/kbs/v0/resource/%s", bad[i]);
		call(f->svc, KEYD_GET, url, cookie, NULL, &rep);
		if (rep.status != 404)
			fail_msg("path \"%s\": HTTP %d %s", bad[i], rep.status, rep.body);
		expect_error(&rep, 404, "InvalidRequestPath", "resource path is not repo/type/tag");
	}
	/* Overlong. */
	memset(url, 'x', sizeof(url) - 1);
	url[sizeof(url) - 1] = '\0';
	memcpy(url, "/kbs/v0/resource/a/disk/", 24);
	call(f->svc, KEYD_GET, url, cookie, NULL, &rep);
	expect_error(&rep, 404, "InvalidRequestPath", "not repo/type/tag");
	/* Names are case-sensitive: another case is another (uncovered) resource. */
	call(f->svc, KEYD_GET, "/kbs/v0/resource/A/disk/root", cookie, NULL, &rep);
	expect_error(&rep, 401, "PolicyDeny", "not covered by any policy");
	call(f->svc, KEYD_GET, "/kbs/v0/resource/a/Disk/root", cookie, NULL, &rep);
	expect_error(&rep, 401, "PolicyDeny", "not covered by any policy");
	/* The prefix entry b/disk/(star) does not cover b/diskette/x. */
	call(f->svc, KEYD_GET, "/kbs/v0/resource/b/diskette/x", cookie, NULL, &rep);
	expect_error(&rep, 401, "PolicyDeny", "not covered by any policy");
	/* Other endpoints and methods. */
	call(f->svc, KEYD_POST, "/kbs/v0/resource/a/disk/root", cookie, "{}", &rep);
	expect_error(&rep, 404, "PluginNotFound", "no such endpoint");
	call(f->svc, KEYD_GET, "/kbs/v0/resource", cookie, NULL, &rep);
	expect_error(&rep, 404, "PluginNotFound", "no such endpoint");
	call(f->svc, KEYD_GET, "/kbs/v0/resource/", cookie, NULL, &rep);
	expect_error(&rep, 404, "InvalidRequestPath", "not repo/type/tag");
	call(f->svc, KEYD_GET, NULL, cookie, NULL, &rep);
	expect_error(&rep, 404, "PluginNotFound", "no such endpoint");
	expect_release(f, cookie, "a/disk/root", "a", key);
	EVP_PKEY_free(key);
	check_audit(f);
}

static void test_cookies(void **state)
{
	struct fixture *f = *state;
	char cookie[COOKIE_HDR_MAX], hdr[2 * COOKIE_HDR_MAX + 64];
	struct release_service *replica = NULL, *foreign = NULL;
	char *saved_key;
	struct keyd_reply rep;
	EVP_PKEY *key;
	size_t n;

	key = attested_session(f, cookie);
	/* Other cookies around ours are fine. */
	snprintf(hdr, sizeof(hdr), "a=1; %s; theme=dark", cookie);
	expect_release(f, hdr, "a/disk/root", "a", key);
	snprintf(hdr, sizeof(hdr), "%s;x=kbs-session-id=0", cookie);
	expect_release(f, hdr, "a/disk/root", "a", key);
	/* Ours twice (even with the same value), empty, too long: refused. */
	snprintf(hdr, sizeof(hdr), "%s; %s", cookie, cookie);
	call(f->svc, KEYD_GET, "/kbs/v0/resource/a/disk/root", hdr, NULL, &rep);
	expect_error(&rep, 401, "TokenNotFound", "malformed or repeated kbs-session-id cookie");
	call(f->svc, KEYD_GET, "/kbs/v0/resource/a/disk/root", "kbs-session-id=", NULL, &rep);
	expect_error(&rep, 401, "TokenNotFound", "malformed or repeated");
	n = (size_t)snprintf(hdr, sizeof(hdr), "kbs-session-id=");
	memset(hdr + n, 'A', SESSION_COOKIE_MAX + 1);
	hdr[n + SESSION_COOKIE_MAX + 1] = '\0';
	call(f->svc, KEYD_GET, "/kbs/v0/resource/a/disk/root", hdr, NULL, &rep);
	expect_error(&rep, 401, "TokenNotFound", "malformed or repeated");
	/* One character changed (tampered), one cut off: refused by name. */
	snprintf(hdr, sizeof(hdr), "%s", cookie);
	n = strlen(hdr) / 2;
	hdr[n] = hdr[n] == 'A' ? 'B' : 'A';
	call(f->svc, KEYD_GET, "/kbs/v0/resource/a/disk/root", hdr, NULL, &rep);
	expect_error(&rep, 401, "TokenNotFound", "kbs-session-id fails authentication");
	snprintf(hdr, sizeof(hdr), "%.*s", (int)strlen(cookie) - 4, cookie);
	call(f->svc, KEYD_GET, "/kbs/v0/resource/a/disk/root", hdr, NULL, &rep);
	expect_error(&rep, 401, "TokenNotFound", "kbs-session-id");
	/* An id of the old form, or any short value, is not a sealed session. */
	call(f->svc, KEYD_GET, "/kbs/v0/resource/a/disk/root",
	     "kbs-session-id=0123456789abcdef0123456789abcdef", NULL, &rep);
	expect_error(&rep, 401, "TokenNotFound", "not a sealed session");
	/* Another name that merely contains ours. */
	snprintf(hdr, sizeof(hdr), "x%s", cookie);
	call(f->svc, KEYD_GET, "/kbs/v0/resource/a/disk/root", hdr, NULL, &rep);
	expect_error(&rep, 401, "TokenNotFound", "missing kbs-session-id cookie");
	/* Bytes outside base64url (control, quote, non-UTF-8): refused, and the audit log stays
	 * one valid JSON record per line. */
	memcpy(hdr, "kbs-session-id=", 15);
	memset(hdr + 15, 0xff, 32);
	hdr[16] = '"';
	hdr[17] = '\x01';
	hdr[18] = '\\';
	hdr[15 + 32] = '\0';
	call(f->svc, KEYD_GET, "/kbs/v0/resource/a/disk/root", hdr, NULL, &rep);
	expect_error(&rep, 401, "TokenNotFound", "malformed or repeated");
	call(f->svc, KEYD_POST, "/kbs/v0/attest", hdr, "{}", &rep);
	expect_error(&rep, 401, "AttestationError", "malformed or repeated");

	/* Stateless: another replica with the same root key serves the session; a keyd with
	 * another root key names the cookie as another fleet's. */
	assert_int_equal(release_service_new(&f->cfg, &replica), 0);
	expect_release_on(f, replica, cookie, "a/disk/root", "a", key);
	saved_key = f->cfg.root_key_file;
	f->cfg.root_key_file = f->other_root_key;
	assert_int_equal(release_service_new(&f->cfg, &foreign), 0);
	f->cfg.root_key_file = saved_key;
	call(foreign, KEYD_GET, "/kbs/v0/resource/a/disk/root", cookie, NULL, &rep);
	expect_error(&rep, 401, "TokenNotFound", "sealed under another key");
	release_service_free(replica);
	release_service_free(foreign);
	EVP_PKEY_free(key);
	check_audit(f);
}

/* A session that expires between attest and resource releases nothing. */
static void test_expiry_after_attest(void **state)
{
	struct fixture *f = *state;
	struct release_service *saved = f->svc;
	char cookie[COOKIE_HDR_MAX];
	struct keyd_reply rep;
	EVP_PKEY *key;

	/* Two seconds: the cookie's expiry counts whole seconds, so a session lives lifetime - 1 ..
	 * lifetime. */
	f->cfg.limits.session_lifetime_s = 2;
	assert_int_equal(release_service_new(&f->cfg, &f->svc), 0);
	key = attested_session(f, cookie);
	expect_release(f, cookie, "a/disk/root", "a", key);
	sleep(2);
	release_service_tick(f->svc);
	call(f->svc, KEYD_GET, "/kbs/v0/resource/a/disk/root", cookie, NULL, &rep);
	expect_error(&rep, 401, "TokenNotFound", "session expired");
	EVP_PKEY_free(key);

	/* Sessions live in their cookies: a table of one spent nonce and a flood of auths
	 * leave an attested session working; a second attest finds the table full of attested
	 * entries (never evicted for another session) and is refused by name. */
	release_service_free(f->svc);
	f->cfg.limits.session_lifetime_s = 300;
	f->cfg.limits.max_sessions = 1;
	assert_int_equal(release_service_new(&f->cfg, &f->svc), 0);
	key = attested_session(f, cookie);
	for (int i = 0; i < 50; i++) {
		char c2[COOKIE_HDR_MAX], n2[KBS_NONCE_MAX_LEN + 1];

		auth(f->svc, c2, n2);
	}
	expect_release(f, cookie, "a/disk/root", "a", key);
	{
		char c2[COOKIE_HDR_MAX], n2[KBS_NONCE_MAX_LEN + 1];

		auth(f->svc, c2, n2);
		attest(f, c2, n2, key, n2, key, NULL, &rep);
		expect_error(&rep, 401, "AttestationError", "session table full");
	}
	EVP_PKEY_free(key);
	release_service_free(f->svc);
	f->cfg.limits.max_sessions = 1000;
	f->svc = saved;
}

/* /auth per address: a flood from one address is cut to its burst and rate, other addresses and
 * an established session are untouched, and the audit gets one record per address, not one
 * per request. */
static void test_auth_flood(void **state)
{
	static const char body[] = "{\"version\":\"0.4.0\",\"tee\":\"tdx\",\"extra-params\":{}}";
	struct fixture *f = *state;
	struct release_service *saved = f->svc;
	char cookie[COOKIE_HDR_MAX], *buf = NULL;
	struct keyd_reply rep;
	size_t lines, len = 0;
	unsigned ok = 0, limited = 0;
	EVP_PKEY *key;

	f->cfg.limits.auth_rate_per_s = 1;
	f->cfg.limits.auth_burst = 3;
	assert_int_equal(release_service_new(&f->cfg, &f->svc), 0);
	key = attested_session(f, cookie); /* from 127.0.0.1: one token spent */
	release_service_flush_auth(f->svc);
	lines = check_audit(f);
	for (int i = 0; i < 1000; i++) {
		struct keyd_request req = {.method = KEYD_POST,
					   .path = "/kbs/v0/auth",
					   .body = body,
					   .body_len = strlen(body),
					   .peer = "10.9.9.9:4000",
					   .peer_addr = "10.9.9.9"};

		release_service_handle(f->svc, &req, &rep);
		if (rep.status == 200)
			ok++;
		else if (rep.status == 429)
			limited++;
		keyd_reply_done(&rep);
	}
	assert_int_equal(ok, 3);
	assert_int_equal(limited, 997);
	/* The flood's address is refused; the established session and another address are not. */
	expect_release(f, cookie, "a/disk/root", "a", key);
	{
		char c2[COOKIE_HDR_MAX], n2[KBS_NONCE_MAX_LEN + 1];

		auth(f->svc, c2, n2);
	}
	release_service_flush_auth(f->svc);
	/* 1000 requests, two records: the flooding address and 127.0.0.1 (an auth and a release).
	 */
	assert_int_equal(check_audit(f), lines + 3);
	assert_int_equal(file_read_all(f->cfg.audit_file, 64 << 20, (uint8_t **)&buf, &len), 0);
	buf = realloc(buf, len + 1);
	assert_non_null(buf);
	buf[len] = '\0';
	assert_non_null(strstr(buf,
			       "\"peer\":\"10.9.9.9\",\"session\":null,\"resource\":null,"
			       "\"policy\":null,\"tcb_status\":null,\"verdict\":\"deny\","
			       "\"reason\":\"3 challenges issued, 0 refused, 997 rate-limited"));
	free(buf);
	EVP_PKEY_free(key);
	release_service_free(f->svc);
	f->cfg.limits.auth_rate_per_s = 1000000;
	f->cfg.limits.auth_burst = 1000000;
	f->svc = saved;
}

/* Expired collateral is looked for again on disk once a minute: an unchanged directory must not
 * add a copy each time (the store would grow by one collateral a minute while it stays
 * expired), and newer collateral must replace it. */
static void test_collateral_store_recheck(void **state)
{
	static const uint8_t fmspc[6] = {0x00, 0x90, 0x6e, 0xd5, 0x00, 0x00};
	struct fixture *f = *state;
	const struct dcap_collateral *c1 = NULL, *c = NULL;
	struct collateral_store *st = NULL;
	time_t nb, na, nb2, na2, now = time(NULL);

	assert_int_equal(collateral_store_new(f->cfg.collateral_dir, &st), 0);
	assert_int_equal(collateral_store_get(st, fmspc, now, &c1, NULL, 0), 0);
	dcap_collateral_window(c1, &nb, &na);
	for (int i = 1; i <= 5; i++) {
		/* Expired at these times, checked over a minute ago each time. */
		assert_int_equal(collateral_store_get(st, fmspc, na + i * 100, &c, NULL, 0), 0);
		assert_ptr_equal(c, c1);
	}
	/* Newer collateral on disk is picked up at the next check. */
	{
		struct quotesim_collateral_opts co = {0};
		struct quotesim_window w = {now - 3600, na + 86400};
		char *d = path_in("collateral/" FMSPC_DIR);

		co.tcb_info = co.qe_identity = co.pck_crl = co.root_crl = w;
		assert_int_equal(quotesim_collateral_write(f->sim, d, &co), 0);
		free(d);
	}
	assert_int_equal(collateral_store_get(st, fmspc, na + 700, &c, NULL, 0), 0);
	assert_ptr_not_equal(c, c1);
	dcap_collateral_window(c, &nb2, &na2);
	assert_true(na2 > na);
	/* c1 stays valid until the store goes (a request may still hold it). */
	dcap_collateral_window(c1, &nb2, &na2);
	assert_int_equal(na2, na);
	collateral_store_free(st);
}

struct worker {
	struct fixture *f;
	int sessions, released;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < w->sessions; i++) {
		char cookie[COOKIE_HDR_MAX], url[] = "/kbs/v0/resource/a/disk/root", reason[128];
		struct keyd_reply rep;
		uint8_t *pt = NULL;
		size_t pt_len;
		EVP_PKEY *key = attested_session(w->f, cookie);

		call(w->f->svc, KEYD_GET, url, cookie, NULL, &rep);
		if (rep.status == 200 && jwe_decrypt(key, rep.body, strlen(rep.body), &pt, &pt_len,
						     reason, sizeof(reason)) == 0)
			w->released++;
		secmem_free(pt);
		keyd_reply_done(&rep);
		EVP_PKEY_free(key);
	}
	return NULL;
}

/* Workers run sessions while the main thread reloads policies and expires sessions (run this
 * under -fsanitize=thread and address). */
static void test_concurrent_sessions_and_reloads(void **state)
{
	struct fixture *f = *state;
	struct worker w[3];
	pthread_t th[3];

	for (int i = 0; i < 3; i++) {
		w[i] = (struct worker){.f = f, .sessions = 15};
		assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < 30; i++) {
		assert_int_equal(release_service_reload(f->svc), 0);
		release_service_tick(f->svc);
		usleep(5000);
	}
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].released, w[i].sessions);
	}
	check_audit(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_release_sealed_to_the_bound_key, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_release_only_under_the_covering_policy, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_td_attributes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_field_differs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoked_tcb_refused_at_attest, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_eventlogs_replayed_at_attest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_collateral_age_and_eval_number, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_resource_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cookies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry_after_attest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth_flood, setup, teardown),
		cmocka_unit_test_setup_teardown(test_collateral_store_recheck, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_sessions_and_reloads, setup,
						teardown),
	};
	char *cmd = NULL, *log = NULL;
	int r, fd, saved;

	if (!mkdtemp(dir))
		return 1;
	/* Audit lines and keyd's log go to stderr, and so do cmocka's failure messages: collect
	 * them in a file and show all but the audit lines. */
	log = path_in("stderr.log");
	saved = dup(2);
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	dup2(saved, 2);
	close(fd);
	close(saved);
	if (asprintf(&cmd,
		     "grep -av -e '^{\"time\"' -e '^tdx-unlock: ' '%s' | tail -n 40 >&2; rm -rf "
		     "'%s'",
		     log, dir) > 0 &&
	    system(cmd) != 0)
		r = r ? r : 1;
	free(cmd);
	free(log);
	return r;
}
