/* Loading DCAP collateral: Intel PCS response bodies with PEM/DER certificates and CRLs, or a
 * dcap-qvl QuoteCollateralV3 bundle. Everything is parsed, type-checked and signature-checked
 * here, once; per-quote work happens in dcap.c. */
#include "collateral.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cleanup.h"
#include "json_strict.h"
#include "dcap_util.h"
#include "fileio.h"
#include "hexutil.h"
#include "log.h"

#define COLLATERAL_FILE_MAX (1024 * 1024)
#define CHAIN_MAX_CERTS	    4

static const char *const status_names[] = {
	[TCB_UP_TO_DATE] = "UpToDate",
	[TCB_SW_HARDENING_NEEDED] = "SWHardeningNeeded",
	[TCB_CONFIGURATION_NEEDED] = "ConfigurationNeeded",
	[TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED] = "ConfigurationAndSWHardeningNeeded",
	[TCB_OUT_OF_DATE] = "OutOfDate",
	[TCB_OUT_OF_DATE_CONFIGURATION_NEEDED] = "OutOfDateConfigurationNeeded",
	[TCB_REVOKED] = "Revoked",
	[TCB_TD_RELAUNCH_ADVISED] = "TDRelaunchAdvised",
	[TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED] = "TDRelaunchAdvisedConfigurationNeeded",
	[TCB_NOT_SUPPORTED] = "NotSupported",
};

const char *tcb_status_name(enum tcb_status s)
{
	if ((size_t)s < ARRAY_SIZE(status_names))
		return status_names[s];
	return "Unknown";
}

int tcb_status_from_name(const char *name, enum tcb_status *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(status_names); i++)
		if (i != TCB_NOT_SUPPORTED && !strcmp(name, status_names[i])) {
			*out = (enum tcb_status)i;
			return 0;
		}
	return -EINVAL;
}

/* ---- raw member location ---------------------------------------------------------------- */

static size_t skip_ws(const char *d, size_t len, size_t i)
{
	while (i < len && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r'))
		i++;
	return i;
}

/* i at the opening quote; returns the index after the closing quote, or 0. */
static size_t skip_string(const char *d, size_t len, size_t i)
{
	for (i++; i < len; i++) {
		if (d[i] == '\\')
			i++;
		else if (d[i] == '"')
			return i + 1;
	}
	return 0;
}

/* Returns the index after the value starting at i, or 0. */
static size_t skip_value(const char *d, size_t len, size_t i)
{
	size_t depth = 0;

	if (i >= len)
		return 0;
	if (d[i] == '"')
		return skip_string(d, len, i);
	if (d[i] != '{' && d[i] != '[') {
		while (i < len && d[i] != ',' && d[i] != '}' && d[i] != ']' && d[i] != ' ' &&
		       d[i] != '\t' && d[i] != '\n' && d[i] != '\r')
			i++;
		return i;
	}
	while (i < len) {
		if (d[i] == '"') {
			i = skip_string(d, len, i);
			if (!i)
				return 0;
			continue;
		}
		if (d[i] == '{' || d[i] == '[') {
			depth++;
		} else if (d[i] == '}' || d[i] == ']') {
			if (depth == 0)
				return 0;
			if (--depth == 0)
				return i + 1;
		}
		i++;
	}
	return 0;
}

int json_raw_member(const char *doc, size_t len, const char *key, const char **value,
		    size_t *value_len)
{
	struct json_tokener *tok;
	struct json_object *o;
	size_t i, klen = strlen(key), found_at = 0, found_len = 0;
	bool found = false;

	*value = NULL;
	*value_len = 0;
	/* Validate the whole document first, so the scan below only walks well-formed JSON. */
	if (len > INT32_MAX)
		return -EFBIG;
	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	o = json_tokener_parse_ex(tok, doc, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    skip_ws(doc, len, json_tokener_get_parse_end(tok)) != len ||
	    !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		json_tokener_free(tok);
		return log_error_errno(-EBADMSG, "collateral: not a JSON object");
	}
	json_object_put(o);
	json_tokener_free(tok);

	i = skip_ws(doc, len, 0);
	if (i >= len || doc[i] != '{')
		return -EBADMSG;
	i = skip_ws(doc, len, i + 1);
	while (i < len && doc[i] != '}') {
		size_t kstart = i, kend, vstart, vend;

		if (doc[i] != '"')
			return -EBADMSG;
		kend = skip_string(doc, len, i);
		if (!kend)
			return -EBADMSG;
		i = skip_ws(doc, len, kend);
		if (i >= len || doc[i] != ':')
			return -EBADMSG;
		vstart = skip_ws(doc, len, i + 1);
		vend = skip_value(doc, len, vstart);
		if (!vend)
			return -EBADMSG;
		if (kend - kstart == klen + 2 && !memcmp(doc + kstart + 1, key, klen)) {
			if (found)
				return log_error_errno(-EBADMSG, "collateral: \"%s\" appears twice",
						       key);
			found = true;
			found_at = vstart;
			found_len = vend - vstart;
		}
		i = skip_ws(doc, len, vend);
		if (i < len && doc[i] == ',')
			i = skip_ws(doc, len, i + 1);
	}
	if (!found)
		return log_error_errno(-ENOENT, "collateral: no \"%s\" member", key);
	*value = doc + found_at;
	*value_len = found_len;
	return 0;
}

/* ---- typed JSON field access ---------------------------------------------------------- */

/* Where a field error is reported: the object's name for messages, and the caller's reason
 * buffer (first error wins). */
struct parse_ctx {
	const char *what;
	char *reason;
	size_t reason_len;
};

static int __attribute__((format(printf, 2, 3)))
parse_fail(struct parse_ctx *p, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->reason && p->reason_len && !p->reason[0])
		snprintf(p->reason, p->reason_len, "%s: %s", p->what, msg);
	return log_error_errno(-EBADMSG, "%s: %s", p->what, msg);
}

