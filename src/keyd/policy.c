#define _GNU_SOURCE
#include "policy.h"

#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aael.h"
#include "ccel.h"
#include "cleanup.h"
#include "hexutil.h"
#include "json_build.h"
#include "json_strict.h"
#include "log.h"

#define POLICY_FILE_MAX	 (256 * 1024)
#define POLICY_MAX_FILES 4096
#define POLICY_ID_MAX	 64

struct policy_set {
	atomic_uint refcount;
	struct policy *policies;
	size_t n;
};

/* Each field's JSON member name and the label refusals use. */
static const struct {
	const char *name, *label;
} policy_fields[_POLICY_FIELD_MAX] = {
	[POLICY_MRTD] = {"mrtd", "MRTD"},
	[POLICY_RTMR0] = {"rtmr0", "RTMR0"},
	[POLICY_RTMR1] = {"rtmr1", "RTMR1"},
	[POLICY_RTMR2] = {"rtmr2", "RTMR2"},
	[POLICY_RTMR3] = {"rtmr3", "RTMR3"},
	[POLICY_TD_ATTRIBUTES] = {"td_attributes", "TD attributes"},
	[POLICY_XFAM] = {"xfam", "XFAM"},
	[POLICY_MRCONFIGID] = {"mrconfigid", "MRCONFIGID"},
	[POLICY_MROWNER] = {"mrowner", "MROWNER"},
	[POLICY_MROWNERCONFIG] = {"mrownerconfig", "MROWNERCONFIG"},
	[POLICY_MRSERVICETD] = {"mrservicetd", "MRSERVICETD"},
	[POLICY_TEE_TCB_SVN2] = {"tee_tcb_svn2", "TEE_TCB_SVN2"},
};

/* Every set states these, by value or by an explicit waiver. */
static bool field_required(enum policy_field f)
{
	return f <= POLICY_TD_ATTRIBUTES;
}

static bool field_is_rtmr(enum policy_field f)
{
	return f >= POLICY_RTMR0 && f <= POLICY_RTMR3;
}

const char *policy_field_name(enum policy_field f)
{
	return f < _POLICY_FIELD_MAX ? policy_fields[f].name : "?";
}

static size_t field_len(enum policy_field f)
{
	if (f == POLICY_XFAM || f == POLICY_TD_ATTRIBUTES)
		return 8;
	return f == POLICY_TEE_TCB_SVN2 ? 16 : TDX_MR_LEN;
}

static const uint8_t *body_field(const struct tdx_td_body *b, enum policy_field f)
{
	switch (f) {
	case POLICY_MRTD:
		return b->mrtd;
	case POLICY_RTMR0:
	case POLICY_RTMR1:
	case POLICY_RTMR2:
	case POLICY_RTMR3:
		return b->rtmr[f - POLICY_RTMR0];
	case POLICY_TD_ATTRIBUTES:
		return b->td_attributes;
	case POLICY_XFAM:
		return b->xfam;
	case POLICY_MRCONFIGID:
		return b->mrconfigid;
	case POLICY_MROWNER:
		return b->mrowner;
	case POLICY_MROWNERCONFIG:
		return b->mrownerconfig;
	case POLICY_MRSERVICETD:
		return b->mrservicetd;
	case POLICY_TEE_TCB_SVN2:
		return b->tee_tcb_svn2;
	default:
		return NULL;
	}
}

static void measurements_clear(struct policy_measurements *m)
{
	for (size_t i = 0; i < ARRAY_SIZE(m->accepted); i++)
		free(m->accepted[i]);
}

static void policy_clear(struct policy *p)
{
	free(p->id);
	free(p->file);
	for (size_t i = 0; i < p->n_resources; i++)
		free(p->resources[i]);
	free(p->resources);
	for (size_t i = 0; i < p->n_sets; i++)
		measurements_clear(&p->sets[i]);
	free(p->sets);
}

static bool name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

bool policy_resource_path_valid(const char *path)
{
	size_t seg_len = 0, segs = 1;

	if (!path || !*path || strlen(path) > 255)
		return false;
	for (const char *c = path; *c; c++) {
		if (*c == '/') {
			if (seg_len == 0)
				return false;
			segs++;
			seg_len = 0;
			continue;
		}
		if (!name_char_ok(*c))
			return false;
		seg_len++;
	}
	if (seg_len == 0 || segs != 3)
		return false;
	/* No "." or ".." segments, so a path never names anything outside its repository. */
	return !strstr(path, "/./") && !strstr(path, "/../") && strncmp(path, "./", 2) != 0 &&
	       strncmp(path, "../", 3) != 0 && !strstr(path, "/..") &&
	       strcmp(path + strlen(path) - 2, "/.") != 0;
}

