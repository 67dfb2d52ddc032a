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

static int get_field(struct json_object *o, struct parse_ctx *what, const char *key, json_type type,
		     struct json_object **out)
{
	struct json_object *v = NULL;

	*out = NULL;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return parse_fail(what, "'%s' missing", key);
	if (!json_object_is_type(v, type))
		return parse_fail(what, "'%s' is not a %s", key, json_type_to_name(type));
	*out = v;
	return 0;
}

static int get_uint(struct json_object *o, struct parse_ctx *what, const char *key, uint32_t max,
		    uint32_t *out)
{
	struct json_object *v;
	int64_t x;
	int r;

	*out = 0;
	r = get_field(o, what, key, json_type_int, &v);
	if (r < 0)
		return r;
	x = json_object_get_int64(v);
	if (x < 0 || x > (int64_t)max)
		return parse_fail(what, "'%s' out of range", key);
	*out = (uint32_t)x;
	return 0;
}

static int get_hex(struct json_object *o, struct parse_ctx *what, const char *key, uint8_t *out,
		   size_t n)
{
	struct json_object *v;
	int r;

	r = get_field(o, what, key, json_type_string, &v);
	if (r < 0)
		return r;
	if (hex_decode_exact(json_object_get_string(v), (size_t)json_object_get_string_len(v), out,
			     n) < 0)
		return parse_fail(what, "'%s' is not %zu bytes of hex", key, n);
	return 0;
}

static int get_time(struct json_object *o, struct parse_ctx *what, const char *key, time_t *out)
{
	struct json_object *v;
	int r;

	*out = 0;
	r = get_field(o, what, key, json_type_string, &v);
	if (r < 0)
		return r;
	if (dcap_time_parse_rfc3339(json_object_get_string(v), out) < 0)
		return parse_fail(what, "'%s' is not an RFC 3339 time", key);
	return 0;
}

static int get_status(struct json_object *o, struct parse_ctx *what, enum tcb_status *out)
{
	struct json_object *v;
	const char *s;
	int r;

	*out = TCB_NOT_SUPPORTED;
	r = get_field(o, what, "tcbStatus", json_type_string, &v);
	if (r < 0)
		return r;
	s = json_object_get_string(v);
	if (tcb_status_from_name(s, out) == 0)
		return 0;
	*out = TCB_NOT_SUPPORTED;
	return parse_fail(what, "unknown tcbStatus '%s'", s);
}

static int get_advisories(struct json_object *o, struct parse_ctx *what, struct tcb_advisories *out)
{
	struct json_object *v;
	size_t n;

	out->n = 0;
	if (!json_object_object_get_ex(o, "advisoryIDs", &v))
		return 0; /* optional */
	if (!json_object_is_type(v, json_type_array))
		return parse_fail(what, "'advisoryIDs' is not an array");
	n = json_object_array_length(v);
	if (n > DCAP_MAX_ADVISORIES)
		return parse_fail(what, "more than %d advisory IDs", DCAP_MAX_ADVISORIES);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);

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

static int get_array(struct json_object *o, struct parse_ctx *what, const char *key, size_t max,
		     struct json_object **out, size_t *n)
{
	int r;

	*n = 0;
	r = get_field(o, what, key, json_type_array, out);
	if (r < 0)
		return r;
	*n = json_object_array_length(*out);
	if (*n > max)
		return parse_fail(what, "'%s' has more than %zu entries", key, max);
	return 0;
}

/* {"tcb":{"isvsvn":N},"tcbDate":...,"tcbStatus":...,"advisoryIDs":[...]} entries. */
static int parse_isv_levels(struct json_object *o, struct parse_ctx *what, struct isv_level *levels,
			    size_t *n_levels)
{
	struct json_object *arr;
	size_t n;
	int r;

	r = get_array(o, what, "tcbLevels", TCB_MAX_MODULE_LEVELS, &arr, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		struct json_object *lvl = json_object_array_get_idx(arr, i), *tcb;
		uint32_t svn;

		if (!json_object_is_type(lvl, json_type_object))
			return parse_fail(what, "TCB level %zu is not an object", i);
		r = get_field(lvl, what, "tcb", json_type_object, &tcb);
		if (r < 0)
			return r;
		r = get_uint(tcb, what, "isvsvn", 65535, &svn);
		if (r < 0)
			return r;
		levels[i].isvsvn = (uint16_t)svn;
		r = get_status(lvl, what, &levels[i].status);
		if (r < 0)
			return r;
		r = get_advisories(lvl, what, &levels[i].advisories);
		if (r < 0)
			return r;
	}
	*n_levels = n;
	return 0;
}