/* Reads o by table (json_strict_fields; Intel's formats grow, so other members are allowed):
 * -EBADMSG with the reason, as every collateral refusal. */
#define read_fields(o, what, ...)                                                               \
	fields_read((o), (what), (const struct json_field[]){__VA_ARGS__, JSON_OTHERS_ALLOWED}, \
		    sizeof((const struct json_field[]){__VA_ARGS__, JSON_OTHERS_ALLOWED}) /     \
			    sizeof(struct json_field))

static int fields_read(struct json_object *o, struct parse_ctx *what,
		       const struct json_field *fields, size_t n)
{
	char why[200];

	if (json_strict_fields(o, what->what, fields, n, why, sizeof(why)) < 0) {
		if (what->reason && what->reason_len && !what->reason[0])
			snprintf(what->reason, what->reason_len, "%s", why);
		return -EBADMSG;
	}
	return 0;
}

/* The values Intel writes as text: hex bytes, RFC 3339 times, TCB status names. */
static int hex_value(struct parse_ctx *what, const char *key, const char *s, uint8_t *out, size_t n)
{
	if (hex_decode_exact(s, strlen(s), out, n) < 0)
		return parse_fail(what, "'%s' is not %zu bytes of hex", key, n);
	return 0;
}

static int time_value(struct parse_ctx *what, const char *key, const char *s, time_t *out)
{
	if (dcap_time_parse_rfc3339(s, out) < 0)
		return parse_fail(what, "'%s' is not an RFC 3339 time", key);
	return 0;
}

static int status_value(struct parse_ctx *what, const char *s, enum tcb_status *out)
{
	if (tcb_status_from_name(s, out) == 0)
		return 0;
	*out = TCB_NOT_SUPPORTED;
	return parse_fail(what, "unknown tcbStatus '%s'", s);
}

static int advisories_value(struct parse_ctx *what, struct json_object *arr,
			    struct tcb_advisories *out)
{
	size_t n = arr ? json_object_array_length(arr) : 0;

	out->n = 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(arr, i);

		if (!json_object_is_type(e, json_type_string) ||
		    json_object_get_string_len(e) <= 0 ||
		    json_object_get_string_len(e) >= TCB_ADVISORY_LEN)
			return parse_fail(what, "advisory ID %zu malformed", i);
		memcpy(out->id[i], json_object_get_string(e),
		       (size_t)json_object_get_string_len(e) + 1);
	}
	out->n = n;
	return 0;
}

/* One entry of tcbLevels: {"tcb":{...},"tcbDate":...,"tcbStatus":...,"advisoryIDs":[...]}. */
static int level_read(struct parse_ctx *what, struct json_object *lvl, size_t i,
		      struct json_object **tcb, enum tcb_status *status, struct tcb_advisories *adv)
{
	struct json_object *ids = NULL;
	const char *st = "";
	int r;

	if (!json_object_is_type(lvl, json_type_object))
		return parse_fail(what, "TCB level %zu is not an object", i);
	r = read_fields(lvl, what, JSON_OBJECT("tcb", true, tcb),
			JSON_STRING("tcbStatus", true, 0, 64, &st),
			JSON_ARRAY("advisoryIDs", false, 0, DCAP_MAX_ADVISORIES, &ids));
	if (r == 0)
		r = status_value(what, st, status);
	if (r == 0)
		r = advisories_value(what, ids, adv);
	return r;
}

/* {"tcb":{"isvsvn":N},"tcbDate":...,"tcbStatus":...,"advisoryIDs":[...]} entries. */
static int parse_isv_levels(struct json_object *arr, struct parse_ctx *what,
			    struct isv_level *levels, size_t *n_levels)
{
	size_t n = json_object_array_length(arr);
	int r;

	for (size_t i = 0; i < n; i++) {
		struct json_object *tcb = NULL;
		uint32_t svn = 0;

		r = level_read(what, json_object_array_get_idx(arr, i), i, &tcb, &levels[i].status,
			       &levels[i].advisories);
		if (r == 0)
			r = read_fields(tcb, what, JSON_U32("isvsvn", true, 0, 65535, &svn));
		if (r < 0)
			return r;
		levels[i].isvsvn = (uint16_t)svn;
	}
	*n_levels = n;
	return 0;
}

