/* Release policies: a directory of JSON files (docs/policy.md), loaded into an immutable,
 * refcounted set that SIGHUP swaps atomically, and their evaluation against a verified TD. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "dcap/dcap.h"
#include "quote.h"

struct ccel_log;
struct aael_log;

/* In evaluation order: a refusal names the first field that differs in the set that matched
 * furthest. */
enum policy_field {
	POLICY_MRTD,
	POLICY_RTMR0,
	POLICY_RTMR1,
	POLICY_RTMR2,
	POLICY_RTMR3,
	POLICY_TD_ATTRIBUTES, /* set by the host at TD creation, not measured into MRTD */
	POLICY_XFAM,
	POLICY_MRCONFIGID,
	POLICY_MROWNER,
	POLICY_MROWNERCONFIG,
	POLICY_MRSERVICETD, /* TDX 1.5 (v5 quotes): a service TD bound to this one */
	POLICY_TEE_TCB_SVN2,
	_POLICY_FIELD_MAX,
};

enum policy_pin {
	POLICY_PIN_NONE,   /* optional field not given: not checked (MRSERVICETD: must be zero) */
	POLICY_PIN_VALUE,  /* must equal value[] */
	POLICY_PIN_WAIVED, /* {"waive": "why"}: not checked (TD attributes: the allow-list) */
	POLICY_PIN_EVENTS, /* RTMR given per event: must be one of the values those events yield */
};

#define POLICY_MAX_REGISTER_VALUES 256 /* per event-level RTMR of one set */

/* TD attributes a set that does not pin them accepts: SEPT_VE_DISABLE, PKS, KL. Every other bit
 * (DEBUG, MIGRATABLE, PERFMON, reserved, future) refuses the TD. */
#define POLICY_TD_ATTRIBUTES_ALLOWED \
	((UINT64_C(1) << 28) | (UINT64_C(1) << 30) | (UINT64_C(1) << 31))

/* One accepted image. */
struct policy_measurements {
	enum policy_pin pin[_POLICY_FIELD_MAX];
	uint8_t value[_POLICY_FIELD_MAX][TDX_MR_LEN]; /* XFAM, TD attributes: 8 bytes; SVN2: 16 */
	/* POLICY_PIN_EVENTS: the register values the accepted event sequences produce. */
	uint8_t (*accepted[4])[TDX_MR_LEN];
	size_t n_accepted[4];
};

#define POLICY_MAX_TCB_STATUSES 10

struct policy {
	char *id;
	char *file;
	char **resources; /* "repo/type/tag" or a prefix ending in '*' */
	size_t n_resources;
	struct policy_measurements *sets;
	size_t n_sets;
	enum tcb_status tcb_statuses[POLICY_MAX_TCB_STATUSES]; /* default {TCB_UP_TO_DATE} */
	size_t n_tcb_statuses;
	uint64_t max_collateral_age_s; /* 0 = no bound beyond the collateral's own validity */
	uint32_t min_tcb_eval_number;  /* 0 = any tcbEvaluationDataNumber */
	uint32_t key_version;	       /* input of the disk secret derivation (rotation) */
};

struct policy_set;

/* What the verifier established about a TD, as the policy sees it. */
struct policy_td {
	const struct tdx_td_body *body;
	enum tcb_status tcb_status;
	time_t collateral_issued; /* latest issue date over the collateral used */
	uint32_t tcb_eval_number; /* tcbEvaluationDataNumber of that collateral */
	const char *rtmr3_log; /* the replayed runtime log's summary, named by an RTMR3 refusal */
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
/* The same, with RTMR1 and RTMR2 (from ccel) and RTMR3 (from aael) given per event, each event
 * with the one digest the reference boot measured. The caller has checked that the logs replay
 * to the body's RTMRs. Either log may be NULL. */
int policy_from_evidence(const struct tdx_td_body *b, const struct ccel_log *ccel,
			 const struct aael_log *aael, const char *id, const char *resource,
			 char **out);

const char *policy_field_name(enum policy_field f);