static int parse_resource_pattern(const char *file, const char *s, char **out)
{
	size_t len = strlen(s);

	if (len == 0 || len > 255)
		return log_error_errno(
			-EINVAL, "%s: field 'resources': entry '%s' has a bad length", file, s);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '*' && i == len - 1)
			continue;
		if (s[i] != '/' && !name_char_ok(s[i]))
			return log_error_errno(-EINVAL,
					       "%s: field 'resources': entry '%s' may only hold "
					       "[A-Za-z0-9._-/] and one trailing '*'",
					       file, s);
	}
	if (s[len - 1] != '*' && !policy_resource_path_valid(s))
		return log_error_errno(
			-EINVAL, "%s: field 'resources': entry '%s' is not repo/type/tag", file, s);
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

/* A set of accepted register values, grown event by event: every accepted digest of the next
 * event extends every value so far. */
struct reg_values {
	uint8_t (*v)[TDX_MR_LEN];
	size_t n;
};

static int reg_values_extend(const char *file, const char *where, struct reg_values *rv,
			     const uint8_t (*digests)[TDX_MR_LEN], size_t n_digests)
{
	uint8_t(*next)[TDX_MR_LEN];
	size_t n = 0;
	int r;

	if (rv->n * n_digests > POLICY_MAX_REGISTER_VALUES)
		return log_error_errno(-E2BIG,
				       "%s: field %s: the accepted digests allow more than %d "
				       "register values; split the set",
				       file, where, POLICY_MAX_REGISTER_VALUES);
	next = calloc(rv->n * n_digests, TDX_MR_LEN);
	if (!next)
		return -ENOMEM;
	for (size_t i = 0; i < rv->n; i++)
		for (size_t d = 0; d < n_digests; d++) {
			memcpy(next[n], rv->v[i], TDX_MR_LEN);
			r = aael_extend(next[n++], digests[d]);
			if (r < 0) {
				free(next);
				return r;
			}
		}
	free(rv->v);
	rv->v = next;
	rv->n = n;
	return 0;
}

#define POLICY_MAX_DIGESTS 16 /* accepted digests of one event */
#define POLICY_MAX_EVENTS  256

/* A digest, or an array of 1..POLICY_MAX_DIGESTS alternatives, each hashed by hash_text when
 * set (AAEL fields are given as text). */
static int parse_digests(const char *file, const char *where, struct json_object *v,
			 uint8_t (*out)[TDX_MR_LEN], size_t *n_out)
{
	size_t n = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 1;

	if (n == 0 || n > POLICY_MAX_DIGESTS)
		return log_error_errno(-EINVAL, "%s: field %s must list 1-%d digests", file, where,
				       POLICY_MAX_DIGESTS);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_is_type(v, json_type_array)
						? json_object_array_get_idx(v, i)
						: v;
		const char *h = json_object_get_string(e);

		if (!json_object_is_type(e, json_type_string) || strlen(h) != 2 * TDX_MR_LEN ||
		    hex_decode_exact(h, strlen(h), out[i], TDX_MR_LEN) < 0)
			return log_error_errno(-EINVAL,
					       "%s: field %s must be a SHA-384 digest (96 hex "
					       "digits) or an array of them",
					       file, where);
	}
	*n_out = n;
	return 0;
}

/* An AAEL field: a string or an array of alternatives; fills the digests of the lines the
 * prefix ("domain operation ") and each alternative make. */
static int parse_aael_alternatives(const char *file, const char *where, struct json_object *ev,
				   uint8_t (*out)[TDX_MR_LEN], size_t *n_out)
{
	struct json_object *dom, *op, *content;
	char line[AAEL_LINE_MAX + 1];
	size_t n;
	int r;

	if (!json_object_object_get_ex(ev, "domain", &dom) ||
	    !json_object_object_get_ex(ev, "operation", &op) ||
	    !json_object_object_get_ex(ev, "content", &content) ||
	    !json_object_is_type(dom, json_type_string) ||
	    !json_object_is_type(op, json_type_string))
		return log_error_errno(-EINVAL,
				       "%s: field %s needs \"domain\", \"operation\" and "
				       "\"content\" (a string or an array of strings)",
				       file, where);
	n = json_object_is_type(content, json_type_array) ? json_object_array_length(content) : 1;
	if (n == 0 || n > POLICY_MAX_DIGESTS)
		return log_error_errno(-EINVAL, "%s: field %s.content must list 1-%d values", file,
				       where, POLICY_MAX_DIGESTS);
	for (size_t i = 0; i < n; i++) {
		struct json_object *c = json_object_is_type(content, json_type_array)
						? json_object_array_get_idx(content, i)
						: content;

		if (!json_object_is_type(c, json_type_string) ||
		    aael_format_event(json_object_get_string(dom), json_object_get_string(op),
				      json_object_get_string(c), line, sizeof(line)) < 0)
			return log_error_errno(
				-EINVAL,
				"%s: field %s: each of domain, operation and content "
				"must be 1-%d printable characters without spaces",
				file, where, AAEL_FIELD_MAX);
		r = aael_line_digest(line, strlen(line), out[i]);
		if (r < 0)
			return r;
	}
	*n_out = n;
	return 0;
}

