/* QE identity and TDX TCB evaluation after Intel's QVL (TcbLevelCheck, TdxModuleCheck,
 * TDRelaunchCheck). */
#include "tcb_eval.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"

#define refuse(reason, reason_len, r, ...) \
	log_refusal(LOG_LVL_INFO, r, "dcap: ", reason, reason_len, __VA_ARGS__)

void tcb_advisories_merge(struct tcb_advisories *dst, const struct tcb_advisories *src)
{
	for (size_t i = 0; i < src->n; i++) {
		bool dup = false;

		for (size_t j = 0; j < dst->n && !dup; j++)
			dup = !strcmp(dst->id[j], src->id[i]);
		if (!dup && dst->n < DCAP_MAX_ADVISORIES)
			memcpy(dst->id[dst->n++], src->id[i], sizeof(src->id[i]));
	}
}

static bool masked_equal(const uint8_t *value, const uint8_t *mask, const uint8_t *want, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((value[i] & mask[i]) != want[i])
			return false;
	return true;
}

/* First level (newest first) whose ISVSVN is not above svn. */
static const struct isv_level *isv_level_find(const struct isv_level *levels, size_t n,
					      uint16_t svn)
{
	for (size_t i = 0; i < n; i++)
		if (svn >= levels[i].isvsvn)
			return &levels[i];
	return NULL;
}

int qe_identity_evaluate(const struct qe_identity *qe, const struct sgx_report_body *report,
			 enum tcb_status *status, struct tcb_advisories *adv, char *reason,
			 size_t reason_len)
{
	const struct isv_level *lvl;

	if (memcmp(report->mrsigner, qe->mrsigner, sizeof(qe->mrsigner)) != 0)
		return refuse(reason, reason_len, -EACCES,
			      "QE identity mismatch: MRSIGNER is not the TD QE's");
	if (report->isvprodid != qe->isvprodid)
		return refuse(reason, reason_len, -EACCES,
			      "QE identity mismatch: ISVPRODID %u, expected %u", report->isvprodid,
			      qe->isvprodid);
	if ((report->miscselect & qe->miscselect_mask) != qe->miscselect)
		return refuse(reason, reason_len, -EACCES,
			      "QE identity mismatch: MISCSELECT 0x%08x", report->miscselect);
	if (!masked_equal(report->attributes, qe->attributes_mask, qe->attributes,
			  sizeof(qe->attributes)))
		return refuse(reason, reason_len, -EACCES, "QE identity mismatch: ATTRIBUTES");
	lvl = isv_level_find(qe->levels, qe->n_levels, report->isvsvn);
	if (!lvl) {
		*status = TCB_NOT_SUPPORTED;
		return 0;
	}
	*status = lvl->status;
	tcb_advisories_merge(adv, &lvl->advisories);
	return 0;
}

static bool sgx_tcb_at_least(const struct pck_ext *pck, const struct tcb_level *l)
{
	for (size_t i = 0; i < 16; i++)
		if (pck->sgx_tcb_svn[i] < l->sgx_svn[i])
			return false;
	return pck->pce_svn >= l->pce_svn;
}

/* Bytes 0 and 1 (module minor/major) are rated through the module identity when major > 0. */
static bool tdx_tcb_at_least(const uint8_t tee_tcb_svn[16], const struct tcb_level *l)
{
	for (size_t i = tee_tcb_svn[1] > 0 ? 2 : 0; i < 16; i++)
		if (tee_tcb_svn[i] < l->tdx_svn[i])
			return false;
	return true;
}

static const struct tdx_module_identity *module_find(const struct tcb_info *tcb, uint8_t major)
{
	char id[8];

	snprintf(id, sizeof(id), "TDX_%02X", major);
	for (size_t i = 0; i < tcb->n_modules; i++)
		if (!strcasecmp(tcb->modules[i].id, id))
			return &tcb->modules[i];
	return NULL;
}

static bool is_configuration_needed(enum tcb_status s)
{
	return s == TCB_CONFIGURATION_NEEDED || s == TCB_OUT_OF_DATE_CONFIGURATION_NEEDED ||
	       s == TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED ||
	       s == TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED;
}

/* An OutOfDate (QE or module) rating lowers a level's status; Revoked overrides it. */
static enum tcb_status converge(enum tcb_status level, enum tcb_status other)
{
	if (other == TCB_OUT_OF_DATE) {
		if (level == TCB_UP_TO_DATE || level == TCB_SW_HARDENING_NEEDED)
			return TCB_OUT_OF_DATE;
		if (level == TCB_CONFIGURATION_NEEDED ||
		    level == TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED)
			return TCB_OUT_OF_DATE_CONFIGURATION_NEEDED;
	}
	if (other == TCB_REVOKED)
		return TCB_REVOKED;
	if (other == TCB_NOT_SUPPORTED)
		return TCB_NOT_SUPPORTED;
	return level;
}

/* TDX 1.5: the platform runs an updated module that this TD has not been relaunched on. */
static enum tcb_status relaunch_check(const struct tcb_info *tcb, const uint8_t svn2[16],
				      enum tcb_status sgx_status, enum tcb_status tdx_status,
				      enum tcb_status module_status, enum tcb_status qe_status)
{
	const struct tcb_level *latest;
	uint8_t module_min;

