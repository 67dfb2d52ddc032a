/* Release policies: a directory of JSON files (docs/policy.md), loaded into an immutable,
 * refcounted set that SIGHUP swaps atomically, and their evaluation against a verified TD. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "quote.h"

enum policy_field {
	POLICY_MRTD,
	POLICY_RTMR0,
	POLICY_RTMR1,
	POLICY_RTMR2,
	POLICY_RTMR3,
	POLICY_XFAM,
	POLICY_MRCONFIGID,
	POLICY_MROWNER,
	POLICY_TD_ATTRIBUTES, /* set by the host at TD creation, not measured into MRTD */
	_POLICY_FIELD_MAX,
};

/* One accepted image: every field present must match exactly. */
struct policy_measurements {
	bool has[_POLICY_FIELD_MAX];
	uint8_t value[_POLICY_FIELD_MAX][TDX_MR_LEN]; /* XFAM, TD attributes: the first 8 bytes */
};

#define POLICY_MAX_TCB_STATUSES 8

struct policy {
	char *id;
	char *file;
	char **resources; /* "repo/type/tag" or a prefix ending in '*' */
	size_t n_resources;
	struct policy_measurements *sets;
	size_t n_sets;
	char *tcb_statuses[POLICY_MAX_TCB_STATUSES]; /* default {"UpToDate"} */
	size_t n_tcb_statuses;
	uint64_t max_collateral_age_s; /* 0 = no bound beyond the collateral's own validity */
	uint32_t min_tcb_eval_number;  /* 0 = any tcbEvaluationDataNumber */
	uint32_t key_version;	       /* input of the disk secret derivation (rotation) */
};

struct policy_set;

/* What the verifier established about a TD, as the policy sees it. */
struct policy_td {
	const struct tdx_td_body *body;
	const char *tcb_status;
	time_t collateral_issued; /* latest issue date over the collateral used */
	uint32_t tcb_eval_number; /* tcbEvaluationDataNumber of that collateral */
	time_t now;
};

/* Loads every *.json file of dir. Any problem fails the whole set, naming file, field and
 * problem. */
int policy_set_load_dir(const char *dir, struct policy_set **out);
struct policy_set *policy_set_ref(struct policy_set *s);
void policy_set_unref(struct policy_set *s);
size_t policy_set_size(const struct policy_set *s);

/* Checks a request's resource path ("repo/type/tag", safe characters only). */
bool policy_resource_path_valid(const char *path);
/* The policy covering resource: an exact entry wins over a prefix, the longest prefix over a
 * shorter one. NULL when none does. */
const struct policy *policy_set_find(const struct policy_set *s, const char *resource);

/* 0 when p accepts td; -EACCES with reason (e.g. "MRTD mismatch", "TCB status OutOfDate not
 * accepted") otherwise. */
int policy_evaluate(const struct policy *p, const struct policy_td *td, char *reason,
		    size_t reason_len);

/* A policy document (JSON text, malloc'ed) accepting exactly this TD body's measurements. */
int policy_from_td_body(const struct tdx_td_body *b, const char *id, const char *resource,
			char **out);

const char *policy_field_name(enum policy_field f);