/* Refuses members of a nested object that keys (NULL-terminated) does not name. */
static int policy_only_keys(const char *file, const char *where, struct json_object *o,
			    const char *const *keys)
{
	char what[256];

	snprintf(what, sizeof(what), "%s: %s", file, where);
	return json_strict_only_members(o, what, keys, NULL, 0);
}

/* {"events": [...]} for an RTMR: the accepted digests of each event, in the order the boot
 * measures them. RTMR0-2 start from zero; RTMR3 from "init" (default zero) through the AAEL's
 * INIT line. Conveniences: {"kernel"|"initrd"|"cmdline": digests} for the TDVF direct boot's
 * events; for RTMR3 {"domain", "operation", "content"} for an AAEL application event. */
static int parse_register_events(const char *file, const char *where, enum policy_field f,
				 struct json_object *o, struct policy_measurements *m)
{
	static const char *const keys[] = {"events", "init", "comment", NULL};
	static const char *const ev_keys[] = {"type",	 "digest", "kernel",	"initrd",
					      "cmdline", "domain", "operation", "content",
					      "comment", NULL};
	static const char *const kinds[] = {"digest", "kernel", "initrd", "cmdline"};
	uint8_t digests[POLICY_MAX_DIGESTS][TDX_MR_LEN];
	struct reg_values rv = {0};
	struct json_object *arr, *v;
	char ewhere[128];
	size_t n = 0;
	int r;

	r = policy_only_keys(file, where, o, keys);
	if (r < 0)
		return r;
	if (!json_object_object_get_ex(o, "events", &arr) ||
	    !json_object_is_type(arr, json_type_array) || json_object_array_length(arr) == 0 ||
	    json_object_array_length(arr) > POLICY_MAX_EVENTS)
		return log_error_errno(-EINVAL,
				       "%s: field %s.events must be an array of 1-%d events", file,
				       where, POLICY_MAX_EVENTS);
	rv.v = calloc(1, TDX_MR_LEN);
	if (!rv.v)
		return -ENOMEM;
	rv.n = 1;
	if (json_object_object_get_ex(o, "init", &v)) {
		if (f != POLICY_RTMR3 || !json_object_is_type(v, json_type_string) ||
		    hex_decode_exact(json_object_get_string(v), json_object_get_string_len(v),
				     rv.v[0], TDX_MR_LEN) < 0) {
			r = log_error_errno(-EINVAL,
					    "%s: field %s.init: only rtmr3 has one, 96 hex digits",
					    file, where);
			goto out;
		}
	}
	if (f == POLICY_RTMR3) {
		char line[AAEL_INIT_LEN + 1];

		r = aael_format_init(rv.v[0], line, sizeof(line));
		if (r == 0)
			r = aael_line_digest(line, strlen(line), digests[0]);
		if (r == 0)
			r = reg_values_extend(file, where, &rv, digests, 1);
		if (r < 0)
			goto out;
	}
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *ev = json_object_array_get_idx(arr, i);
		const char *kind = NULL;

		snprintf(ewhere, sizeof(ewhere), "%s.events[%zu]", where, i);
		if (!json_object_is_type(ev, json_type_object)) {
			r = log_error_errno(-EINVAL, "%s: field %s is not an object", file, ewhere);
			goto out;
		}
		r = policy_only_keys(file, ewhere, ev, ev_keys);
		if (r < 0)
			goto out;
		for (size_t k = 0; k < ARRAY_SIZE(kinds); k++)
			if (json_object_object_get_ex(ev, kinds[k], &v)) {
				if (kind) {
					r = log_error_errno(-EINVAL,
							    "%s: field %s names both '%s' and "
							    "'%s'",
							    file, ewhere, kind, kinds[k]);
					goto out;
				}
				kind = kinds[k];
			}
		if (json_object_object_get_ex(ev, "type", &v)) {
			uint32_t type;

			if (!json_object_is_type(v, json_type_string) ||
			    ccel_event_type_parse(json_object_get_string(v), &type) < 0) {
				r = log_error_errno(-EINVAL,
						    "%s: field %s.type is not an event type "
						    "(EV_SEPARATOR, ..., or a number)",
						    file, ewhere);
				goto out;
			}
		}
		if (kind && (json_object_object_get_ex(ev, "domain", NULL) ||
			     json_object_object_get_ex(ev, "operation", NULL) ||
			     json_object_object_get_ex(ev, "content", NULL))) {
			r = log_error_errno(-EINVAL,
					    "%s: field %s gives both '%s' and an AAEL event", file,
					    ewhere, kind);
			goto out;
		}
		if (kind) {
			if (f == POLICY_RTMR3 && strcmp(kind, "digest") != 0) {
				r = log_error_errno(-EINVAL,
						    "%s: field %s: '%s' is not an RTMR3 event",
						    file, ewhere, kind);
				goto out;
			}
			json_object_object_get_ex(ev, kind, &v);
			r = parse_digests(file, ewhere, v, digests, &n);
		} else if (f == POLICY_RTMR3) {
			r = parse_aael_alternatives(file, ewhere, ev, digests, &n);
		} else {
			r = log_error_errno(-EINVAL,
					    "%s: field %s needs \"digest\" (or \"kernel\", "
					    "\"initrd\", \"cmdline\")",
					    file, ewhere);
		}
		if (r == 0)
			r = reg_values_extend(file, where, &rv, digests, n);
		if (r < 0)
			goto out;
	}
	m->accepted[f - POLICY_RTMR0] = TAKE_PTR(rv.v);
	m->n_accepted[f - POLICY_RTMR0] = rv.n;
	r = 0;
