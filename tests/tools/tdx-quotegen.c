/* tdx-quotegen: command line for the test quote simulator (src/common/quotesim.h). Test use
 * only; see docs/quotegen.md. */
#define _GNU_SOURCE /* strptime, timegm */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fileio.h"
#include "hexutil.h"
#include "log.h"
#include "quotesim.h"

static int usage(void)
{
	fputs("usage:\n"
	      "  tdx-quotegen ca --out DIR [platform options] [collateral options]\n"
	      "  tdx-quotegen collateral --ca DIR --out DIR [collateral options]\n"
	      "  tdx-quotegen quote --ca DIR --out FILE [quote options]\n"
	      "  tdx-quotegen defaults --ca DIR [quote options]   (stored for later quotes)\n"
	      "platform: --fmspc HEX --pce-id HEX --pce-svn N --sgx-svn N,N,... --cpusvn HEX\n"
	      "          --ca-window T,T --leaf-window T,T --pck-leaf-cn TEXT [--pck-leaf-cn-bmp]\n"
	      "          --pck-ca platform|processor (the PCK CA: default platform)\n"
	      "collateral: --not-before T --not-after T (all items) --tcb-info-window T,T\n"
	      "          --qe-identity-window T,T --pck-crl-window T,T --root-crl-window T,T\n"
	      "          --tcb-status STATUS --stale-tcb --revoke-pck --revoke-pck-ca "
	      "--qe-mismatch\n"
	      "          --tcb-fmspc HEX --tcb-eval N --crl-number N     (T: RFC 3339 UTC like "
	      "2026-01-01T00:00:00Z, or "
	      "now[+-]N[smhd])\n"
	      "quote: --version 4|5 --body-type 2|3 --report-data HEX --mrtd HEX --rtmr0..3 HEX\n"
	      "          --mrconfigid HEX --mrowner HEX --mrownerconfig HEX --mrseam HEX\n"
	      "          --mrsignerseam HEX --seam-attributes HEX --td-attributes HEX --xfam HEX\n"
	      "          --tee-tcb-svn HEX --tee-tcb-svn2 HEX --mrservicetd HEX --user-data HEX\n"
	      "          --debug --qe-svn N --cert-data-type N --inner-cert-data-type N\n"
	      "          --no-chain-nul --pad-to N --tamper WHAT (repeatable) --hex\n",
	      stderr);
	return 2;
}

/* RFC 3339 UTC ("2026-01-01T00:00:00Z") or "now", "now+30d", "now-2h". */
static int parse_time(const char *s, time_t *out)
{
	struct tm tm = {0};
	const char *end;

	if (strncmp(s, "now", 3) == 0) {
		long n = 0;
		char *e;

		*out = time(NULL);
		if (s[3] == '\0')
			return 0;
		if (s[3] != '+' && s[3] != '-')
			goto bad;
		errno = 0;
		n = strtol(s + 4, &e, 10);
		if (errno || e == s + 4 || n < 0)
			goto bad;
		switch (*e) {
		case 'd':
			n *= 24;
			/* fall through */
		case 'h':
			n *= 60;
			/* fall through */
		case 'm':
			n *= 60;
			/* fall through */
		case 's':
			break;
		default:
			goto bad;
		}
		if (e[1] != '\0')
			goto bad;
		*out += s[3] == '+' ? n : -n;
		return 0;
	}
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end || (strcmp(end, "Z") != 0 && strcmp(end, "+00:00") != 0))
		goto bad;
	*out = timegm(&tm);
	return 0;
bad:
	return log_error_errno(-EINVAL, "'%s' is not an RFC 3339 UTC time or now[+-]N[smhd]", s);
}

static int parse_window(const char *s, struct quotesim_window *w)
{
	char buf[128];
	char *comma;
	int r;

	if (strlen(s) >= sizeof(buf))
		return log_error_errno(-EINVAL, "window '%s' too long", s);
	memcpy(buf, s, strlen(s) + 1); /* length checked above */
	comma = strchr(buf, ',');
	if (!comma)
		return log_error_errno(-EINVAL, "window '%s': expected NOT_BEFORE,NOT_AFTER", s);
	*comma = '\0';
	r = parse_time(buf, &w->not_before);
	if (r == 0)
		r = parse_time(comma + 1, &w->not_after);
	return r;
}

