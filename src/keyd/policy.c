#define _GNU_SOURCE
#include "policy.h"

#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "hexutil.h"
#include "keyd_json.h"
#include "log.h"

#define POLICY_FILE_MAX	 (256 * 1024)
#define POLICY_MAX_FILES 4096
#define POLICY_ID_MAX	 64

struct policy_set {
	atomic_uint refcount;
	struct policy *policies;
	size_t n;
};

static const char *const field_names[_POLICY_FIELD_MAX] = {
	[POLICY_MRTD] = "mrtd",
	[POLICY_RTMR0] = "rtmr0",
	[POLICY_RTMR1] = "rtmr1",
	[POLICY_RTMR2] = "rtmr2",
	[POLICY_RTMR3] = "rtmr3",
	[POLICY_XFAM] = "xfam",
	[POLICY_MRCONFIGID] = "mrconfigid",
	[POLICY_MROWNER] = "mrowner",
	[POLICY_TD_ATTRIBUTES] = "td_attributes",
};

static const char *const field_labels[_POLICY_FIELD_MAX] = {
	"MRTD", "RTMR0",      "RTMR1",	 "RTMR2",	  "RTMR3",
	"XFAM", "MRCONFIGID", "MROWNER", "TD attributes",
};

const char *policy_field_name(enum policy_field f)
{
	return f < _POLICY_FIELD_MAX ? field_names[f] : "?";
}

static size_t field_len(enum policy_field f)
{
	return f == POLICY_XFAM || f == POLICY_TD_ATTRIBUTES ? 8 : TDX_MR_LEN;
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
	case POLICY_XFAM:
		return b->xfam;
	case POLICY_MRCONFIGID:
		return b->mrconfigid;
	case POLICY_MROWNER:
		return b->mrowner;
	case POLICY_TD_ATTRIBUTES:
		return b->td_attributes;
	default:
		return NULL;
	}
}