static int parse_module(struct parse_ctx *parent, struct json_object *o, bool with_levels,
			struct tdx_module_identity *m)
{
	struct parse_ctx sub = {"TCB info tdxModule", parent->reason, parent->reason_len},
			 *what = &sub;
	const char *id = NULL, *mrsigner, *attributes, *mask;
	struct json_object *levels = NULL;
	int r;

	r = read_fields(o, what, JSON_STRING("id", with_levels, 0, 1024, &id),
			JSON_STRING("mrsigner", true, 0, 1024, &mrsigner),
			JSON_STRING("attributes", true, 0, 1024, &attributes),
			JSON_STRING("attributesMask", true, 0, 1024, &mask),
			JSON_ARRAY("tcbLevels", with_levels, 0, TCB_MAX_MODULE_LEVELS, &levels));
	if (r < 0)
		return r;
	if (with_levels) {
		if (!*id || strlen(id) >= sizeof(m->id))
			return parse_fail(what, "'id' malformed");
		memcpy(m->id, id, strlen(id) + 1);
	}
	if ((r = hex_value(what, "mrsigner", mrsigner, m->mrsigner, sizeof(m->mrsigner))) < 0 ||
	    (r = hex_value(what, "attributes", attributes, m->attributes, sizeof(m->attributes))) <
		    0 ||
	    (r = hex_value(what, "attributesMask", mask, m->attributes_mask,
			   sizeof(m->attributes_mask))) < 0)
		return r;
	if (with_levels)
		return parse_isv_levels(levels, what, m->levels, &m->n_levels);
	return 0;
}

static int parse_svn_components(struct parse_ctx *parent, struct json_object *arr, const char *key,
				uint8_t svn[16])
{
	struct parse_ctx sub = {"TCB info level", parent->reason, parent->reason_len}, *what = &sub;
	size_t n = json_object_array_length(arr);
	int r;

	if (n != 16)
		return parse_fail(what, "'%s' has %zu entries, not 16", key, n);
	for (size_t i = 0; i < 16; i++) {
		struct json_object *c = json_object_array_get_idx(arr, i);
		uint32_t v;

		if (!json_object_is_type(c, json_type_object))
			return parse_fail(what, "'%s'[%zu] is not an object", key, i);
		r = read_fields(c, what, JSON_U32("svn", true, 0, 255, &v));
		if (r < 0)
			return r;
		svn[i] = (uint8_t)v;
	}
	return 0;
}

/* Intel's JSON through the one strict parser (duplicate members, bad UTF-8 and trailing bytes
 * refused); the refusal is logged once, named by what. */
static struct json_object *parse_object(const char *raw, size_t len, const char *what)
{
	struct json_object *o = NULL;
	char why[256];

	if (json_strict_parse(raw, len, len, &o, why, sizeof(why)) < 0)
		return NULL;
	if (!json_object_is_type(o, json_type_object)) {
		log_error("%s: not a JSON object", what);
		json_object_put(o);
		return NULL;
	}
	return o;
}

static int id_version_check(struct parse_ctx *what, const char *id, const char *want_id,
			    uint32_t version, uint32_t want_version)
{
	if (strcmp(id, want_id) != 0)
		return parse_fail(what, "id '%s' is not '%s'", id, want_id);
	if (version != want_version)
		return parse_fail(what, "version %u unsupported (want %u)", version, want_version);
	return 0;
}

