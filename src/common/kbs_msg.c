#include "kbs_msg.h"

#include "b64.h"
#include "cleanup.h"
#include "jcs.h"
#include "json_build.h"
#include "json_strict.h"
#include "jwk.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	int http_status;
} kbs_error_types[_KBS_ERR_MAX] = {
	[KBS_ERR_ATTESTATION] = {"AttestationError", 401},
	[KBS_ERR_TOKEN_NOT_FOUND] = {"TokenNotFound", 401},
	[KBS_ERR_TOKEN_VERIFIER] = {"TokenVerifierError", 401},
	[KBS_ERR_POLICY_DENY] = {"PolicyDeny", 401},
	[KBS_ERR_INVALID_REQUEST_PATH] = {"InvalidRequestPath", 404},
	[KBS_ERR_PLUGIN_NOT_FOUND] = {"PluginNotFound", 404},
	[KBS_ERR_JWE] = {"JweError", 401},
	[KBS_ERR_SERDE] = {"SerdeError", 401},
};

/* Serialises a message built with checked adders compactly into a malloc'ed string; added is
 * the adders' result (a failed adder, or obj NULL, is out of memory). */
static int to_text(struct json_object *obj, int added, const char *what, char **out)
{
	const char *text =
		obj && added == 0
			? json_object_to_json_string_ext(
				  obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
			: NULL;

	*out = text ? strdup(text) : NULL;
	if (!*out)
		return log_error_errno(-ENOMEM, "%s: out of memory", what);
	return 0;
}

/* Parses body as a JSON object with only the allowed members. */
static int parse_object(const char *body, size_t len, const char *what, const char *const *allowed,
			struct json_object **out, char *reason, size_t reason_len)
{
	_cleanup_(json_object_putp) struct json_object *obj = NULL;
	char why[256];
	int r;

	r = json_strict_parse(body, len, KBS_MSG_MAX_LEN, &obj, why, sizeof(why));
	if (r < 0)
		return json_strict_fail(reason, reason_len, r, "%s: %s", what, why);
	if (!json_object_is_type(obj, json_type_object))
		return json_strict_fail(reason, reason_len, -EINVAL, "%s: not a JSON object", what);
	r = json_strict_only_members(obj, what, allowed, reason, reason_len);
	if (r < 0)
		return r;
	*out = TAKE_PTR(obj);
	return 0;
}

/* parse_object(), then its members read by table (json_strict_fields: same refusals as the
 * single getters). */
static int parse_fields(const char *body, size_t len, const char *what, const char *const *allowed,
			const struct json_field *fields, size_t n_fields, struct json_object **out,
			char *reason, size_t reason_len)
{
	int r = parse_object(body, len, what, allowed, out, reason, reason_len);

	return r < 0 ? r : json_strict_fields(*out, what, fields, n_fields, reason, reason_len);
}

/* The object member key of obj, holding only the allowed members. */
static int get_closed_object(struct json_object *obj, const char *what, const char *key,
			     const char *const *allowed, struct json_object **out, char *reason,
			     size_t reason_len)
{
	int r = json_strict_get_object(obj, what, key, out, reason, reason_len);

	return r < 0 ? r : json_strict_only_members(*out, key, allowed, reason, reason_len);
}

/* Copies a nonce member's value s into nonce, refusing an empty one. */
static int nonce_store(const char *what, const char *s, char nonce[KBS_NONCE_MAX_LEN + 1],
		       char *reason, size_t reason_len)
{
	if (!*s)
		return json_strict_fail(reason, reason_len, -EINVAL, "%s: 'nonce' is empty", what);
	snprintf(nonce, KBS_NONCE_MAX_LEN + 1, "%s", s);
	return 0;
}

static int get_nonce(struct json_object *obj, const char *what, char nonce[KBS_NONCE_MAX_LEN + 1],
		     char *reason, size_t reason_len)
{
	const char *s;
	int r;

	r = json_strict_get_string(obj, what, "nonce", KBS_NONCE_MAX_LEN, &s, reason, reason_len);
	return r < 0 ? r : nonce_store(what, s, nonce, reason, reason_len);
}

int kbs_auth_request_build(char **out)
{
	_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
	int r = o ? json_add_string(o, "version", KBS_PROTOCOL_VERSION) ?:
			    json_add_string(o, "tee", KBS_TEE_TDX) ?:
			    json_add_member(o, "extra-params", json_object_new_object())
		  : -ENOMEM;

	return to_text(o, r, "auth request", out);
}

int kbs_auth_request_parse(const char *body, size_t len, char *reason, size_t reason_len)
{
	static const char *const members[] = {"version", "tee", "extra-params", NULL};
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	const char *version, *tee;
	int r;

	r = parse_object(body, len, "auth request", members, &o, reason, reason_len);
	if (r < 0)
		return r;
	r = json_strict_get_string(o, "auth request", "version", 64, &version, reason, reason_len);
	if (r < 0)
		return r;
	if (strcmp(version, KBS_PROTOCOL_VERSION) != 0)
		return json_strict_fail(reason, reason_len, -EPROTONOSUPPORT,
					"auth request: protocol version \"%.32s\" not supported, "
					"expected " KBS_PROTOCOL_VERSION,
					version);
	r = json_strict_get_string(o, "auth request", "tee", 64, &tee, reason, reason_len);
	if (r < 0)
		return r;
	if (strcmp(tee, KBS_TEE_TDX) != 0)
		return json_strict_fail(reason, reason_len, -EOPNOTSUPP,
					"auth request: tee \"%.32s\" not supported, only tdx", tee);
	return 0;
}

int kbs_challenge_build(const char *nonce, char **out)
{
	_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
	int r;

	if (!nonce || !*nonce || strlen(nonce) > KBS_NONCE_MAX_LEN)
		return log_error_errno(-EINVAL, "challenge: nonce empty or too long");
	r = o ? json_add_string(o, "nonce", nonce) ?: json_add_string(o, "extra-params", "")
	      : -ENOMEM;
	return to_text(o, r, "challenge", out);
}

int kbs_challenge_parse(const char *body, size_t len, struct kbs_challenge *out, char *reason,
			size_t reason_len)
{
	static const char *const members[] = {"nonce", "extra-params", NULL};
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	struct json_object *extra, *sel;
	const char *nonce = NULL;
	const struct json_field fields[] = {
		JSON_STRING("nonce", true, 0, KBS_NONCE_MAX_LEN, &nonce),
		JSON_OTHERS_ALLOWED, /* extra-params: a string or an object, read below */
	};
	int r;

	r = parse_fields(body, len, "challenge", members, fields, ARRAY_SIZE(fields), &o, reason,
			 reason_len);
	if (r < 0)
		return r;
	r = nonce_store("challenge", nonce, out->nonce, reason, reason_len);
	if (r < 0)
		return r;
	if (!json_object_object_get_ex(o, "extra-params", &extra) ||
	    json_object_is_type(extra, json_type_string))
		return 0;
	if (!json_object_is_type(extra, json_type_object))
		return json_strict_fail(
			reason, reason_len, -EINVAL,
			"challenge: 'extra-params' is neither a string nor an object");
	/* guest-components lets the server pick the REPORTDATA hash; we only speak SHA-384. */
	if (json_object_object_get_ex(extra, "selected-hash-algorithm", &sel) &&
	    (!json_object_is_type(sel, json_type_string) ||
	     strcasecmp(json_object_get_string(sel), "sha384") != 0))
		return json_strict_fail(reason, reason_len, -EOPNOTSUPP,
					"challenge: selected-hash-algorithm %.32s not supported, "
					"only sha384",
					json_object_get_string(sel));
	return 0;
}

int kbs_attest_request_build(const char *nonce, EVP_PKEY *tee_key, const uint8_t *quote,
			     size_t quote_len, const uint8_t *cc_eventlog, size_t cc_eventlog_len,
			     const char *aa_eventlog, char **out)
{
	_cleanup_(json_object_putp) struct json_object *top = json_object_new_object();
	_cleanup_free_ char *quote64 = NULL;
	_cleanup_free_ char *log64 = NULL;
	struct json_object *rd, *te, *pe, *jwk;
	int r;

	if (!nonce || !*nonce || strlen(nonce) > KBS_NONCE_MAX_LEN)
		return log_error_errno(-EINVAL, "attest request: nonce empty or too long");
	if (!quote || quote_len == 0 || quote_len > KBS_QUOTE_MAX_LEN)
		return log_error_errno(-EINVAL, "attest request: quote empty or too large");
	if (cc_eventlog_len > KBS_EVENTLOG_MAX_LEN ||
	    (aa_eventlog && strlen(aa_eventlog) > KBS_AA_EVENTLOG_MAX_LEN))
		return log_error_errno(-EINVAL, "attest request: event log too large");
	quote64 = b64_encode(B64_STD, quote, quote_len);
	if (cc_eventlog)
		log64 = b64_encode(B64_STD, cc_eventlog, cc_eventlog_len);
	if (!top || !quote64 || (cc_eventlog && !log64))
		return log_error_errno(-ENOMEM, "attest request: out of memory");

	/* Each object is attached as soon as it is made (json_add_member() releases it if that
	 * fails; borrowed after that), so that every later failure is released with top. */
	rd = json_object_new_object();
	if (json_add_member(top, "runtime-data", rd) < 0 || json_add_string(rd, "nonce", nonce) < 0)
		return log_error_errno(-ENOMEM, "attest request: out of memory");
	r = jwk_from_public_key(tee_key, 1, &jwk);
	if (r < 0)
		return r;
	if (json_add_member(rd, "tee-pubkey", jwk) < 0)
		return log_error_errno(-ENOMEM, "attest request: out of memory");
	te = json_object_new_object();
	if (json_add_member(top, "tee-evidence", te) < 0)
		return log_error_errno(-ENOMEM, "attest request: out of memory");
	pe = json_object_new_object();
	r = json_add_member(te, "primary_evidence", pe) ?: json_add_string(pe, "quote", quote64);
	if (r == 0)
		r = log64 ? json_add_string(pe, "cc_eventlog", log64)
			  : (json_object_object_add(pe, "cc_eventlog", NULL) < 0 ? -ENOMEM : 0);
	if (r == 0)
		r = aa_eventlog
			    ? json_add_string(pe, "aa_eventlog", aa_eventlog)
			    : (json_object_object_add(pe, "aa_eventlog", NULL) < 0 ? -ENOMEM : 0);
	if (r == 0)
		r = json_add_string(te, "additional_evidence", "");
	return to_text(top, r, "attest request", out);
}

void kbs_attest_request_done(struct kbs_attest_request *req)
{
	if (!req)
		return;
	json_object_put(req->tee_pubkey_jwk);
	free(req->quote);
	free(req->cc_eventlog);
	free(req->aa_eventlog);
	memset(req, 0, sizeof(*req));
}

/* Decodes a standard-base64 string member into a malloc'ed buffer of 1..max bytes. */
static int get_b64_std(struct json_object *obj, const char *what, const char *key, size_t max,
		       uint8_t **out, size_t *out_len, char *reason, size_t reason_len)
{
	const char *s;
	int r;

	r = json_strict_get_string(obj, what, key, (max + 2) / 3 * 4, &s, reason, reason_len);
	if (r < 0)
		return r;
	if (b64_decode_alloc(B64_STD, s, strlen(s), out, out_len) < 0)
		return json_strict_fail(reason, reason_len, -EINVAL,
					"%s: '%s' is not standard base64", what, key);
	if (*out_len == 0) {
		free(*out);
		*out = NULL;
		return json_strict_fail(reason, reason_len, -EINVAL, "%s: '%s' is empty", what,
					key);
	}
	return 0;
}

int kbs_attest_request_parse(const char *body, size_t len, struct kbs_attest_request *out,
			     char *reason, size_t reason_len)
{
	static const char *const members[] = {"runtime-data", "tee-evidence", "init-data", NULL};
	static const char *const rd_members[] = {"nonce", "tee-pubkey", NULL};
	static const char *const te_members[] = {"primary_evidence", "additional_evidence", NULL};
	static const char *const pe_members[] = {"quote", "cc_eventlog", "aa_eventlog", NULL};
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	struct kbs_attest_request req = {0};
	struct json_object *rd, *te, *pe, *jwk, *v;
	const char *additional;
	int r;

	memset(out, 0, sizeof(*out));
	r = parse_object(body, len, "attest request", members, &o, reason, reason_len);
	if (r < 0)
		return r;
	if (json_object_object_get_ex(o, "init-data", &v) && v)
		return json_strict_fail(reason, reason_len, -EOPNOTSUPP,
					"attest request: init-data is not supported");

	r = get_closed_object(o, "attest request", "runtime-data", rd_members, &rd, reason,
			      reason_len);
	if (r < 0)
		return r;
	r = get_nonce(rd, "runtime-data", req.nonce, reason, reason_len);
	if (r < 0)
		return r;
	if (!json_object_object_get_ex(rd, "tee-pubkey", &jwk))
		return json_strict_fail(reason, reason_len, -EINVAL,
					"runtime-data: 'tee-pubkey' is missing");
	r = jwk_to_p256_coordinates(jwk, "tee-pubkey", JWK_ALG_REQUIRED, req.tee_xy, reason,
				    reason_len);
	if (r < 0)
		goto out;
	req.tee_pubkey_jwk = json_object_get(jwk);

	r = get_closed_object(o, "attest request", "tee-evidence", te_members, &te, reason,
			      reason_len);
	if (r < 0)
		goto out;
	r = json_strict_get_string(te, "tee-evidence", "additional_evidence", KBS_MSG_MAX_LEN,
				   &additional, reason, reason_len);
	if (r < 0)
		goto out;
	if (*additional) {
		r = json_strict_fail(reason, reason_len, -EOPNOTSUPP,
				     "tee-evidence: additional_evidence is not supported");
		goto out;
	}
	r = get_closed_object(te, "tee-evidence", "primary_evidence", pe_members, &pe, reason,
			      reason_len);
	if (r < 0)
		goto out;
	r = get_b64_std(pe, "primary_evidence", "quote", KBS_QUOTE_MAX_LEN, &req.quote,
			&req.quote_len, reason, reason_len);
	if (r < 0)
		goto out;
	if (req.quote_len > KBS_QUOTE_MAX_LEN) {
		r = json_strict_fail(reason, reason_len, -EINVAL,
				     "primary_evidence: quote of %zu bytes is too large",
				     req.quote_len);
		goto out;
	}
	if (json_object_object_get_ex(pe, "cc_eventlog", &v) && v) {
		r = get_b64_std(pe, "primary_evidence", "cc_eventlog", KBS_EVENTLOG_MAX_LEN,
				&req.cc_eventlog, &req.cc_eventlog_len, reason, reason_len);
		if (r < 0)
			goto out;
		if (req.cc_eventlog_len > KBS_EVENTLOG_MAX_LEN) {
			r = json_strict_fail(reason, reason_len, -EINVAL,
					     "primary_evidence: cc_eventlog is too large");
			goto out;
		}
	}
	if (json_object_object_get_ex(pe, "aa_eventlog", &v) && v) {
		const char *text;

		r = json_strict_get_string(pe, "primary_evidence", "aa_eventlog",
					   KBS_AA_EVENTLOG_MAX_LEN, &text, reason, reason_len);
		if (r < 0)
			goto out;
		req.aa_eventlog = strdup(text);
		if (!req.aa_eventlog) {
			r = -ENOMEM;
			goto out;
		}
		req.aa_eventlog_len = strlen(text);
	}
	*out = req;
	memset(&req, 0, sizeof(req));
	r = 0;
out:
	kbs_attest_request_done(&req);
	return r;
}

int kbs_attest_response_build(const char *token, char **out)
{
	_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();

	if (!token || strlen(token) > KBS_TOKEN_MAX_LEN)
		return log_error_errno(-EINVAL, "attest response: token missing or too long");
	return to_text(o, o ? json_add_string(o, "token", token) : -ENOMEM, "attest response", out);
}

int kbs_attest_response_parse(const char *body, size_t len, char **token, char *reason,
			      size_t reason_len)
{
	static const char *const members[] = {"token", NULL};
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	const char *s = NULL;
	const struct json_field fields[] = {
		JSON_STRING("token", true, 0, KBS_TOKEN_MAX_LEN, &s),
	};
	int r;

	r = parse_fields(body, len, "attest response", members, fields, ARRAY_SIZE(fields), &o,
			 reason, reason_len);
	if (r < 0)
		return r;
	*token = strdup(s);
	if (!*token)
		return log_error_errno(-ENOMEM, "attest response: out of memory");
	return 0;
}

const char *kbs_error_type_name(enum kbs_error_type type)
{
	if ((unsigned)type >= _KBS_ERR_MAX)
		return "AttestationError";
	return kbs_error_types[type].name;
}

int kbs_error_http_status(enum kbs_error_type type)
{
	if ((unsigned)type >= _KBS_ERR_MAX)
		return 401;
	return kbs_error_types[type].http_status;
}

int kbs_error_build(enum kbs_error_type type, const char *detail, char **out)
{
	_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
	char type_uri[128], d[KBS_DETAIL_MAX_LEN + 1];
	int r;

	snprintf(type_uri, sizeof(type_uri), KBS_ERROR_TYPE_PREFIX "%s", kbs_error_type_name(type));
	snprintf(d, sizeof(d), "%s", detail ? detail : "");
	r = o ? json_add_string(o, "type", type_uri) ?: json_add_string(o, "detail", d) : -ENOMEM;
	return to_text(o, r, "error body", out);
}

int kbs_error_parse(const char *body, size_t len, struct kbs_error *out, char *reason,
		    size_t reason_len)
{
	static const char *const members[] = {"type", "detail", NULL};
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	const char *type = NULL, *detail = NULL;
	const struct json_field fields[] = {
		JSON_STRING("type", true, 0, 512, &type),
		JSON_STRING("detail", true, 0, KBS_MSG_MAX_LEN, &detail),
	};
	size_t plen = strlen(KBS_ERROR_TYPE_PREFIX);
	int r;

	r = parse_fields(body, len, "error body", members, fields, ARRAY_SIZE(fields), &o, reason,
			 reason_len);
	if (r < 0)
		return r;
	out->type[0] = '\0';
	if (strncmp(type, KBS_ERROR_TYPE_PREFIX, plen) == 0 &&
	    strlen(type + plen) < sizeof(out->type))
		snprintf(out->type, sizeof(out->type), "%s", type + plen);
	/* A long detail is cut, not refused: it is only ever logged. */
	snprintf(out->detail, sizeof(out->detail), "%s", detail);
	return 0;
}

int kbs_report_data(const char *nonce, struct json_object *tee_pubkey_jwk,
		    uint8_t out[KBS_REPORT_DATA_LEN])
{
	_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
	_cleanup_free_ char *canon = NULL;
	unsigned int dlen = 0;
	size_t clen = 0;
	int r;

	if (!nonce || !tee_pubkey_jwk)
		return log_error_errno(-EINVAL, "REPORTDATA: nonce or tee-pubkey missing");
	if (!o || json_add_string(o, "additional-evidence", "") < 0 ||
	    json_add_string(o, "nonce", nonce) < 0 ||
	    json_add_member(o, "tee-pubkey", json_object_get(tee_pubkey_jwk)) < 0)
		return log_error_errno(-ENOMEM, "REPORTDATA: out of memory");
	r = jcs_serialize(o, &canon, &clen);
	if (r < 0)
		return log_error_errno(r, "REPORTDATA: cannot canonicalise the runtime data");
	memset(out, 0, KBS_REPORT_DATA_LEN);
	if (EVP_Digest(canon, clen, out, &dlen, EVP_sha384(), NULL) != 1 || dlen != 48)
		return log_error_errno(-EIO, "REPORTDATA: SHA-384 failed");
	return 0;
}