out:
	free(rv.v);
	return r;
}

/* A waiver must be written out: {"waive": "<why, 1-200 printable characters>"}. */
static int parse_waiver(const char *file, const char *where, struct json_object *o,
			const char **why)
{
	static const char *const keys[] = {"waive", NULL};
	struct json_object *v;
	const char *s;
	size_t len;
	int r;

	r = policy_only_keys(file, where, o, keys);
	if (r < 0)
		return r;
	json_object_object_get_ex(o, "waive", &v);
	s = json_object_get_string(v);
	len = json_object_is_type(v, json_type_string) ? strlen(s) : 0;
	if (len == 0 || len > 200)
		return log_error_errno(
			-EINVAL, "%s: field %s.waive must say why (1-200 characters)", file, where);
	for (size_t i = 0; i < len; i++)
		if (s[i] < ' ' || s[i] > '~')
			return log_error_errno(
				-EINVAL, "%s: field %s.waive must be printable ASCII", file, where);
	*why = s;
	return 0;
}

static int parse_measurement_set(const char *file, size_t idx, struct json_object *o,
				 struct policy_measurements *m)
{
	char where[64], fwhere[96];
	int r;

	snprintf(where, sizeof(where), "'measurements'[%zu]", idx);
	if (!json_object_is_type(o, json_type_object))
		return log_error_errno(-EINVAL, "%s: field %s is not an object", file, where);
	json_object_object_foreach (o, key, val) {
		bool known = !strcmp(key, "comment");

		for (int f = 0; f < _POLICY_FIELD_MAX; f++)
			known = known || !strcmp(key, policy_fields[f].name);
		if (!known)
			return log_error_errno(-EINVAL, "%s: unknown field '%s' in %s", file, key,
					       where);
		if (!val)
			return log_error_errno(
				-EINVAL,
				"%s: field %s.%s is null: give its value, or waive it explicitly "
				"with {\"waive\": \"<why>\"}",
				file, where, key);
	}
	for (int f = 0; f < _POLICY_FIELD_MAX; f++) {
		struct json_object *v;
		const char *why = "";

		snprintf(fwhere, sizeof(fwhere), "%s.%s", where, policy_fields[f].name);
		if (!json_object_object_get_ex(o, policy_fields[f].name, &v)) {
			if (field_required(f))
				return log_error_errno(
					-EINVAL,
					"%s: field %s is missing: pin it, or waive it explicitly "
					"with {\"waive\": \"<why>\"}",
					file, fwhere);
			continue;
		}
		if (json_object_is_type(v, json_type_string)) {
			const char *s = json_object_get_string(v);

			if (strlen(s) != 2 * field_len(f) ||
			    hex_decode_exact(s, strlen(s), m->value[f], field_len(f)) < 0)
				return log_error_errno(-EINVAL,
						       "%s: field %s must be %zu hex digits", file,
						       fwhere, 2 * field_len(f));
			m->pin[f] = POLICY_PIN_VALUE;
			continue;
		}
		if (!json_object_is_type(v, json_type_object))
			return log_error_errno(-EINVAL, "%s: field %s must be %zu hex digits%s",
					       file, fwhere, 2 * field_len(f),
					       field_required(f) ? " or an object" : "");
		if (field_is_rtmr(f) && json_object_object_get_ex(v, "events", NULL)) {
			r = parse_register_events(file, fwhere, f, v, m);
			if (r < 0)
				return r;
			m->pin[f] = POLICY_PIN_EVENTS;
			continue;
		}
		if (!field_required(f))
			return log_error_errno(-EINVAL, "%s: field %s must be %zu hex digits", file,
					       fwhere, 2 * field_len(f));
		r = parse_waiver(file, fwhere, v, &why);
		if (r < 0)
			return r;
		m->pin[f] = POLICY_PIN_WAIVED;
		if (f == POLICY_TD_ATTRIBUTES)
			log_warn("%s: field %s not pinned (%s): TD attributes outside the "
				 "allow-list SEPT_VE_DISABLE, PKS, KL are refused",
				 file, fwhere, why);
		else
			log_warn("%s: field %s WAIVED (%s): any value is accepted", file, fwhere,
				 why);
	}
	return 0;
}