int tcb_info_parse(const char *raw, size_t len, struct tcb_info *t, char *reason, size_t reason_len)
{
	_cleanup_(json_object_putp) struct json_object *o = parse_object(raw, len, "TCB info");
	struct parse_ctx pc = {"TCB info", reason, reason_len}, *what = &pc;
	struct json_object *module = NULL, *modules = NULL, *levels;
	const char *id, *issue, *next, *fmspc, *pce_id;
	uint32_t version;
	int r;

	memset(t, 0, sizeof(*t));
	if (!o)
		return parse_fail(what, "not a JSON object");
	r = read_fields(o, what, JSON_STRING("id", true, 0, 64, &id),
			JSON_U32("version", true, 0, 1000, &version),
			JSON_STRING("issueDate", true, 0, 64, &issue),
			JSON_STRING("nextUpdate", true, 0, 64, &next),
			JSON_STRING("fmspc", true, 0, 1024, &fmspc),
			JSON_STRING("pceId", true, 0, 1024, &pce_id),
			JSON_U32("tcbEvaluationDataNumber", true, 0, UINT32_MAX, &t->eval_number),
			JSON_OBJECT("tdxModule", false, &module),
			JSON_ARRAY("tdxModuleIdentities", false, 0, TCB_MAX_MODULES, &modules),
			JSON_ARRAY("tcbLevels", true, 0, TCB_MAX_LEVELS, &levels));
	if (r < 0 || (r = id_version_check(what, id, "TDX", version, 3)) < 0 ||
	    (r = time_value(what, "issueDate", issue, &t->issue_date)) < 0 ||
	    (r = time_value(what, "nextUpdate", next, &t->next_update)) < 0 ||
	    (r = hex_value(what, "fmspc", fmspc, t->fmspc, sizeof(t->fmspc))) < 0 ||
	    (r = hex_value(what, "pceId", pce_id, t->pce_id, sizeof(t->pce_id))) < 0)
		return r;
	if (module) {
		r = parse_module(what, module, false, &t->module);
		if (r < 0)
			return r;
		t->has_module = true;
	}
	for (size_t i = 0; modules && i < json_object_array_length(modules); i++) {
		struct json_object *m = json_object_array_get_idx(modules, i);

		if (!json_object_is_type(m, json_type_object))
			return parse_fail(what, "module identity %zu malformed", i);
		r = parse_module(what, m, true, &t->modules[i]);
		if (r < 0)
			return r;
		t->n_modules = i + 1;
	}
	for (size_t i = 0; i < json_object_array_length(levels); i++) {
		struct json_object *tcb = NULL, *sgx = NULL, *tdx = NULL;
		struct tcb_level *l = &t->levels[i];
		uint32_t pcesvn = 0;

		r = level_read(what, json_object_array_get_idx(levels, i), i, &tcb, &l->status,
			       &l->advisories);
		if (r == 0)
			r = read_fields(tcb, what,
					JSON_ARRAY("sgxtcbcomponents", true, 0, 16, &sgx),
					JSON_ARRAY("tdxtcbcomponents", true, 0, 16, &tdx),
					JSON_U32("pcesvn", true, 0, 65535, &pcesvn));
		if (r < 0 ||
		    (r = parse_svn_components(what, sgx, "sgxtcbcomponents", l->sgx_svn)) < 0 ||
		    (r = parse_svn_components(what, tdx, "tdxtcbcomponents", l->tdx_svn)) < 0)
			return r;
		l->pce_svn = (uint16_t)pcesvn;
		t->n_levels = i + 1;
	}
	if (t->next_update <= t->issue_date)
		return parse_fail(what, "nextUpdate is not after issueDate");
	return 0;
}

int qe_identity_parse(const char *raw, size_t len, struct qe_identity *q, char *reason,
		      size_t reason_len)
{
	_cleanup_(json_object_putp) struct json_object *o = parse_object(raw, len, "QE identity");
	struct parse_ctx pc = {"QE identity", reason, reason_len}, *what = &pc;
	const char *id, *issue, *next, *misc_s, *misc_mask_s, *attributes, *mask, *mrsigner;
	struct json_object *levels;
	uint8_t misc[4], misc_mask[4];
	uint32_t version, prodid;
	int r;

	memset(q, 0, sizeof(*q));
	if (!o)
		return parse_fail(what, "not a JSON object");
	r = read_fields(o, what, JSON_STRING("id", true, 0, 64, &id),
			JSON_U32("version", true, 0, 1000, &version),
			JSON_STRING("issueDate", true, 0, 64, &issue),
			JSON_STRING("nextUpdate", true, 0, 64, &next),
			JSON_U32("tcbEvaluationDataNumber", true, 0, UINT32_MAX, &q->eval_number),
			JSON_STRING("miscselect", true, 0, 1024, &misc_s),
			JSON_STRING("miscselectMask", true, 0, 1024, &misc_mask_s),
			JSON_STRING("attributes", true, 0, 1024, &attributes),
			JSON_STRING("attributesMask", true, 0, 1024, &mask),
			JSON_STRING("mrsigner", true, 0, 1024, &mrsigner),
			JSON_U32("isvprodid", true, 0, 65535, &prodid),
			JSON_ARRAY("tcbLevels", true, 0, TCB_MAX_MODULE_LEVELS, &levels));
	if (r < 0 || (r = id_version_check(what, id, "TD_QE", version, 2)) < 0 ||
	    (r = time_value(what, "issueDate", issue, &q->issue_date)) < 0 ||
	    (r = time_value(what, "nextUpdate", next, &q->next_update)) < 0 ||
	    (r = hex_value(what, "miscselect", misc_s, misc, sizeof(misc))) < 0 ||
	    (r = hex_value(what, "miscselectMask", misc_mask_s, misc_mask, sizeof(misc_mask))) <
		    0 ||
	    (r = hex_value(what, "attributes", attributes, q->attributes, sizeof(q->attributes))) <
		    0 ||
	    (r = hex_value(what, "attributesMask", mask, q->attributes_mask,
			   sizeof(q->attributes_mask))) < 0 ||
	    (r = hex_value(what, "mrsigner", mrsigner, q->mrsigner, sizeof(q->mrsigner))) < 0 ||
	    (r = parse_isv_levels(levels, what, q->levels, &q->n_levels)) < 0)
		return r;
	/* The hex strings are the big-endian rendering of the 32-bit values. */
	q->miscselect = (uint32_t)misc[0] << 24 | (uint32_t)misc[1] << 16 | (uint32_t)misc[2] << 8 |
			misc[3];
	q->miscselect_mask = (uint32_t)misc_mask[0] << 24 | (uint32_t)misc_mask[1] << 16 |
			     (uint32_t)misc_mask[2] << 8 | misc_mask[3];
	q->isvprodid = (uint16_t)prodid;
	if (q->next_update <= q->issue_date)
		return parse_fail(what, "nextUpdate is not after issueDate");
	return 0;
}