static int parse_hex(const char *what, const char *s, uint8_t *out, size_t len)
{
	if (hex_decode_exact(s, strlen(s), out, len) < 0)
		return log_error_errno(-EINVAL, "--%s: expected %zu bytes as %zu hex digits", what,
				       len, 2 * len);
	return 0;
}

static int parse_uint(const char *what, const char *s, unsigned long max, unsigned long *out)
{
	char *e;

	errno = 0;
	*out = strtoul(s, &e, 0);
	if (errno || e == s || *e || *out > max || s[0] == '-')
		return log_error_errno(-EINVAL, "--%s: '%s' is not a number in 0..%lu", what, s,
				       max);
	return 0;
}

static int parse_svn_list(const char *s, uint8_t svn[16])
{
	char buf[256], *tok, *save = NULL;
	size_t n = 0;
	unsigned long v;
	int r;

	if (strlen(s) >= sizeof(buf))
		return log_error_errno(-EINVAL, "--sgx-svn: too long");
	memcpy(buf, s, strlen(s) + 1); /* length checked above */
	memset(svn, 0, 16);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == 16)
			return log_error_errno(-EINVAL, "--sgx-svn: more than 16 components");
		r = parse_uint("sgx-svn", tok, 255, &v);
		if (r < 0)
			return r;
		svn[n++] = (uint8_t)v;
	}
	return 0;
}

enum {
	OPT_OUT = 256,
	OPT_CA,
	OPT_FMSPC,
	OPT_PCE_ID,
	OPT_PCE_SVN,
	OPT_SGX_SVN,
	OPT_CPUSVN,
	OPT_CA_WINDOW,
	OPT_LEAF_WINDOW,
	OPT_NOT_BEFORE,
	OPT_NOT_AFTER,
	OPT_TCB_INFO_WINDOW,
	OPT_QE_ID_WINDOW,
	OPT_PCK_CRL_WINDOW,
	OPT_ROOT_CRL_WINDOW,
	OPT_TCB_STATUS,
	OPT_STALE_TCB,
	OPT_REVOKE_PCK,
	OPT_REVOKE_PCK_CA,
	OPT_QE_MISMATCH,
	OPT_TCB_FMSPC,
	OPT_TCB_EVAL,
	OPT_CRL_NUMBER,
	OPT_VERSION,
	OPT_BODY_TYPE,
	OPT_REPORT_DATA,
	OPT_MRTD,
	OPT_RTMR0,
	OPT_RTMR1,
	OPT_RTMR2,
	OPT_RTMR3,
	OPT_MRCONFIGID,
	OPT_MROWNER,
	OPT_MROWNERCONFIG,
	OPT_MRSEAM,
	OPT_MRSIGNERSEAM,
	OPT_SEAM_ATTR,
	OPT_TD_ATTR,
	OPT_XFAM,
	OPT_TEE_TCB_SVN,
	OPT_TEE_TCB_SVN2,
	OPT_MRSERVICETD,
	OPT_USER_DATA,
	OPT_DEBUG,
	OPT_QE_SVN,
	OPT_CERT_TYPE,
	OPT_INNER_CERT_TYPE,
	OPT_NO_CHAIN_NUL,
	OPT_PAD_TO,
	OPT_TAMPER,
	OPT_HEX,
	OPT_PCK_LEAF_CN,
	OPT_PCK_LEAF_CN_BMP,
	OPT_PCK_CA,
};