static int policy_parse(const char *file, struct json_object *root, struct policy *p)
{
	struct json_object *resources = NULL, *measurements = NULL, *statuses = NULL, *arr;
	const char *s = NULL, *comment = NULL;
	uint64_t age_days = 0, eval_number = 0, key_version = 1;
	const struct json_field fields[] = {
		JSON_STRING("id", true, 1, POLICY_ID_MAX, &s),
		JSON_STRING("comment", false, 0, SIZE_MAX, &comment),
		JSON_ARRAY("resources", true, 1, 1024, &resources),
		JSON_ARRAY("measurements", true, 1, 256, &measurements),
		JSON_ARRAY("tcb_statuses", false, 1, POLICY_MAX_TCB_STATUSES, &statuses),
		JSON_U64("max_collateral_age_days", false, 1, 3650, &age_days),
		JSON_U64("key_version", false, 1, UINT32_MAX, &key_version),
		JSON_U64("min_tcb_eval_number", false, 1, UINT32_MAX, &eval_number),
	};
	int r;

	/* null is never "absent": an optional field is left out, not nulled. */
	json_object_object_foreach (root, key, val)
		if (!val)
			return log_error_errno(-EINVAL,
					       "%s: field '%s' is null: give its value or leave it "
					       "out",
					       file, key);
	r = json_strict_fields(root, file, fields, ARRAY_SIZE(fields), NULL, 0);
	if (r < 0)
		return r;
	for (const char *c = s; *c; c++)
		if (!name_char_ok(*c))
			return log_error_errno(-EINVAL,
					       "%s: field 'id' must be 1-%d of [A-Za-z0-9._-]",
					       file, POLICY_ID_MAX);
	p->id = strdup(s);
	p->file = strdup(file);
	if (!p->id || !p->file)
		return -ENOMEM;

	arr = resources;
	p->n_resources = json_object_array_length(arr);
	p->resources = calloc(p->n_resources, sizeof(char *));
	if (!p->resources)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_resources; i++) {
		struct json_object *e = json_object_array_get_idx(arr, i);

		if (!json_object_is_type(e, json_type_string))
			return log_error_errno(
				-EINVAL, "%s: field 'resources'[%zu] is not a string", file, i);
		r = parse_resource_pattern(file, json_object_get_string(e), &p->resources[i]);
		if (r < 0)
			return r;
	}

	arr = measurements;
	p->n_sets = json_object_array_length(arr);
	p->sets = calloc(p->n_sets, sizeof(*p->sets));
	if (!p->sets)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_sets; i++) {
		r = parse_measurement_set(file, i, json_object_array_get_idx(arr, i), &p->sets[i]);
		if (r < 0)
			return r;
	}

	if (!statuses) {
		p->tcb_statuses[0] = TCB_UP_TO_DATE;
		p->n_tcb_statuses = 1;
	} else {
		size_t n = json_object_array_length(statuses);

		arr = statuses;
		for (size_t i = 0; i < n; i++) {
			struct json_object *e = json_object_array_get_idx(arr, i);
			enum tcb_status st = TCB_NOT_SUPPORTED;

			if (json_object_is_type(e, json_type_string))
				(void)tcb_status_from_name(json_object_get_string(e), &st);
			if (st == TCB_REVOKED)
				return log_error_errno(
					-EINVAL,
					"%s: field 'tcb_statuses'[%zu]: a Revoked TCB "
					"is never accepted",
					file, i);
			if (st == TCB_NOT_SUPPORTED)
				return log_error_errno(
					-EINVAL,
					"%s: field 'tcb_statuses'[%zu] is not a TCB "
					"status name (UpToDate, SWHardeningNeeded, ...)",
					file, i);
			p->tcb_statuses[i] = st;
			p->n_tcb_statuses = i + 1;
		}
	}

	p->max_collateral_age_s = age_days * 86400;
	p->min_tcb_eval_number = (uint32_t)eval_number;
	p->key_version = (uint32_t)key_version;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void policy_set_free(struct policy_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		policy_clear(&s->policies[i]);
	free(s->policies);
	free(s);
}

