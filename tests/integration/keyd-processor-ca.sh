#!/bin/sh
# A processor-CA platform end to end (issue 10): tdx-quotegen makes a platform whose PCK leaf is
# issued by the PCK Processor CA (a single-package platform's issuer); keyd takes its collateral
# from a loopback PCCS as in production (the Platform CA's CRL -> pck_crl.der, the Processor CA's
# -> pck_processor_crl.der, both under the same test root) and releases to that platform; once
# the leaf is revoked in the Processor CA's CRL it is refused; an older Processor CA CRL (from
# before the revocation) served by the PCCS does not replace the cached newer one, and put in the
# cache by hand it is refused as a rollback: the leaf gets nothing.
# Usage: BUILD=build tests/integration/keyd-processor-ca.sh
set -u
BUILD=${BUILD:-build}
. "$(dirname "$0")/keyd-env.sh"
keyd_scratch keyd-processor-ca
PCCS_PID=""
trap 'keyd_stop; [ -n "$PCCS_PID" ] && kill "$PCCS_PID" 2>/dev/null; rm -rf "$T"' EXIT INT TERM

client() {
	"$BUILD/kbs-test-client" --url "$URL" --ca "$T/tls.crt" --sim "$T/sim" \
		--audit "$T/audit.log" --expect-secret "$T/expected.secret" "$@"
}
refused() { client "file-quote=$T/ref.quote:$1" >"$T/out" 2>&1 || { cat "$T/out"; return 1; }; }
# serve PROCESSOR_CRL_DIR OTHERS_DIR: the PCCS answers with the Processor CA CRL of the first
# quotegen output and everything else (TCB info, QE identity, root CRL) of the second.
serve() {
	cp "$2/tcb_info.json" "$2/qe_identity.json" "$2/root_crl.der" "$2/tcb_signing_chain.pem" \
		"$T/pccs/"
	cp "$1/pck_crl.der" "$T/pccs/pck_processor_crl.der"
	cp "$1/pck_crl_chain.pem" "$T/pccs/pck_processor_crl_chain.pem"
}
# A restart refreshes the cache from the PCCS before keyd listens.
restart() {
	keyd_stop
	KEYD_CONFIG="$T/keyd-pccs.json" keyd_start || bad "keyd with pccs_url did not start"
}

KEYD_SIM_CA_OPTS="--pck-ca processor"
keyd_env_setup || { echo "FAIL: setup"; exit 1; }
openssl x509 -in "$T/sim/pck_leaf.pem" -noout -issuer | grep -q "CN = Test SGX PCK Processor CA" ||
	bad "the test platform's PCK leaf is not issued by the Processor CA"

mkdir -p "$T/pccs"
Q="$BUILD/tdx-quotegen"
"$Q" collateral --ca "$T/sim" --out "$T/c5" --crl-number 5 >/dev/null || bad "collateral 5"
"$Q" collateral --ca "$T/sim" --out "$T/c6" --crl-number 6 --revoke-pck >/dev/null ||
	bad "collateral 6 (leaf revoked)"
# The Platform CA under the same test root, with its own CRL (number 9): what a PCCS serves
# for ca=platform; it does not cover this platform's leaf.
keyd_pck_ca "$T/platform" "Test SGX PCK Platform CA" 78 09 "$T/pccs/pck_crl.der" \
	"$T/pccs/pck_crl_chain.pem" || bad "platform CA CRL"
serve "$T/c5" "$T/c5"
keyd_fake_pccs "$T/pccs" || bad "fake PCCS did not start"

echo "== keyd-processor-ca: a Processor-CA platform is released to (collateral from the PCCS)"
restart
client valid >/dev/null || bad "no release to the Processor-CA platform"
grep -q "pckcrl?ca=processor" "$T/pccs.log" || bad "PCCS not asked for the Processor CA's CRL"
C="$T/collateral/00906ed50000"
{ cmp -s "$T/c5/pck_crl.der" "$C/pck_processor_crl.der" &&
	cmp -s "$T/pccs/pck_crl.der" "$C/pck_crl.der"; } ||
	bad "the cache does not hold the PCCS's Platform and Processor CA CRLs"
python3 - "$T/collateral/.rollback-state.json" <<'PY' || bad "the two CRL numbers are not kept"
import json, sys
crl = json.load(open(sys.argv[1]))["crl"]
assert crl["/CN=Test SGX PCK Processor CA/O=tdx-unlock quotesim/C=ZZ"] == 5, crl
assert crl["/CN=Test SGX PCK Platform CA/O=Test"] == 9, crl
PY
grep -q '"event":"resource".*"verdict":"allow","reason":"released' "$T/audit.log" ||
	bad "no release audited"

echo "== keyd-processor-ca: the leaf revoked in the Processor CA's CRL is refused"
serve "$T/c6" "$T/c6"
restart
refused "certificate revoked" || bad "the leaf revoked by the Processor CA still verifies"
grep -q '"verdict":"deny","reason":"quote verification failed: PCK chain: certificate revoked' "$T/audit.log" ||
	bad "the revocation is not in the audit log"

echo "== keyd-processor-ca: a PCCS serving the older Processor CA CRL does not replace the newer one"
serve "$T/c5" "$T/c6"
restart
grep -q "pccs: refusing the PCCS's collateral for .*: PCK CA CRL number 5 (/CN=Test SGX PCK Processor CA/O=tdx-unlock quotesim/C=ZZ) is older than the cached 6 (rollback)" \
	"$T/keyd.stderr" || bad "the refresh with an older Processor CA CRL was not refused, named"
cmp -s "$T/c6/pck_crl.der" "$C/pck_processor_crl.der" ||
	bad "the PCCS's older Processor CA CRL replaced the cached newer one"
refused "certificate revoked" || bad "after the refused refresh the leaf is not refused as revoked"

echo "== keyd-processor-ca: the older Processor CA CRL put in the cache by hand is refused"
cp "$T/c5/pck_crl.der" "$C/pck_processor_crl.der"
kill -HUP "$KEYD_PID"
# Until the reload has happened the cached (newer) collateral answers: ask again, 5 s at most.
i=0
until refused "Processor CA/O=tdx-unlock quotesim/C=ZZ) is older than 6, accepted before: collateral rollback refused" \
	>/dev/null 2>&1 || [ $i -ge 20 ]; do
	i=$((i + 1))
	sleep 0.25
done
[ $i -lt 20 ] || bad "the older Processor CA CRL was not refused as a rollback"
client valid >"$T/out" 2>&1 && bad "the revoked leaf got a release with the rolled-back CRL"
[ "$(grep -c '"verdict":"allow","reason":"released' "$T/audit.log")" = 1 ] ||
	bad "releases other than the first one are in the audit log"

[ "$fail" = 0 ] && echo "keyd-processor-ca: all passed"
exit $fail