static const struct option options[] = {
	{"out", required_argument, NULL, OPT_OUT},
	{"ca", required_argument, NULL, OPT_CA},
	{"fmspc", required_argument, NULL, OPT_FMSPC},
	{"pce-id", required_argument, NULL, OPT_PCE_ID},
	{"pce-svn", required_argument, NULL, OPT_PCE_SVN},
	{"sgx-svn", required_argument, NULL, OPT_SGX_SVN},
	{"cpusvn", required_argument, NULL, OPT_CPUSVN},
	{"ca-window", required_argument, NULL, OPT_CA_WINDOW},
	{"leaf-window", required_argument, NULL, OPT_LEAF_WINDOW},
	{"not-before", required_argument, NULL, OPT_NOT_BEFORE},
	{"not-after", required_argument, NULL, OPT_NOT_AFTER},
	{"tcb-info-window", required_argument, NULL, OPT_TCB_INFO_WINDOW},
	{"qe-identity-window", required_argument, NULL, OPT_QE_ID_WINDOW},
	{"pck-crl-window", required_argument, NULL, OPT_PCK_CRL_WINDOW},
	{"root-crl-window", required_argument, NULL, OPT_ROOT_CRL_WINDOW},
	{"tcb-status", required_argument, NULL, OPT_TCB_STATUS},
	{"stale-tcb", no_argument, NULL, OPT_STALE_TCB},
	{"revoke-pck", no_argument, NULL, OPT_REVOKE_PCK},
	{"revoke-pck-ca", no_argument, NULL, OPT_REVOKE_PCK_CA},
	{"qe-mismatch", no_argument, NULL, OPT_QE_MISMATCH},
	{"tcb-fmspc", required_argument, NULL, OPT_TCB_FMSPC},
	{"tcb-eval", required_argument, NULL, OPT_TCB_EVAL},
	{"crl-number", required_argument, NULL, OPT_CRL_NUMBER},
	{"version", required_argument, NULL, OPT_VERSION},
	{"body-type", required_argument, NULL, OPT_BODY_TYPE},
	{"report-data", required_argument, NULL, OPT_REPORT_DATA},
	{"mrtd", required_argument, NULL, OPT_MRTD},
	{"rtmr0", required_argument, NULL, OPT_RTMR0},
	{"rtmr1", required_argument, NULL, OPT_RTMR1},
	{"rtmr2", required_argument, NULL, OPT_RTMR2},
	{"rtmr3", required_argument, NULL, OPT_RTMR3},
	{"mrconfigid", required_argument, NULL, OPT_MRCONFIGID},
	{"mrowner", required_argument, NULL, OPT_MROWNER},
	{"mrownerconfig", required_argument, NULL, OPT_MROWNERCONFIG},
	{"mrseam", required_argument, NULL, OPT_MRSEAM},
	{"mrsignerseam", required_argument, NULL, OPT_MRSIGNERSEAM},
	{"seam-attributes", required_argument, NULL, OPT_SEAM_ATTR},
	{"td-attributes", required_argument, NULL, OPT_TD_ATTR},
	{"xfam", required_argument, NULL, OPT_XFAM},
	{"tee-tcb-svn", required_argument, NULL, OPT_TEE_TCB_SVN},
	{"tee-tcb-svn2", required_argument, NULL, OPT_TEE_TCB_SVN2},
	{"mrservicetd", required_argument, NULL, OPT_MRSERVICETD},
	{"user-data", required_argument, NULL, OPT_USER_DATA},
	{"debug", no_argument, NULL, OPT_DEBUG},
	{"qe-svn", required_argument, NULL, OPT_QE_SVN},
	{"cert-data-type", required_argument, NULL, OPT_CERT_TYPE},
	{"inner-cert-data-type", required_argument, NULL, OPT_INNER_CERT_TYPE},
	{"no-chain-nul", no_argument, NULL, OPT_NO_CHAIN_NUL},
	{"pad-to", required_argument, NULL, OPT_PAD_TO},
	{"tamper", required_argument, NULL, OPT_TAMPER},
	{"hex", no_argument, NULL, OPT_HEX},
	{"pck-leaf-cn", required_argument, NULL, OPT_PCK_LEAF_CN},
	{"pck-leaf-cn-bmp", no_argument, NULL, OPT_PCK_LEAF_CN_BMP},
	{"pck-ca", required_argument, NULL, OPT_PCK_CA},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

struct args {
	const char *out, *ca;
	struct quotesim_ca_opts ca_opts;
	struct quotesim_quote_opts q;
	bool have_report_data, debug, hex, body_type_set, version_set;
	uint8_t tcb_fmspc[6];
	uint8_t report_data[TDX_REPORT_DATA_LEN];
	/* Which command the options belong to, to refuse misplaced ones. */
	bool platform_opts, collateral_opts, quote_opts;
};

/* Applies one option; returns 0, or a negative errno after logging. */
static int apply_option(struct args *a, int c, const char *arg)
{
	struct quotesim_collateral_opts *co = &a->ca_opts.collateral;
	struct tdx_td_body *b = &a->q.body;
	unsigned long v;
	unsigned flag = 0;
	time_t t = 0;
	int r = 0;

	if ((c >= OPT_FMSPC && c <= OPT_LEAF_WINDOW) || c == OPT_PCK_LEAF_CN ||
	    c == OPT_PCK_LEAF_CN_BMP || c == OPT_PCK_CA)
		a->platform_opts = true;
	if (c >= OPT_NOT_BEFORE && c <= OPT_CRL_NUMBER)
		a->collateral_opts = true;
	if (c >= OPT_VERSION && c <= OPT_HEX)
		a->quote_opts = true;
	switch (c) {
	case OPT_OUT:
		a->out = arg;
		break;
	case OPT_CA:
		a->ca = arg;
		break;
	case OPT_FMSPC:
		return parse_hex("fmspc", arg, a->ca_opts.platform.fmspc, 6);
	case OPT_PCE_ID:
		return parse_hex("pce-id", arg, a->ca_opts.platform.pce_id, 2);
	case OPT_PCE_SVN:
		r = parse_uint("pce-svn", arg, UINT16_MAX, &v);
		a->ca_opts.platform.pce_svn = (uint16_t)v;
		break;
	case OPT_SGX_SVN:
		return parse_svn_list(arg, a->ca_opts.platform.sgx_tcb_svn);
	case OPT_CPUSVN:
		return parse_hex("cpusvn", arg, a->ca_opts.platform.cpusvn, 16);
	case OPT_PCK_LEAF_CN:
		a->ca_opts.pck_leaf_cn = arg;
		return 0;
	case OPT_PCK_LEAF_CN_BMP:
		a->ca_opts.pck_leaf_cn_bmp = true;
		return 0;
	case OPT_PCK_CA:
		if (strcmp(arg, "platform") != 0 && strcmp(arg, "processor") != 0)
			return log_error_errno(
				-EINVAL, "--pck-ca '%s': expected platform or processor", arg);
		a->ca_opts.processor_ca = strcmp(arg, "processor") == 0;
		return 0;
	case OPT_CA_WINDOW:
		return parse_window(arg, &a->ca_opts.ca_validity);
	case OPT_LEAF_WINDOW:
		return parse_window(arg, &a->ca_opts.leaf_validity);
	case OPT_NOT_BEFORE:
	case OPT_NOT_AFTER:
		r = parse_time(arg, &t);
		if (r < 0)
			return r;
		if (c == OPT_NOT_BEFORE)
			co->tcb_info.not_before = co->qe_identity.not_before =
				co->pck_crl.not_before = co->root_crl.not_before = t;
		else
			co->tcb_info.not_after = co->qe_identity.not_after = co->pck_crl.not_after =
				co->root_crl.not_after = t;
		break;
	case OPT_TCB_INFO_WINDOW:
		return parse_window(arg, &co->tcb_info);
	case OPT_QE_ID_WINDOW:
		return parse_window(arg, &co->qe_identity);
	case OPT_PCK_CRL_WINDOW:
		return parse_window(arg, &co->pck_crl);
	case OPT_ROOT_CRL_WINDOW:
		return parse_window(arg, &co->root_crl);
	case OPT_TCB_STATUS:
		co->tcb_status = arg;
		break;
	case OPT_STALE_TCB:
		co->stale_tcb = true;
		break;
	case OPT_REVOKE_PCK:
		co->revoke_pck = true;
		break;
	case OPT_REVOKE_PCK_CA:
		co->revoke_pck_ca = true;
		break;
	case OPT_QE_MISMATCH:
		co->qe_mismatch = true;
		break;
	case OPT_TCB_FMSPC:
		co->tcb_fmspc = a->tcb_fmspc;
		return parse_hex("tcb-fmspc", arg, a->tcb_fmspc, 6);
	case OPT_TCB_EVAL:
		r = parse_uint("tcb-eval", arg, UINT32_MAX, &v);
		co->tcb_eval_number = (uint32_t)v;
		break;
	case OPT_CRL_NUMBER:
		r = parse_uint("crl-number", arg, UINT32_MAX, &v);
		co->crl_number = (uint32_t)v;
		break;
	case OPT_VERSION:
		r = parse_uint("version", arg, UINT16_MAX, &v);
		a->q.version = (uint16_t)v;
		a->version_set = true;
		break;
	case OPT_BODY_TYPE:
		r = parse_uint("body-type", arg, UINT16_MAX, &v);
		a->q.body_type = (uint16_t)v;
		a->body_type_set = true;
		break;
	case OPT_REPORT_DATA:
		a->have_report_data = true;
		return parse_hex("report-data", arg, a->report_data, TDX_REPORT_DATA_LEN);
	case OPT_MRTD:
		return parse_hex("mrtd", arg, b->mrtd, TDX_MR_LEN);
	case OPT_RTMR0:
	case OPT_RTMR1:
	case OPT_RTMR2:
	case OPT_RTMR3:
		return parse_hex("rtmrN", arg, b->rtmr[c - OPT_RTMR0], TDX_MR_LEN);
	case OPT_MRCONFIGID:
		return parse_hex("mrconfigid", arg, b->mrconfigid, TDX_MR_LEN);
	case OPT_MROWNER:
		return parse_hex("mrowner", arg, b->mrowner, TDX_MR_LEN);
	case OPT_MROWNERCONFIG:
		return parse_hex("mrownerconfig", arg, b->mrownerconfig, TDX_MR_LEN);
	case OPT_MRSEAM:
		return parse_hex("mrseam", arg, b->mrseam, TDX_MR_LEN);
	case OPT_MRSIGNERSEAM:
		return parse_hex("mrsignerseam", arg, b->mrsignerseam, TDX_MR_LEN);
	case OPT_SEAM_ATTR:
		return parse_hex("seam-attributes", arg, b->seam_attributes, 8);
	case OPT_TD_ATTR:
		return parse_hex("td-attributes", arg, b->td_attributes, 8);
	case OPT_XFAM:
		return parse_hex("xfam", arg, b->xfam, 8);
	case OPT_TEE_TCB_SVN:
		return parse_hex("tee-tcb-svn", arg, b->tee_tcb_svn, 16);
	case OPT_TEE_TCB_SVN2:
		return parse_hex("tee-tcb-svn2", arg, b->tee_tcb_svn2, 16);
	case OPT_MRSERVICETD:
		return parse_hex("mrservicetd", arg, b->mrservicetd, TDX_MR_LEN);
	case OPT_USER_DATA:
		return parse_hex("user-data", arg, a->q.user_data, 20);
	case OPT_DEBUG:
		a->debug = true;
		break;
	case OPT_QE_SVN:
		r = parse_uint("qe-svn", arg, UINT16_MAX, &v);
		a->q.qe_isvsvn = (uint16_t)v;
		break;
	case OPT_CERT_TYPE:
	case OPT_INNER_CERT_TYPE:
		r = parse_uint("cert-data-type", arg, UINT16_MAX, &v);
		if (c == OPT_CERT_TYPE)
			a->q.cert_data_type = (uint16_t)v;
		else
			a->q.inner_cert_data_type = (uint16_t)v;
		break;
	case OPT_NO_CHAIN_NUL:
		a->q.chain_nul = false;
		break;
	case OPT_PAD_TO:
		r = parse_uint("pad-to", arg, TDX_QUOTE_MAX_LEN * 4, &v);
		a->q.pad_to = v;
		break;
	case OPT_TAMPER:
		r = quotesim_tamper_from_name(arg, &flag);
		if (r == 0)
			a->q.tamper |= flag;
		break;
	case OPT_HEX:
		a->hex = true;
		break;
	default:
		return -EINVAL;
	}
	return r;
}

static int write_quote(const struct args *a, const uint8_t *quote, size_t len)
{
	char *hex;
	int r;

	if (!a->hex)
		return file_write_private(a->out, quote, len, 1);
	hex = hex_encode_alloc(quote, len);
	if (!hex)
		return -ENOMEM;
	hex[2 * len] = '\n'; /* replaces the NUL: files end with a newline */
	r = file_write_private(a->out, hex, 2 * len + 1, 1);
	free(hex);
	return r;
}

static bool is_quote_cmd(const char *cmd)
{
	return strcmp(cmd, "quote") == 0 || strcmp(cmd, "defaults") == 0;
}

int main(int argc, char **argv)
{
	struct args a = {0};
	struct quotesim *s = NULL;
	uint8_t *quote = NULL;
	size_t quote_len = 0, n_opts = 0;
	const char *cmd;
	int c, r;
	struct {
		int c;
		const char *arg;
	} *opts = NULL;

	log_setup("tdx-quotegen", LOG_TARGET_STDERR, LOG_LVL_INFO);
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return usage();
	cmd = argv[1];
	if (strcmp(cmd, "ca") != 0 && strcmp(cmd, "collateral") != 0 && !is_quote_cmd(cmd)) {
		fprintf(stderr, "tdx-quotegen: unknown command '%s'\n", cmd);
		return usage();
	}
	/* Options are applied once the base they modify is known: for quotes, the directory's
	 * stored defaults. */
	opts = calloc((size_t)argc, sizeof(*opts));
	if (!opts)
		return 1;
	optind = 2;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (c == 'h' || c == '?') {
			free(opts);
			return usage();
		}
		opts[n_opts].c = c;
		opts[n_opts++].arg = optarg;
		if (c == OPT_CA)
			a.ca = optarg;
	}
	if (optind != argc) {
		fprintf(stderr, "tdx-quotegen: unexpected argument '%s'\n", argv[optind]);
		free(opts);
		return usage();
	}
	quotesim_ca_opts_init(&a.ca_opts);
	quotesim_quote_opts_init(NULL, &a.q);
	if (is_quote_cmd(cmd) && a.ca) {
		r = quotesim_load(a.ca, &s);
		if (r < 0) {
			free(opts);
			return 1;
		}
		quotesim_quote_opts_init(s, &a.q);
	}
	for (size_t i = 0; i < n_opts; i++)
		if (apply_option(&a, opts[i].c, opts[i].arg) < 0) {
			r = -EINVAL;
			goto usage_error;
		}
	if ((!a.out && strcmp(cmd, "defaults") != 0) || (strcmp(cmd, "ca") != 0 && !a.ca)) {
		fprintf(stderr, "tdx-quotegen %s: %s required\n", cmd,
			strcmp(cmd, "ca") == 0	       ? "--out is"
			: strcmp(cmd, "defaults") == 0 ? "--ca is"
						       : "--out and --ca are");
		goto usage_error;
	}
	if ((!is_quote_cmd(cmd) && a.quote_opts) || (is_quote_cmd(cmd) && a.collateral_opts) ||
	    (strcmp(cmd, "ca") != 0 && a.platform_opts) ||
	    (strcmp(cmd, "defaults") == 0 && (a.out || a.have_report_data))) {
		fprintf(stderr, "tdx-quotegen %s: option does not apply to this command\n", cmd);
		goto usage_error;
	}

	if (strcmp(cmd, "ca") == 0) {
		r = quotesim_ca_create(a.out, &a.ca_opts);
		if (r == 0)
			printf("%s/%s\n", a.out, QUOTESIM_ROOT_CA);
		goto out;
	}
	if (!s) {
		r = quotesim_load(a.ca, &s);
		if (r < 0)
			goto out;
	}
	if (strcmp(cmd, "collateral") == 0) {
		r = quotesim_collateral_write(s, a.out, &a.ca_opts.collateral);
		goto out;
	}
	if (a.debug)
		a.q.body.td_attributes[0] |= 0x01;
	if (a.version_set && a.q.version == 5 && !a.body_type_set)
		a.q.body_type = TDX_BODY_TD15; /* as real v5 quotes */
	if (strcmp(cmd, "defaults") == 0) {
		r = quotesim_quote_defaults_write(a.ca, &a.q);
		goto out;
	}
	r = quotesim_quote(s, &a.q, a.have_report_data ? a.report_data : NULL, &quote, &quote_len);
	if (r == 0)
		r = write_quote(&a, quote, quote_len);
out:
	free(quote);
	free(opts);
	quotesim_free(s);
	return r < 0 ? 1 : 0;
usage_error:
	free(opts);
	quotesim_free(s);
	return 2;
}