/* ---- loading ------------------------------------------------------------------------------ */

/* Raw inputs gathered from a bundle and/or separate files; later sources replace earlier. */
struct raw_collateral {
	char *tcb_raw;
	size_t tcb_len;
	uint8_t tcb_sig[64];
	char *qe_raw;
	size_t qe_len;
	uint8_t qe_sig[64];
	STACK_OF(X509) * tcb_chain;
	STACK_OF(X509) * qe_chain;
	STACK_OF(X509) * pck_crl_chain;
	X509_CRL *pck_crl;
	X509_CRL *pck_crl_other;
	X509_CRL *root_crl;
};

static void raw_collateral_done(struct raw_collateral *rc)
{
	free(rc->tcb_raw);
	free(rc->qe_raw);
	sk_X509_pop_free(rc->tcb_chain, X509_free);
	sk_X509_pop_free(rc->qe_chain, X509_free);
	sk_X509_pop_free(rc->pck_crl_chain, X509_free);
	X509_CRL_free(rc->pck_crl);
	X509_CRL_free(rc->pck_crl_other);
	X509_CRL_free(rc->root_crl);
}

#define refuse(reason, reason_len, r, ...) \
	log_refusal(LOG_LVL_ERR, r, "", reason, reason_len, __VA_ARGS__)