static int list_policy_files(const char *dir, char ***out, size_t *n_out)
{
	DIR *d = opendir(dir);
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	int r = 0;

	if (!d)
		return log_error_errno(-errno, "policy: cannot open directory %s: %m", dir);
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		char **nn;

		if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		if (n >= POLICY_MAX_FILES) {
			r = log_error_errno(-E2BIG, "policy: more than %d files in %s",
					    POLICY_MAX_FILES, dir);
			goto out;
		}
		nn = realloc(names, (n + 1) * sizeof(char *));
		if (!nn) {
			r = -ENOMEM;
			goto out;
		}
		names = nn;
		if (asprintf(&names[n], "%s/%s", dir, de->d_name) < 0) {
			r = -ENOMEM;
			goto out;
		}
		n++;
	}
	if (n)
		qsort(names, n, sizeof(char *), cmp_str);
	*out = TAKE_PTR(names);
	*n_out = n;
out:
	if (names)
		for (size_t i = 0; i < n; i++)
			free(names[i]);
	free(names);
	closedir(d);
	return r;
}

int policy_set_load_dir(const char *dir, struct policy_set **out)
{
	struct policy_set *s = NULL;
	char **files = NULL;
	size_t n_files = 0;
	int r;

	r = list_policy_files(dir, &files, &n_files);
	if (r < 0)
		return r;
	if (n_files == 0) {
		r = log_error_errno(-ENOENT, "policy: no *.json policy files in %s", dir);
		goto out;
	}
	s = calloc(1, sizeof(*s));
	if (s)
		s->policies = calloc(n_files, sizeof(struct policy));
	if (!s || !s->policies) {
		r = -ENOMEM;
		goto out;
	}
	atomic_init(&s->refcount, 1);
	for (size_t i = 0; i < n_files; i++) {
		struct json_object *root = NULL;

		r = json_strict_load_file(files[i], POLICY_FILE_MAX, &root);
		if (r < 0)
			goto out;
		s->n = i + 1;
		r = policy_parse(files[i], root, &s->policies[i]);
		json_object_put(root);
		if (r < 0)
			goto out;
		for (size_t j = 0; j < i; j++) {
			if (!strcmp(s->policies[j].id, s->policies[i].id)) {
				r = log_error_errno(
					-EINVAL, "%s: field 'id': '%s' is also used by %s",
					files[i], s->policies[i].id, s->policies[j].file);
				goto out;
			}
			/* The same entry in two policies would make the release ambiguous. */
			for (size_t a = 0; a < s->policies[i].n_resources; a++)
				for (size_t b = 0; b < s->policies[j].n_resources; b++)
					if (!strcmp(s->policies[i].resources[a],
						    s->policies[j].resources[b])) {
						r = log_error_errno(
							-EINVAL,
							"%s: field 'resources': '%s' is also "
							"covered by %s",
							files[i], s->policies[i].resources[a],
							s->policies[j].file);
						goto out;
					}
		}
	}
	*out = TAKE_PTR(s);
	r = 0;
out:
	for (size_t i = 0; i < n_files; i++)
		free(files[i]);
	free(files);
	policy_set_free(s);
	return r;
}

struct policy_set *policy_set_ref(struct policy_set *s)
{
	if (s)
		atomic_fetch_add(&s->refcount, 1);
	return s;
}

void policy_set_unref(struct policy_set *s)
{
	if (s && atomic_fetch_sub(&s->refcount, 1) == 1)
		policy_set_free(s);
}

size_t policy_set_size(const struct policy_set *s)
{
	return s ? s->n : 0;
}

const struct policy *policy_set_find(const struct policy_set *s, const char *resource)
{
	const struct policy *best = NULL;
	size_t best_len = 0;

	if (!s || !policy_resource_path_valid(resource))
		return NULL;
	for (size_t i = 0; i < s->n; i++)
		for (size_t j = 0; j < s->policies[i].n_resources; j++) {
			const char *pat = s->policies[i].resources[j];
			size_t len = strlen(pat);

			if (pat[len - 1] != '*') {
				if (!strcmp(pat, resource))
					return &s->policies[i];
				continue;
			}
			if (!strncmp(pat, resource, len - 1) && (!best || len - 1 > best_len)) {
				best = &s->policies[i];
				best_len = len - 1;
			}
		}
	return best;
}

static uint64_t td_attributes_u64(const struct tdx_td_body *b)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | b->td_attributes[i];
	return v;
}

