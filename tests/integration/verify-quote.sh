#!/bin/sh
# tdx-keyd verify-quote end to end on the real quote sets (skipped without TDX_TESTDATA): exit
# status and tcb_status of each set inside its window, refusal outside it, usage errors.
# Usage: tests/integration/verify-quote.sh TDX_KEYD_BIN TDX_TESTDATA
set -e
k=$1
d=$2
if [ ! -d "$d/sets" ]; then
	echo "check-verify-quote: skipped (no TDX_TESTDATA)"
	exit 0
fi
# expect EXIT TCB_STATUS ARGS...: TCB_STATUS is the JSON value wanted, '' for none.
expect() {
	want=$1
	status=$2
	shift 2
	out=$("$k" verify-quote "$@" 2>/dev/null) && rc=0 || rc=$?
	if [ "$rc" -ne "$want" ]; then
		echo "FAIL: exit $rc (want $want): $*"
		exit 1
	fi
	if [ -n "$status" ] && ! echo "$out" | grep -q "\"tcb_status\":$status"; then
		echo "FAIL: tcb_status not $status: $*"
		echo "$out"
		exit 1
	fi
}
s=$d/sets
expect 0 '"UpToDate"' --quote "$s/dcapqvl-v4-uptodate/quote.bin" --collateral "$s/dcapqvl-v4-uptodate/collateral.json" --at 2025-07-01T00:00:00Z
expect 1 null --quote "$s/dcapqvl-v4-uptodate/quote.bin" --collateral "$s/dcapqvl-v4-uptodate/collateral.json" --at 2025-07-19T10:00:35Z
expect 0 '"UpToDate"' --quote "$s/dcapqvl-near-v4-uptodate/quote.hex" --collateral "$s/dcapqvl-near-v4-uptodate/collateral.json" --at 2025-09-15T00:00:00Z
expect 1 '"NotSupported"' --quote "$s/dcapqvl-v5-tcb-notsupported/quote.bin" --collateral "$s/dcapqvl-v5-tcb-notsupported/collateral.json" --at 2026-03-01T00:00:00Z
g=$s/gotdx-v4-2023
expect 1 '"NotSupported"' --quote "$g/quote.bin" --tcb-info "$g/tcb_info_response.json" --qe-identity "$g/qe_identity_response.json" --pck-crl "$g/pck_crl_platform.der" --root-crl "$g/root_ca_crl.der" --tcb-signing-chain "$g/tcb_info_issuer_chain.pem" --at 2023-07-01T01:00:00Z
expect 1 null --quote "$g/quote.bin" --tcb-info "$g/tcb_info_response.json" --qe-identity "$g/qe_identity_response.json" --pck-crl "$g/pck_crl_platform.der" --root-crl "$g/root_ca_crl.der" --tcb-signing-chain "$g/tcb_info_issuer_chain.pem" --at 2026-03-01T00:00:00Z
expect 0 '"UpToDate"' --quote "$s/gotdx-v5/quote.bin" --collateral "$s/dcapqvl-v5-tcb-notsupported/collateral.json" --tcb-info "$s/gotdx-v5/tcb_info_response_v5.json" --at 2026-02-20T00:00:00Z
"$k" verify-quote --quote "$d/quotes/trustee_tdx_quote_4_debugtd.bin" 2>/dev/null | grep -q '"debug":true' || {
	echo "FAIL: debug TD"
	exit 1
}
expect 1 null --quote "$d/quotes/trustee_tdx_quote_4_debugtd.bin"
expect 2 '' --quote /nonexistent
expect 2 '' --quote "$s/gotdx-v5/quote.bin" --at yesterday
expect 2 '' --collateral "$s/dcapqvl-v4-uptodate/collateral.json"
expect 2 '' --quote "$s/gotdx-v5/quote.bin" --tcb-info "$s/gotdx-v5/tcb_info_response_v5.json"
echo "check-verify-quote: all passed"