static int parse_module(struct parse_ctx *parent, struct json_object *o, bool with_levels,
			struct tdx_module_identity *m)
{
	struct parse_ctx sub = {"TCB info tdxModule", parent->reason, parent->reason_len},
			 *what = &sub;
	int r;

	if (with_levels) {
		struct json_object *id;

		r = get_field(o, what, "id", json_type_string, &id);
		if (r < 0)
			return r;
		if (json_object_get_string_len(id) <= 0 ||
		    (size_t)json_object_get_string_len(id) >= sizeof(m->id))
			return parse_fail(what, "'id' malformed");
		memcpy(m->id, json_object_get_string(id),
		       (size_t)json_object_get_string_len(id) + 1);
	}
	if ((r = get_hex(o, what, "mrsigner", m->mrsigner, sizeof(m->mrsigner))) < 0 ||
	    (r = get_hex(o, what, "attributes", m->attributes, sizeof(m->attributes))) < 0 ||
	    (r = get_hex(o, what, "attributesMask", m->attributes_mask,
			 sizeof(m->attributes_mask))) < 0)
		return r;
	if (with_levels)
		return parse_isv_levels(o, what, m->levels, &m->n_levels);
	return 0;
}

static int parse_svn_components(struct parse_ctx *parent, struct json_object *tcb, const char *key,
				uint8_t svn[16])
{
	struct parse_ctx sub = {"TCB info level", parent->reason, parent->reason_len}, *what = &sub;
	struct json_object *arr;
	size_t n;
	int r;

	r = get_array(tcb, what, key, 16, &arr, &n);
	if (r < 0)
		return r;
	if (n != 16)
		return parse_fail(what, "'%s' has %zu entries, not 16", key, n);
	for (size_t i = 0; i < 16; i++) {
		struct json_object *c = json_object_array_get_idx(arr, i);
		uint32_t v;

		if (!json_object_is_type(c, json_type_object))
			return parse_fail(what, "'%s'[%zu] is not an object", key, i);
		r = get_uint(c, what, "svn", 255, &v);
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

static int expect_id_version(struct json_object *o, struct parse_ctx *what, const char *id,
			     uint32_t version)
{
	struct json_object *v;
	uint32_t ver;
	int r;

	r = get_field(o, what, "id", json_type_string, &v);
	if (r < 0)
		return r;
	if (strcmp(json_object_get_string(v), id) != 0)
		return parse_fail(what, "id '%s' is not '%s'", json_object_get_string(v), id);
	r = get_uint(o, what, "version", 1000, &ver);
	if (r < 0)
		return r;
	if (ver != version)
		return parse_fail(what, "version %u unsupported (want %u)", ver, version);
	return 0;
}

int tcb_info_parse(const char *raw, size_t len, struct tcb_info *t, char *reason, size_t reason_len)
{
	_cleanup_(json_object_putp) struct json_object *o = parse_object(raw, len, "TCB info");
	struct parse_ctx pc = {"TCB info", reason, reason_len}, *what = &pc;
	struct json_object *arr, *v;
	size_t n;
	int r;

	memset(t, 0, sizeof(*t));
	if (!o)
		return parse_fail(what, "not a JSON object");
	if ((r = expect_id_version(o, what, "TDX", 3)) < 0 ||
	    (r = get_time(o, what, "issueDate", &t->issue_date)) < 0 ||
	    (r = get_time(o, what, "nextUpdate", &t->next_update)) < 0 ||
	    (r = get_hex(o, what, "fmspc", t->fmspc, sizeof(t->fmspc))) < 0 ||
	    (r = get_hex(o, what, "pceId", t->pce_id, sizeof(t->pce_id))) < 0 ||
	    (r = get_uint(o, what, "tcbEvaluationDataNumber", UINT32_MAX, &t->eval_number)) < 0)
		return r;
	if (json_object_object_get_ex(o, "tdxModule", &v)) {
		if (!json_object_is_type(v, json_type_object))
			return parse_fail(what, "'tdxModule' is not an object");
		r = parse_module(what, v, false, &t->module);
		if (r < 0)
			return r;
		t->has_module = true;
	}
	if (json_object_object_get_ex(o, "tdxModuleIdentities", &v)) {
		r = get_array(o, what, "tdxModuleIdentities", TCB_MAX_MODULES, &arr, &n);
		if (r < 0)
			return r;
		for (size_t i = 0; i < n; i++) {
			struct json_object *m = json_object_array_get_idx(arr, i);

			if (!json_object_is_type(m, json_type_object))
				return parse_fail(what, "module identity %zu malformed", i);
			r = parse_module(what, m, true, &t->modules[i]);
			if (r < 0)
				return r;
		}
		t->n_modules = n;
	}
	r = get_array(o, what, "tcbLevels", TCB_MAX_LEVELS, &arr, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		struct json_object *lvl = json_object_array_get_idx(arr, i), *tcb;
		struct tcb_level *l = &t->levels[i];
		uint32_t pcesvn;

		if (!json_object_is_type(lvl, json_type_object))
			return parse_fail(what, "TCB level %zu is not an object", i);
		if ((r = get_field(lvl, what, "tcb", json_type_object, &tcb)) < 0 ||
		    (r = parse_svn_components(what, tcb, "sgxtcbcomponents", l->sgx_svn)) < 0 ||
		    (r = parse_svn_components(what, tcb, "tdxtcbcomponents", l->tdx_svn)) < 0 ||
		    (r = get_uint(tcb, what, "pcesvn", 65535, &pcesvn)) < 0 ||
		    (r = get_status(lvl, what, &l->status)) < 0 ||
		    (r = get_advisories(lvl, what, &l->advisories)) < 0)
			return r;
		l->pce_svn = (uint16_t)pcesvn;
	}
	t->n_levels = n;
	if (t->next_update <= t->issue_date)
		return parse_fail(what, "nextUpdate is not after issueDate");
	return 0;
}

int qe_identity_parse(const char *raw, size_t len, struct qe_identity *q, char *reason,
		      size_t reason_len)
{
	_cleanup_(json_object_putp) struct json_object *o = parse_object(raw, len, "QE identity");
	struct parse_ctx pc = {"QE identity", reason, reason_len}, *what = &pc;
	uint8_t misc[4], misc_mask[4];
	uint32_t prodid;
	int r;

	memset(q, 0, sizeof(*q));
	if (!o)
		return parse_fail(what, "not a JSON object");
	if ((r = expect_id_version(o, what, "TD_QE", 2)) < 0 ||
	    (r = get_time(o, what, "issueDate", &q->issue_date)) < 0 ||
	    (r = get_time(o, what, "nextUpdate", &q->next_update)) < 0 ||
	    (r = get_uint(o, what, "tcbEvaluationDataNumber", UINT32_MAX, &q->eval_number)) < 0 ||
	    (r = get_hex(o, what, "miscselect", misc, sizeof(misc))) < 0 ||
	    (r = get_hex(o, what, "miscselectMask", misc_mask, sizeof(misc_mask))) < 0 ||
	    (r = get_hex(o, what, "attributes", q->attributes, sizeof(q->attributes))) < 0 ||
	    (r = get_hex(o, what, "attributesMask", q->attributes_mask,
			 sizeof(q->attributes_mask))) < 0 ||
	    (r = get_hex(o, what, "mrsigner", q->mrsigner, sizeof(q->mrsigner))) < 0 ||
	    (r = get_uint(o, what, "isvprodid", 65535, &prodid)) < 0 ||
	    (r = parse_isv_levels(o, what, q->levels, &q->n_levels)) < 0)
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

	if ((r = bundle_string(&field, o, "tcb_info", true, &s, &n)) < 0)
		goto bad;
	free(rc->tcb_raw);
	rc->tcb_raw = dup_bytes(s, n);
	rc->tcb_len = n;
	if ((r = bundle_string(&field, o, "tcb_info_signature", true, &s, &n)) < 0)
		goto bad;
	if (hex_decode_exact(s, n, rc->tcb_sig, sizeof(rc->tcb_sig)) < 0) {
		r = log_error_errno(-EBADMSG,
				    "collateral bundle: 'tcb_info_signature' not 64 bytes");
		goto bad;
	}
	if ((r = bundle_string(&field, o, "qe_identity", true, &s, &n)) < 0)
		goto bad;
	free(rc->qe_raw);
	rc->qe_raw = dup_bytes(s, n);
	rc->qe_len = n;
	if ((r = bundle_string(&field, o, "qe_identity_signature", true, &s, &n)) < 0)
		goto bad;
	if (hex_decode_exact(s, n, rc->qe_sig, sizeof(rc->qe_sig)) < 0) {
		r = log_error_errno(-EBADMSG,
				    "collateral bundle: 'qe_identity_signature' not 64 bytes");
		goto bad;
	}
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
	struct json_object *s;
	const char *value;
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
	if (!o || get_field(o, &pc, "signature", json_type_string, &s) < 0 ||
	    hex_decode_exact(json_object_get_string(s), (size_t)json_object_get_string_len(s), sig,
			     64) < 0)
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

DEFINE_CLEANUP_FUNC(struct dcap_collateral, dcap_collateral_free)

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