/* Names the first refused TD attribute bit. */
static const char *td_attribute_name(uint64_t bits)
{
	static const struct {
		int bit;
		const char *name;
	} names[] = {{0, "DEBUG"}, {29, "MIGRATABLE"}, {63, "PERFMON"}, {27, "LASS"}, {62, "TPA"}};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (bits & (UINT64_C(1) << names[i].bit))
			return names[i].name;
	return "a reserved bit";
}

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/* true when field f of td is acceptable to set m; otherwise why says what differs. */
static bool field_accepts(const struct policy_measurements *m, enum policy_field f,
			  const struct tdx_td_body *b, char *why, size_t why_len)
{
	const uint8_t *v = body_field(b, f);
	uint64_t extra;

	switch (m->pin[f]) {
	case POLICY_PIN_VALUE:
		if (!memcmp(m->value[f], v, field_len(f)))
			return true;
		snprintf(why, why_len, "%s mismatch", policy_fields[f].label);
		return false;
	case POLICY_PIN_EVENTS:
		for (size_t i = 0; i < m->n_accepted[f - POLICY_RTMR0]; i++)
			if (!memcmp(m->accepted[f - POLICY_RTMR0][i], v, TDX_MR_LEN))
				return true;
		snprintf(why, why_len, "%s mismatch (no accepted event sequence yields it)",
			 policy_fields[f].label);
		return false;
	case POLICY_PIN_WAIVED:
		if (f != POLICY_TD_ATTRIBUTES)
			return true;
		extra = td_attributes_u64(b) & ~POLICY_TD_ATTRIBUTES_ALLOWED;
		if (!extra)
			return true;
		snprintf(why, why_len, "TD attributes mismatch (%s set, not on the allow-list)",
			 td_attribute_name(extra));
		return false;
	case POLICY_PIN_NONE:
	default:
		if (f != POLICY_MRSERVICETD || all_zero(v, field_len(f)))
			return true;
		snprintf(why, why_len, "MRSERVICETD mismatch (a service TD is bound; not pinned)");
		return false;
	}
}

int policy_evaluate(const struct policy *p, const struct policy_td *td, char *reason,
		    size_t reason_len)
{
	char best_why[320] = "measurement mismatch";
	int best_field = -1;
	bool ok = false;

	if (td->body->td_attributes[0] & 1) {
		/* Checked here as well as at attest: DEBUG is never acceptable. */
		snprintf(reason, reason_len, "debug TD refused");
		return -EACCES;
	}
	for (size_t i = 0; i < p->n_tcb_statuses; i++)
		if (p->tcb_statuses[i] == td->tcb_status)
			ok = true;
	if (!ok) {
		snprintf(reason, reason_len, "TCB status %s not accepted by policy %s",
			 tcb_status_name(td->tcb_status), p->id);
		return -EACCES;
	}
	if (p->max_collateral_age_s &&
	    td->now - td->collateral_issued > (time_t)p->max_collateral_age_s) {
		snprintf(reason, reason_len, "collateral older than %llu days (policy %s)",
			 (unsigned long long)(p->max_collateral_age_s / 86400), p->id);
		return -EACCES;
	}
	if (td->tcb_eval_number < p->min_tcb_eval_number) {
		snprintf(reason, reason_len,
			 "TCB evaluation data number %u below the minimum %u of policy %s",
			 td->tcb_eval_number, p->min_tcb_eval_number, p->id);
		return -EACCES;
	}
	/* Report the mismatch of the set that matched furthest: that is the field to look at. */
	for (size_t i = 0; i < p->n_sets; i++) {
		char why[128];
		int f;

		for (f = 0; f < _POLICY_FIELD_MAX; f++)
			if (!field_accepts(&p->sets[i], f, td->body, why, sizeof(why)))
				break;
		if (f == _POLICY_FIELD_MAX)
			return 0;
		if (f > best_field) {
			best_field = f;
			if (f == POLICY_RTMR3 && td->rtmr3_log && td->rtmr3_log[0])
				/* The runtime log, verified at attest, says what moved RTMR3. */
				snprintf(best_why, sizeof(best_why),
					 "%s (runtime log replayed at attest: %s)", why,
					 td->rtmr3_log);
			else
				snprintf(best_why, sizeof(best_why), "%s", why);
		}
	}
	snprintf(reason, reason_len, "%s (policy %s)", best_why, p->id);
	return -EACCES;
}

static int add_hex_member(struct json_object *o, const char *key, const uint8_t *p, size_t n)
{
	char hex[2 * TDX_MR_LEN + 1];

	hex_encode(p, n, hex);
	return json_add_string(o, key, hex);
}

/* {"<key>": ["<hex>"], ...}: one accepted digest, in an array so that more can be added. */
static int add_digest_list(struct json_object *ev, const char *key, const uint8_t *digest)
{
	struct json_object *arr = json_object_new_array();
	char hex[2 * TDX_MR_LEN + 1];

	hex_encode(digest, TDX_MR_LEN, hex);
	if (json_add_member(ev, key, arr) < 0 ||
	    json_object_array_add(arr, json_object_new_string(hex)) < 0)
		return -ENOMEM;
	return 0;
}