static void policy_clear(struct policy *p)
{
	free(p->id);
	free(p->file);
	for (size_t i = 0; i < p->n_resources; i++)
		free(p->resources[i]);
	free(p->resources);
	free(p->sets);
	for (size_t i = 0; i < p->n_tcb_statuses; i++)
		free(p->tcb_statuses[i]);
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

static int parse_measurement_set(const char *file, size_t idx, struct json_object *o,
				 struct policy_measurements *m)
{
	static const char *const keys[] = {"mrtd",	    "rtmr0",   "rtmr1",	     "rtmr2",
					   "rtmr3",	    "xfam",    "mrconfigid", "mrowner",
					   "td_attributes", "comment", NULL};
	char where[64];
	int r;

	snprintf(where, sizeof(where), "'measurements'[%zu]", idx);
	if (!json_object_is_type(o, json_type_object))
		return log_error_errno(-EINVAL, "%s: field %s is not an object", file, where);
	r = keyd_json_check_keys(file, where, o, keys);
	if (r < 0)
		return r;
	for (int f = 0; f < _POLICY_FIELD_MAX; f++) {
		const char *s;

		r = keyd_json_get_string(file, o, field_names[f], f == POLICY_MRTD, &s);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			return log_error_errno(r, "%s: in %s", file, where);
		if (strlen(s) != 2 * field_len(f) ||
		    hex_decode_exact(s, strlen(s), m->value[f], field_len(f)) < 0)
			return log_error_errno(-EINVAL, "%s: field %s.%s must be %zu hex digits",
					       file, where, field_names[f], 2 * field_len(f));
		m->has[f] = true;
	}
	return 0;
}

static bool tcb_status_known(const char *s)
{
	static const char *const known[] = {"UpToDate",
					    "SWHardeningNeeded",
					    "ConfigurationNeeded",
					    "ConfigurationAndSWHardeningNeeded",
					    "OutOfDate",
					    "OutOfDateConfigurationNeeded",
					    NULL};

	for (size_t i = 0; known[i]; i++)
		if (!strcmp(s, known[i]))
			return true;
	return false;
}

static int policy_parse(const char *file, struct json_object *root, struct policy *p)
{
	static const char *const keys[] = {"id",
					   "comment",
					   "resources",
					   "measurements",
					   "tcb_statuses",
					   "max_collateral_age_days",
					   "key_version",
					   "min_tcb_eval_number",
					   NULL};
	struct json_object *arr;
	const char *s;
	uint64_t v;
	int r;

	r = keyd_json_check_keys(file, "the top level", root, keys);
	if (r < 0)
		return r;
	r = keyd_json_get_string(file, root, "id", true, &s);
	if (r < 0)
		return r;
	for (const char *c = s; *c; c++)
		if (!name_char_ok(*c) || c - s >= POLICY_ID_MAX)
			return log_error_errno(-EINVAL,
					       "%s: field 'id' must be 1-%d of [A-Za-z0-9._-]",
					       file, POLICY_ID_MAX);
	p->id = strdup(s);
	p->file = strdup(file);
	if (!p->id || !p->file)
		return -ENOMEM;

	r = keyd_json_get_array(file, root, "resources", true, &arr);
	if (r < 0)
		return r;
	p->n_resources = json_object_array_length(arr);
	if (p->n_resources == 0 || p->n_resources > 1024)
		return log_error_errno(-EINVAL, "%s: field 'resources' must hold 1-1024 entries",
				       file);
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

	r = keyd_json_get_array(file, root, "measurements", true, &arr);
	if (r < 0)
		return r;
	p->n_sets = json_object_array_length(arr);
	if (p->n_sets == 0 || p->n_sets > 256)
		return log_error_errno(-EINVAL, "%s: field 'measurements' must hold 1-256 sets",
				       file);
	p->sets = calloc(p->n_sets, sizeof(*p->sets));
	if (!p->sets)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_sets; i++) {
		r = parse_measurement_set(file, i, json_object_array_get_idx(arr, i), &p->sets[i]);
		if (r < 0)
			return r;
	}

	r = keyd_json_get_array(file, root, "tcb_statuses", false, &arr);
	if (r == -ENOENT) {
		p->tcb_statuses[0] = strdup("UpToDate");
		if (!p->tcb_statuses[0])
			return -ENOMEM;
		p->n_tcb_statuses = 1;
	} else if (r < 0) {
		return r;
	} else {
		size_t n = json_object_array_length(arr);

		if (n == 0 || n > POLICY_MAX_TCB_STATUSES)
			return log_error_errno(-EINVAL,
					       "%s: field 'tcb_statuses' must hold 1-%d entries",
					       file, POLICY_MAX_TCB_STATUSES);
		for (size_t i = 0; i < n; i++) {
			struct json_object *e = json_object_array_get_idx(arr, i);

			if (!json_object_is_type(e, json_type_string) ||
			    !tcb_status_known(json_object_get_string(e)))
				return log_error_errno(
					-EINVAL,
					"%s: field 'tcb_statuses'[%zu] is not a TCB "
					"status name (UpToDate, SWHardeningNeeded, ...)",
					file, i);
			p->tcb_statuses[i] = strdup(json_object_get_string(e));
			if (!p->tcb_statuses[i])
				return -ENOMEM;
			p->n_tcb_statuses = i + 1;
		}
	}

	r = keyd_json_get_u64(file, root, "max_collateral_age_days", false, 1, 3650, &v);
	if (r == 0)
		p->max_collateral_age_s = v * 86400;
	else if (r != -ENOENT)
		return r;
	r = keyd_json_get_u64(file, root, "min_tcb_eval_number", false, 1, UINT32_MAX, &v);
	if (r == 0)
		p->min_tcb_eval_number = (uint32_t)v;
	else if (r != -ENOENT)
		return r;
	p->key_version = 1;
	r = keyd_json_get_u64(file, root, "key_version", false, 1, UINT32_MAX, &v);
	if (r == 0)
		p->key_version = (uint32_t)v;
	else if (r != -ENOENT)
		return r;
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

		r = keyd_json_load_file(files[i], POLICY_FILE_MAX, &root);
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

int policy_evaluate(const struct policy *p, const struct policy_td *td, char *reason,
		    size_t reason_len)
{
	int best_field = -1;
	bool ok = false;

	if (td->body->td_attributes[0] & 1) {
		/* Checked here as well as at attest: DEBUG is never acceptable. */
		snprintf(reason, reason_len, "debug TD refused");
		return -EACCES;
	}
	for (size_t i = 0; i < p->n_tcb_statuses; i++)
		if (!strcmp(p->tcb_statuses[i], td->tcb_status))
			ok = true;
	if (!ok) {
		snprintf(reason, reason_len, "TCB status %s not accepted by policy %s",
			 td->tcb_status, p->id);
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
		int f;

		for (f = 0; f < _POLICY_FIELD_MAX; f++)
			if (p->sets[i].has[f] &&
			    memcmp(p->sets[i].value[f], body_field(td->body, f), field_len(f)) != 0)
				break;
		if (f == _POLICY_FIELD_MAX)
			return 0;
		if (f > best_field)
			best_field = f;
	}
	snprintf(reason, reason_len, "%s mismatch (policy %s)",
		 best_field >= 0 ? field_labels[best_field] : "measurement", p->id);
	return -EACCES;
}

int policy_from_td_body(const struct tdx_td_body *b, const char *id, const char *resource,
			char **out)
{
	struct json_object *root = json_object_new_object(), *arr = NULL, *set = NULL, *tcb = NULL;
	int r = -ENOMEM;

	if (!root)
		return -ENOMEM;
	arr = json_object_new_array();
	set = json_object_new_object();
	tcb = json_object_new_array();
	if (!arr || !set || !tcb)
		goto out;
	json_object_object_add(root, "id", json_object_new_string(id));
	json_object_array_add(arr, json_object_new_string(resource));
	json_object_object_add(root, "resources", TAKE_PTR(arr));
	for (int f = 0; f < _POLICY_FIELD_MAX; f++) {
		char hex[2 * TDX_MR_LEN + 1];

		hex_encode(body_field(b, f), field_len(f), hex);
		json_object_object_add(set, field_names[f], json_object_new_string(hex));
	}
	arr = json_object_new_array();
	if (!arr)
		goto out;
	json_object_array_add(arr, TAKE_PTR(set));
	json_object_object_add(root, "measurements", TAKE_PTR(arr));
	json_object_array_add(tcb, json_object_new_string("UpToDate"));
	json_object_object_add(root, "tcb_statuses", TAKE_PTR(tcb));
	json_object_object_add(root, "key_version", json_object_new_int(1));
	*out = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
								   JSON_C_TO_STRING_SPACED |
								   JSON_C_TO_STRING_NOSLASHESCAPE));
	r = *out ? 0 : -ENOMEM;
out:
	json_object_put(arr);
	json_object_put(set);
	json_object_put(tcb);
	json_object_put(root);
	return r;
}