	if (qe_status == TCB_OUT_OF_DATE || qe_status == TCB_REVOKED ||
	    qe_status == TCB_NOT_SUPPORTED)
		return tdx_status;
	if (sgx_status != TCB_UP_TO_DATE && sgx_status != TCB_SW_HARDENING_NEEDED &&
	    sgx_status != TCB_CONFIGURATION_NEEDED &&
	    sgx_status != TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED)
		return tdx_status;
	if (tdx_status != TCB_OUT_OF_DATE && tdx_status != TCB_OUT_OF_DATE_CONFIGURATION_NEEDED)
		return tdx_status;
	if (module_status != TCB_OUT_OF_DATE || tcb->n_levels == 0)
		return tdx_status;
	latest = &tcb->levels[0];
	if (svn2[1] == 0) {
		module_min = latest->tdx_svn[0];
	} else {
		const struct tdx_module_identity *m = module_find(tcb, svn2[1]);

		if (!m || m->n_levels == 0)
			return tdx_status;
		module_min = m->levels[0].isvsvn > 255 ? 255 : (uint8_t)m->levels[0].isvsvn;
	}
	if (svn2[0] < module_min || svn2[2] < latest->tdx_svn[2])
		return tdx_status;
	return is_configuration_needed(sgx_status) || is_configuration_needed(tdx_status)
		       ? TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED
		       : TCB_TD_RELAUNCH_ADVISED;
}

int tdx_tcb_evaluate(const struct tcb_info *tcb, const struct pck_ext *pck,
		     const struct tdx_quote *q, enum tcb_status qe_status, enum tcb_status *status,
		     struct tcb_advisories *adv, char *reason, size_t reason_len)
{
	const struct tdx_td_body *b = &q->body;
	const uint8_t major = b->tee_tcb_svn[1], minor = b->tee_tcb_svn[0];
	const struct tdx_module_identity *module;
	const struct isv_level *module_level = NULL;
	const struct tcb_level *sgx_level = NULL, *tdx_level = NULL;
	enum tcb_status module_status = TCB_UP_TO_DATE, s;
	static const uint8_t zero[8];

	*status = TCB_NOT_SUPPORTED;

	/* TDX module identity. */
	if (major == 0) {
		if (!tcb->has_module)
			return refuse(reason, reason_len, -EACCES,
				      "TDX module mismatch: TCB info has no tdxModule");
		module = &tcb->module;
	} else {
		module = module_find(tcb, major);
		if (!module)
			return refuse(reason, reason_len, -EACCES,
				      "TDX module mismatch: no identity TDX_%02X in TCB info",
				      major);
	}
	if (memcmp(b->mrsignerseam, module->mrsigner, sizeof(module->mrsigner)) != 0)
		return refuse(reason, reason_len, -EACCES,
			      "TDX module mismatch: MRSIGNERSEAM is not the module's signer");
	if (memcmp(b->seam_attributes, zero, sizeof(zero)) != 0 ||
	    !masked_equal(b->seam_attributes, module->attributes_mask, module->attributes, 8))
		return refuse(reason, reason_len, -EACCES,
			      "TDX module mismatch: SEAMATTRIBUTES not as expected");
	if (major > 0) {
		module_level = isv_level_find(module->levels, module->n_levels, minor);
		if (!module_level)
			return refuse(
				reason, reason_len, -EACCES,
				"TCB not supported: TDX module %s ISVSVN %u below every level",
				module->id, minor);
		module_status = module_level->status;
	}

	/* TCB level: the first that the SGX TCB meets, then the first that the TDX TCB meets. */
	for (size_t i = 0; i < tcb->n_levels && !tdx_level; i++) {
		const struct tcb_level *l = &tcb->levels[i];

		if (!sgx_tcb_at_least(pck, l))
			continue;
		if (!sgx_level)
			sgx_level = l;
		if (tdx_tcb_at_least(b->tee_tcb_svn, l))
			tdx_level = l;
	}
	if (!sgx_level)
		return refuse(reason, reason_len, -EACCES,
			      "TCB not supported: no TCB level matches the PCK's SGX TCB");
	if (!tdx_level)
		return refuse(reason, reason_len, -EACCES,
			      "TCB not supported: no TCB level matches the TD's TEE_TCB_SVN");

	s = converge(tdx_level->status, module_status);
	if (s != TCB_REVOKED && q->body_kind == TDX_BODY_TD15)
		s = relaunch_check(tcb, b->tee_tcb_svn2, sgx_level->status, s, module_status,
				   qe_status);
	if (s != TCB_REVOKED)
		s = converge(s, qe_status);
	if (s == TCB_NOT_SUPPORTED)
		return refuse(reason, reason_len, -EACCES,
			      "TCB not supported: QE ISVSVN %u below every QE identity level",
			      q->qe_report.isvsvn);
	tcb_advisories_merge(adv, &tdx_level->advisories);
	if (module_level)
		tcb_advisories_merge(adv, &module_level->advisories);
	*status = s;
	return 0;
}