static int ccel_register_events(const struct ccel_log *ccel, uint32_t rtmr, struct json_object *set,
				const char *key)
{
	struct json_object *reg = json_object_new_object(), *arr = json_object_new_array();
	int r = json_add_member(set, key, reg);

	if (r == 0)
		r = json_add_member(reg, "events", arr);
	else
		json_object_put(arr);
	for (size_t i = 0; r == 0 && i < ccel->n_events; i++) {
		const struct ccel_event *e = &ccel->events[i];
		const char *kind = ccel_event_kind(ccel, i), *name = ccel_event_type_name(e->type);
		struct json_object *ev = json_object_new_object();
		char num[16];

		if (e->rtmr != rtmr) {
			json_object_put(ev);
			continue;
		}
		if (!ev || json_object_array_add(arr, ev) < 0) {
			json_object_put(ev);
			return -ENOMEM;
		}
		if (kind) {
			r = add_digest_list(ev, kind, e->digest);
			continue;
		}
		snprintf(num, sizeof(num), "0x%08x", e->type);
		r = json_add_string(ev, "type", name ? name : num)
			    ?: add_digest_list(ev, "digest", e->digest);
	}
	return r;
}

static int aael_register_events(const struct aael_log *aael, struct json_object *set)
{
	struct json_object *reg = json_object_new_object(), *arr = json_object_new_array();
	int r = json_add_member(set, "rtmr3", reg);

	if (r == 0)
		r = json_add_member(reg, "events", arr);
	else
		json_object_put(arr);
	if (r == 0 && !all_zero(aael->init, sizeof(aael->init)))
		r = add_hex_member(reg, "init", aael->init, sizeof(aael->init));
	for (size_t i = 0; r == 0 && i < aael->n_events; i++) {
		const struct aael_event *e = &aael->events[i];
		struct json_object *ev = json_object_new_object();

		if (!ev || json_object_array_add(arr, ev) < 0) {
			json_object_put(ev);
			return -ENOMEM;
		}
		r = json_add_string(ev, "domain", e->domain) ?:
		    json_add_string(ev, "operation", e->operation) ?:
		    json_add_string(ev, "content", e->content);
	}
	return r;
}

int policy_from_evidence(const struct tdx_td_body *b, const struct ccel_log *ccel,
			 const struct aael_log *aael, const char *id, const char *resource,
			 char **out)
{
	struct json_object *root = json_object_new_object(), *arr, *set, *tcb;
	const char *text;
	int r;

	if (!root)
		return -ENOMEM;
	arr = json_object_new_array();
	r = json_add_string(root, "id", id) ?: json_add_member(root, "resources", arr);
	if (r == 0)
		r = json_object_array_add(arr, json_object_new_string(resource)) < 0 ? -ENOMEM : 0;
	arr = json_object_new_array();
	if (r == 0)
		r = json_add_member(root, "measurements", arr);
	else
		json_object_put(arr);
	set = json_object_new_object();
	if (r == 0 && (!set || json_object_array_add(arr, set) < 0)) {
		json_object_put(set);
		r = -ENOMEM;
	}
	for (int f = 0; r == 0 && f < _POLICY_FIELD_MAX; f++) {
		if (ccel && (f == POLICY_RTMR1 || f == POLICY_RTMR2))
			r = ccel_register_events(ccel, (uint32_t)(f - POLICY_RTMR0), set,
						 policy_fields[f].name);
		else if (aael && f == POLICY_RTMR3)
			r = aael_register_events(aael, set);
		/* MRSERVICETD must be zero unless pinned; TEE_TCB_SVN2 is rated by the TCB
		 * status. Pinning either is the operator's choice. */
		else if ((f != POLICY_MRSERVICETD || !all_zero(b->mrservicetd, TDX_MR_LEN)) &&
			 f != POLICY_TEE_TCB_SVN2)
			r = add_hex_member(set, policy_fields[f].name, body_field(b, f),
					   field_len(f));
	}
	tcb = json_object_new_array();
	if (r == 0)
		r = json_add_member(root, "tcb_statuses", tcb);
	else
		json_object_put(tcb);
	if (r == 0)
		r = json_object_array_add(tcb, json_object_new_string("UpToDate")) < 0 ? -ENOMEM
										       : 0;
	if (r == 0)
		r = json_add_member(root, "key_version", json_object_new_int(1));
	text = r == 0 ? json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
								     JSON_C_TO_STRING_SPACED |
								     JSON_C_TO_STRING_NOSLASHESCAPE)
		      : NULL;
	*out = text ? strdup(text) : NULL;
	json_object_put(root);
	return *out ? 0 : -ENOMEM;
}

int policy_from_td_body(const struct tdx_td_body *b, const char *id, const char *resource,
			char **out)
{
	return policy_from_evidence(b, NULL, NULL, id, resource, out);
}