static char *dup_bytes(const char *p, size_t n)
{
	char *s = p ? malloc(n + 1) : NULL;

	if (s) {
		memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

static void replace_chain(STACK_OF(X509) * *slot, STACK_OF(X509) * chain)
{
	sk_X509_pop_free(*slot, X509_free);
	*slot = chain;
}

/* A CRL in a bundle: hex of DER, or PEM text. */
static int bundle_crl(const char *s, size_t len, X509_CRL **out)
{
	_cleanup_free_ uint8_t *der = NULL;
	size_t der_len;

	if (len > 10 && !memcmp(s, "-----BEGIN", 10))
		return dcap_crl_parse((const uint8_t *)s, len, out);
	if (hex_decode_alloc(s, len, &der, &der_len) < 0)
		return -EBADMSG;
	return dcap_crl_parse(der, der_len, out);
}

static int bundle_string(const char **field, struct json_object *o, const char *key, bool required,
			 const char **s, size_t *len)
{
	struct json_object *v;

	*field = key;
	*s = NULL;
	*len = 0;
	if (!json_object_object_get_ex(o, key, &v) || !v) {
		if (!required)
			return 0;
		log_error("collateral bundle: '%s' missing", key);
		return -EBADMSG;
	}
	if (!json_object_is_type(v, json_type_string))
		return log_error_errno(-EBADMSG, "collateral bundle: '%s' is not a string", key);
	*s = json_object_get_string(v);
	*len = (size_t)json_object_get_string_len(v);
	return *s ? 0 : -EBADMSG;
}

/* A signed item of the bundle: its raw text (replacing *raw) and its signature (64 bytes hex). */
static int bundle_signed(const char **field, struct json_object *o, const char *key,
			 const char *sig_key, char **raw, size_t *raw_len, uint8_t sig[64])
{
	const char *s;
	size_t n;
	int r;

	r = bundle_string(field, o, key, true, &s, &n);
	if (r < 0)
		return r;
	free(*raw);
	*raw = dup_bytes(s, n);
	*raw_len = n;
	r = bundle_string(field, o, sig_key, true, &s, &n);
	if (r < 0)
		return r;
	if (hex_decode_exact(s, n, sig, 64) < 0)
		return log_error_errno(-EBADMSG, "collateral bundle: '%s' not 64 bytes", sig_key);
	return 0;
}

static int load_bundle(const char *path, struct raw_collateral *rc, char *reason, size_t reason_len)
{
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	STACK_OF(X509) *chain = NULL;
	const char *s, *field = "?";
	size_t len, n;
	int r;

	r = file_read_all(path, COLLATERAL_FILE_MAX, &buf, &len);
	if (r < 0)
		return refuse(reason, reason_len, r, "collateral bundle %s: cannot read", path);
	o = parse_object((const char *)buf, len, "collateral bundle");
	if (!o)
		return refuse(reason, reason_len, -EBADMSG,
			      "collateral bundle %s: not a JSON object", path);

	if ((r = bundle_signed(&field, o, "tcb_info", "tcb_info_signature", &rc->tcb_raw,
			       &rc->tcb_len, rc->tcb_sig)) < 0 ||
	    (r = bundle_signed(&field, o, "qe_identity", "qe_identity_signature", &rc->qe_raw,
			       &rc->qe_len, rc->qe_sig)) < 0)
		goto bad;
	if (!rc->tcb_raw || !rc->qe_raw) {
		r = -ENOMEM;
		goto bad;
	}
	if ((r = bundle_string(&field, o, "tcb_info_issuer_chain", true, &s, &n)) < 0 ||
	    (r = dcap_certs_parse((const uint8_t *)s, n, CHAIN_MAX_CERTS, &chain)) < 0)
		goto bad;
	replace_chain(&rc->tcb_chain, chain);
	if ((r = bundle_string(&field, o, "qe_identity_issuer_chain", true, &s, &n)) < 0 ||
	    (r = dcap_certs_parse((const uint8_t *)s, n, CHAIN_MAX_CERTS, &chain)) < 0)
		goto bad;
	replace_chain(&rc->qe_chain, chain);
	if ((r = bundle_string(&field, o, "pck_crl_issuer_chain", false, &s, &n)) < 0)
		goto bad;
	if (s) {
		if ((r = dcap_certs_parse((const uint8_t *)s, n, CHAIN_MAX_CERTS, &chain)) < 0)
			goto bad;
		replace_chain(&rc->pck_crl_chain, chain);
	}
	X509_CRL_free(rc->pck_crl);
	rc->pck_crl = NULL;
	if ((r = bundle_string(&field, o, "pck_crl", true, &s, &n)) < 0 ||
	    (r = bundle_crl(s, n, &rc->pck_crl)) < 0)
		goto bad;
	X509_CRL_free(rc->root_crl);
	rc->root_crl = NULL;
	if ((r = bundle_string(&field, o, "root_ca_crl", true, &s, &n)) < 0 ||
	    (r = bundle_crl(s, n, &rc->root_crl)) < 0)
		goto bad;
	return 0;
bad:
	return refuse(reason, reason_len, r < 0 ? r : -EBADMSG,
		      "collateral bundle %s: '%s' missing or malformed", path, field);
}

/* A PCS response body {"<key>":{...},"signature":"<hex>"}: keeps the raw signed text. */
static int load_pcs_response(const char *path, const char *key, char **raw, size_t *raw_len,
			     uint8_t sig[64], char *reason, size_t reason_len)
{
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	struct parse_ctx pc = {path, NULL, 0};
	const char *value, *s = "";
	size_t len, value_len;
	int r;

	r = file_read_all(path, COLLATERAL_FILE_MAX, &buf, &len);
	if (r < 0)
		return refuse(reason, reason_len, r, "%s: cannot read", path);
	r = json_raw_member((const char *)buf, len, key, &value, &value_len);
	if (r < 0)
		return refuse(reason, reason_len, -EBADMSG, "%s: no signed \"%s\" object", path,
			      key);
	o = parse_object((const char *)buf, len, path);
	if (!o || read_fields(o, &pc, JSON_STRING("signature", true, 0, 1024, &s)) < 0 ||
	    hex_decode_exact(s, strlen(s), sig, 64) < 0)
		return refuse(reason, reason_len, -EBADMSG,
			      "%s: 'signature' is not 64 bytes of hex", path);
	free(*raw);
	*raw = dup_bytes(value, value_len);
	if (!*raw)
		return -ENOMEM;
	*raw_len = value_len;
	return 0;
}

static int load_file_certs(const char *path, STACK_OF(X509) * *out, char *reason, size_t reason_len)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	int r;

	r = file_read_all(path, COLLATERAL_FILE_MAX, &buf, &len);
	if (r < 0)
		return refuse(reason, reason_len, r, "%s: cannot read", path);
	r = dcap_certs_parse(buf, len, CHAIN_MAX_CERTS, out);
	if (r < 0)
		return refuse(reason, reason_len, r, "%s: not a PEM/DER certificate chain", path);
	return 0;
}

static int load_file_crl(const char *path, X509_CRL **slot, char *reason, size_t reason_len)
{
	_cleanup_free_ uint8_t *buf = NULL;
	X509_CRL *crl = NULL;
	size_t len;
	int r;

	r = file_read_all(path, COLLATERAL_FILE_MAX, &buf, &len);
	if (r < 0)
		return refuse(reason, reason_len, r, "%s: cannot read", path);
	r = dcap_crl_parse(buf, len, &crl);
	if (r < 0)
		return refuse(reason, reason_len, r, "%s: not a PEM/DER CRL", path);
	X509_CRL_free(*slot);
	*slot = crl;
	return 0;
}

static int digest_add(EVP_MD_CTX *md, const void *p, size_t n)
{
	uint64_t len = n;

	return EVP_DigestUpdate(md, &len, sizeof(len)) == 1 && EVP_DigestUpdate(md, p, n) == 1
		       ? 0
		       : -EIO;
}

static int digest_add_cert(EVP_MD_CTX *md, X509 *x)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der), r;

	if (n <= 0)
		return -EIO;
	r = digest_add(md, der, (size_t)n);
	OPENSSL_free(der);
	return r;
}

