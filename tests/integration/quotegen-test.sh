#!/bin/sh
# tdx-quotegen end to end through the command lines (make check-quotegen, docs/quotegen.md): its
# quotes and collateral checked by `tdx-keyd verify-quote` (exit codes, JSON), its certificates
# and CRLs by the openssl command, its usage errors by their exit codes.
# Usage: tests/integration/quotegen-test.sh QUOTEGEN_BIN KEYD_BIN
set -u
qg=$1 keyd=$2 fail=0
d=$(mktemp -d /tmp/check-quotegen.XXXXXX)
trap 'rm -rf "$d"' EXIT

# expect STATUS TEXT COMMAND...: COMMAND exits with STATUS and its output contains TEXT.
expect() {
	want=$1 grepfor=$2
	shift 2
	out=$("$@" 2>&1)
	got=$?
	if [ "$got" != "$want" ] || { [ -n "$grepfor" ] &&
		! printf '%s' "$out" | grep -qF -- "$grepfor"; }; then
		echo "FAIL (exit $got, want $want, want output '$grepfor'): $*"
		printf "%s\n" "$out" | tail -5
		fail=1
	else
		echo "ok (exit $got) $grepfor"
	fi
}

"$qg" ca --out "$d/ca" >/dev/null || exit 1
"$qg" quote --ca "$d/ca" --out "$d/q4.bin" || exit 1
"$qg" quote --ca "$d/ca" --out "$d/q5.hex" --version 5 --hex \
	--mrtd "$(printf 'ab%.0s' $(seq 48))" || exit 1
"$qg" quote --ca "$d/ca" --out "$d/debug.bin" --debug || exit 1
"$qg" quote --ca "$d/ca" --out "$d/tampered.bin" --tamper body || exit 1
"$qg" collateral --ca "$d/ca" --out "$d/stale" --stale-tcb || exit 1
"$qg" collateral --ca "$d/ca" --out "$d/revoked" --revoke-pck || exit 1
# verify_col / verify_files ARGS...: verify-quote against the test root, with the collateral file
# or with the PCS-style files.
# shellcheck disable=SC2317 # run by expect
verify_col() {
	"$keyd" verify-quote "$@" --collateral "$d/ca/collateral.json" --root-ca "$d/ca/root_ca.pem"
}
# shellcheck disable=SC2317 # run by expect
verify_files() {
	"$keyd" verify-quote "$@" --tcb-info "$d/ca/tcb_info.json" \
		--qe-identity "$d/ca/qe_identity.json" --pck-crl "$d/ca/pck_crl.der" \
		--root-crl "$d/ca/root_crl.der" --tcb-signing-chain "$d/ca/tcb_signing_chain.pem" \
		--root-ca "$d/ca/root_ca.pem"
}
expect 0 '"verified":true' verify_col --quote "$d/q4.bin"
expect 0 '"tcb_status":"UpToDate"' verify_files --quote "$d/q4.bin"
expect 0 '"mrtd":"abababab' verify_col --quote "$d/q5.hex"
expect 0 '"quote_version":5' verify_files --quote "$d/q5.hex"
expect 1 '"verified":false' "$keyd" verify-quote --quote "$d/q4.bin" \
	--collateral "$d/ca/collateral.json"
expect 1 'quote signature' verify_col --quote "$d/tampered.bin"
expect 0 '"debug":true' verify_col --quote "$d/debug.bin"
expect 0 '"tcb_status":"OutOfDate"' "$keyd" verify-quote --quote "$d/q4.bin" \
	--collateral "$d/stale/collateral.json" --root-ca "$d/ca/root_ca.pem"
expect 1 'revoked' "$keyd" verify-quote --quote "$d/q4.bin" \
	--collateral "$d/revoked/collateral.json" --root-ca "$d/ca/root_ca.pem"
expect 1 'expired' verify_col --quote "$d/q4.bin" \
	--at "$(date -u -d '+40 days' +%Y-%m-%dT%H:%M:%SZ)"
expect 2 '' "$qg" quote --ca "$d/ca" --out "$d/x.bin" --mrtd zz
expect 2 '' "$qg" quote --ca "$d/ca" --out "$d/x.bin" --revoke-pck
expect 1 '' "$qg" quote --ca "$d/nonexistent" --out "$d/x.bin"
expect 1 '' "$qg" quote --ca "$d/ca" --out "$d/x.bin" --version 3
for c in ca revoked; do
	openssl crl -inform DER -in "$d/$c/pck_crl.der" -out "$d/$c/crls.pem" &&
	openssl crl -inform DER -in "$d/$c/root_crl.der" >>"$d/$c/crls.pem" || exit 1
done
expect 0 'pck_leaf.pem: OK' openssl verify -crl_check_all -CRLfile "$d/ca/crls.pem" \
	-CAfile "$d/ca/root_ca.pem" -untrusted "$d/ca/pck_ca.pem" "$d/ca/pck_leaf.pem"
expect 2 'certificate revoked' openssl verify -crl_check_all \
	-CRLfile "$d/revoked/crls.pem" -CAfile "$d/ca/root_ca.pem" \
	-untrusted "$d/ca/pck_ca.pem" "$d/ca/pck_leaf.pem"
expect 0 'tcb_signing.pem: OK' openssl verify -CAfile "$d/ca/root_ca.pem" \
	"$d/ca/tcb_signing.pem"
cp -a "$d/ca" "$d/ca-debug"
"$qg" defaults --ca "$d/ca-debug" --debug --rtmr1 "$(printf 'cd%.0s' $(seq 48))" || exit 1
"$qg" quote --ca "$d/ca-debug" --out "$d/stored.bin" || exit 1
expect 0 '"rtmr1":"cdcdcdcd' verify_col --quote "$d/stored.bin"
expect 0 '"debug":true' verify_col --quote "$d/stored.bin"
expect 2 '' "$qg" defaults --ca "$d/ca-debug" --out "$d/x.bin"

exit $fail