static int digest_add_crl(EVP_MD_CTX *md, X509_CRL *crl)
{
	unsigned char *der = NULL;
	int n = i2d_X509_CRL(crl, &der), r;

	if (n <= 0)
		return -EIO;
	r = digest_add(md, der, (size_t)n);
	OPENSSL_free(der);
	return r;
}

static int digest_add_chain(EVP_MD_CTX *md, STACK_OF(X509) * chain)
{
	int r;

	if (!chain)
		return digest_add(md, "", 0);
	r = digest_add(md, "chain", 5);
	for (int i = 0; i < sk_X509_num(chain) && r == 0; i++)
		r = digest_add_cert(md, sk_X509_value(chain, i));
	return r;
}

static int collateral_digest(const struct raw_collateral *rc, uint8_t out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int n = 0;
	int r = -EIO;

	if (!md)
		return -ENOMEM;
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		goto out;
	if (digest_add(md, rc->tcb_raw, rc->tcb_len) < 0 ||
	    digest_add(md, rc->tcb_sig, sizeof(rc->tcb_sig)) < 0 ||
	    digest_add(md, rc->qe_raw, rc->qe_len) < 0 ||
	    digest_add(md, rc->qe_sig, sizeof(rc->qe_sig)) < 0 ||
	    digest_add_chain(md, rc->tcb_chain) < 0 || digest_add_chain(md, rc->qe_chain) < 0 ||
	    digest_add_chain(md, rc->pck_crl_chain) < 0 || digest_add_crl(md, rc->pck_crl) < 0 ||
	    (rc->pck_crl_other ? digest_add_crl(md, rc->pck_crl_other) : digest_add(md, "", 0)) <
		    0 ||
	    digest_add_crl(md, rc->root_crl) < 0)
		goto out;
	if (EVP_DigestFinal_ex(md, out, &n) != 1 || n != 32)
		goto out;
	r = 0;
out:
	EVP_MD_CTX_free(md);
	return r;
}

static int check_signed_json(const char *what, STACK_OF(X509) * chain, const uint8_t sig[64],
			     const char *raw, size_t len, char *reason, size_t reason_len)
{
	EVP_PKEY *key = X509_get0_pubkey(sk_X509_value(chain, 0));
	int r;

	if (!key)
		return refuse(reason, reason_len, -EKEYREJECTED, "%s signer has no usable key",
			      what);
	r = dcap_ecdsa_verify(key, sig, (const uint8_t *)raw, len);
	if (r < 0)
		return refuse(reason, reason_len, -EKEYREJECTED,
			      "%s signature does not verify with its signing certificate", what);
	return 0;
}

void dcap_collateral_free(struct dcap_collateral *c)
{
	if (!c)
		return;
	sk_X509_pop_free(c->tcb_chain, X509_free);
	sk_X509_pop_free(c->qe_chain, X509_free);
	sk_X509_pop_free(c->pck_crl_chain, X509_free);
	X509_CRL_free(c->pck_crl);
	X509_CRL_free(c->pck_crl_other);
	X509_CRL_free(c->root_crl);
	free(c);
}

int dcap_collateral_load(const struct dcap_collateral_files *f, struct dcap_collateral **out,
			 char *reason, size_t reason_len)
{
	_cleanup_(dcap_collateral_freep) struct dcap_collateral *c = NULL;
	struct raw_collateral rc = {0};
	STACK_OF(X509) *chain = NULL;
	int r;

	if (reason && reason_len)
		reason[0] = '\0';
	if (f->bundle && (r = load_bundle(f->bundle, &rc, reason, reason_len)) < 0)
		goto out;
	if (f->tcb_info && (r = load_pcs_response(f->tcb_info, "tcbInfo", &rc.tcb_raw, &rc.tcb_len,
						  rc.tcb_sig, reason, reason_len)) < 0)
		goto out;
	if (f->qe_identity &&
	    (r = load_pcs_response(f->qe_identity, "enclaveIdentity", &rc.qe_raw, &rc.qe_len,
				   rc.qe_sig, reason, reason_len)) < 0)
		goto out;
	if (f->pck_crl && (r = load_file_crl(f->pck_crl, &rc.pck_crl, reason, reason_len)) < 0)
		goto out;
	if (f->root_crl && (r = load_file_crl(f->root_crl, &rc.root_crl, reason, reason_len)) < 0)
		goto out;
	if (f->pck_crl_other &&
	    (r = load_file_crl(f->pck_crl_other, &rc.pck_crl_other, reason, reason_len)) < 0)
		goto out;
	if (f->tcb_signing_chain) {
		if ((r = load_file_certs(f->tcb_signing_chain, &chain, reason, reason_len)) < 0)
			goto out;
		replace_chain(&rc.tcb_chain, chain);
		chain = X509_chain_up_ref(rc.tcb_chain);
		if (!chain) {
			r = -ENOMEM;
			goto out;
		}
		replace_chain(&rc.qe_chain, chain);
	}
	if (f->pck_crl_chain) {
		if ((r = load_file_certs(f->pck_crl_chain, &chain, reason, reason_len)) < 0)
			goto out;
		replace_chain(&rc.pck_crl_chain, chain);
	}

	if (!rc.tcb_raw || !rc.qe_raw || !rc.tcb_chain || !rc.qe_chain || !rc.pck_crl ||
	    !rc.root_crl) {
		r = refuse(reason, reason_len, -ENOENT, "collateral incomplete: missing %s",
			   !rc.tcb_raw			   ? "TCB info"
			   : !rc.qe_raw			   ? "QE identity"
			   : !rc.tcb_chain || !rc.qe_chain ? "TCB signing chain"
			   : !rc.pck_crl		   ? "PCK CRL"
							   : "root CA CRL");
		goto out;
	}

	c = calloc(1, sizeof(*c));
	if (!c) {
		r = log_error_errno(-ENOMEM, "collateral: out of memory");
		goto out;
	}
	r = tcb_info_parse(rc.tcb_raw, rc.tcb_len, &c->tcb, reason, reason_len);
	if (r < 0)
		goto out;
	r = qe_identity_parse(rc.qe_raw, rc.qe_len, &c->qe, reason, reason_len);
	if (r < 0)
		goto out;
	if ((r = check_signed_json("TCB info", rc.tcb_chain, rc.tcb_sig, rc.tcb_raw, rc.tcb_len,
				   reason, reason_len)) < 0 ||
	    (r = check_signed_json("QE identity", rc.qe_chain, rc.qe_sig, rc.qe_raw, rc.qe_len,
				   reason, reason_len)) < 0)
		goto out;
	r = collateral_digest(&rc, c->digest);
	if (r < 0) {
		r = log_error_errno(r, "collateral: cannot hash inputs");
		goto out;
	}

	c->not_before = c->tcb.issue_date > c->qe.issue_date ? c->tcb.issue_date : c->qe.issue_date;
	c->not_after =
		(c->tcb.next_update < c->qe.next_update ? c->tcb.next_update : c->qe.next_update) -
		1;
	if ((r = dcap_asn1_time_to_time(X509_CRL_get0_lastUpdate(rc.pck_crl),
					&c->pck_crl_this_update)) < 0 ||
	    (r = dcap_asn1_time_to_time(X509_CRL_get0_nextUpdate(rc.pck_crl),
					&c->pck_crl_next_update)) < 0 ||
	    (r = dcap_asn1_time_to_time(X509_CRL_get0_lastUpdate(rc.root_crl),
					&c->root_crl_this_update)) < 0 ||
	    (r = dcap_asn1_time_to_time(X509_CRL_get0_nextUpdate(rc.root_crl),
					&c->root_crl_next_update)) < 0 ||
	    (r = dcap_window_add_crl(rc.pck_crl, &c->not_before, &c->not_after)) < 0 ||
	    (r = dcap_window_add_crl(rc.root_crl, &c->not_before, &c->not_after)) < 0) {
		refuse(reason, reason_len, r, "CRL validity period unreadable");
		goto out;
	}
	if (rc.pck_crl_other &&
	    ((r = dcap_asn1_time_to_time(X509_CRL_get0_lastUpdate(rc.pck_crl_other),
					 &c->pck_crl_other_this_update)) < 0 ||
	     (r = dcap_asn1_time_to_time(X509_CRL_get0_nextUpdate(rc.pck_crl_other),
					 &c->pck_crl_other_next_update)) < 0 ||
	     (r = dcap_window_add_crl(rc.pck_crl_other, &c->not_before, &c->not_after)) < 0)) {
		refuse(reason, reason_len, r, "second PCK CA CRL: validity period unreadable");
		goto out;
	}

	/* Fill OpenSSL's per-certificate extension caches now: the chains are shared read-only by
	 * concurrent verifications, which would otherwise race to fill them. */
	for (int i = 0; i < sk_X509_num(rc.tcb_chain); i++)
		(void)X509_check_purpose(sk_X509_value(rc.tcb_chain, i), -1, 0);
	for (int i = 0; i < sk_X509_num(rc.qe_chain); i++)
		(void)X509_check_purpose(sk_X509_value(rc.qe_chain, i), -1, 0);

	c->tcb_chain = rc.tcb_chain;
	c->qe_chain = rc.qe_chain;
	c->pck_crl_chain = rc.pck_crl_chain;
	c->pck_crl = rc.pck_crl;
	c->pck_crl_other = rc.pck_crl_other;
	c->root_crl = rc.root_crl;
	rc.tcb_chain = rc.qe_chain = rc.pck_crl_chain = NULL;
	rc.pck_crl = rc.pck_crl_other = rc.root_crl = NULL;
	*out = TAKE_PTR(c);
	r = 0;
out:
	raw_collateral_done(&rc);
	return r;
}

void dcap_collateral_window(const struct dcap_collateral *c, time_t *not_before, time_t *not_after)
{
	*not_before = c->not_before;
	*not_after = c->not_after;
}

time_t dcap_collateral_oldest_issue(const struct dcap_collateral *c)
{
	return c->tcb.issue_date < c->qe.issue_date ? c->tcb.issue_date : c->qe.issue_date;
}
