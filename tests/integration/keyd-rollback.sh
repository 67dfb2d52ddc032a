#!/bin/sh
# Collateral never goes backwards: keyd keeps the highest TCB info / QE identity
# tcbEvaluationDataNumber and CRL number per CA it accepted (collateral_dir/.rollback-state.json)
# and refuses older collateral with a named refusal, across a SIGHUP and a restart.
# Usage: BUILD=build tests/integration/keyd-rollback.sh
set -u
BUILD=${BUILD:-build}
. "$(dirname "$0")/keyd-env.sh"
keyd_scratch keyd-rollback

C="$T/collateral/00906ed50000"
client() {
	"$BUILD/kbs-test-client" --url "$URL" --ca "$T/tls.crt" --sim "$T/sim" \
		--audit "$T/audit.log" --expect-secret "$T/expected.secret" "$@"
}
# install TCB_EVAL CRL_NUMBER: freshly signed collateral with those numbers, then SIGHUP.
install() {
	rm -rf "$T/coll"
	"$QUOTEGEN" collateral --ca "$T/sim" --out "$T/coll" --tcb-eval "$1" --crl-number "$2" \
		>/dev/null || bad "tdx-quotegen collateral --tcb-eval $1 --crl-number $2"
	cp "$T/coll/tcb_info.json" "$T/coll/qe_identity.json" "$T/coll/pck_crl.der" \
		"$T/coll/root_crl.der" "$C/"
	if [ -n "$KEYD_PID" ]; then
		kill -HUP "$KEYD_PID"
		sleep 0.5
	fi
}
refused() { client "file-quote=$T/ref.quote:$1" >"$T/out" 2>&1 || { cat "$T/out"; return 1; }; }

keyd_env_setup || { echo "FAIL: setup"; exit 1; }
install 18 5
keyd_start || exit 1

echo "== keyd-rollback: collateral accepted, its numbers kept"
client valid >/dev/null || bad "no release with the first collateral"
python3 - "$T/collateral/.rollback-state.json" <<'PY' || bad "the accepted numbers are not persisted"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["tcb_eval"]["00906ed50000"] == 18, s
assert s["qe_eval"]["qe_identity"] == 18, s
assert sorted(s["crl"].values()) == [5, 5], s
PY

echo "== keyd-rollback: an older TCB info is refused, named"
install 17 5
refused "TCB info tcbEvaluationDataNumber 17 (00906ed50000) is older than 18, accepted before: collateral rollback refused" ||
	bad "older tcbEvaluationDataNumber not refused"
echo "== keyd-rollback: ... also after a restart (the numbers are persisted)"
keyd_stop
keyd_start || exit 1
refused "rollback refused" || bad "older collateral accepted after a restart"

echo "== keyd-rollback: an older CRL is refused, named"
install 18 4
refused "CRL number 4" || bad "older CRL number not refused"
grep -q '"reason":"no collateral for FMSPC 00906ed50000: PCK CA CRL number 4' "$T/audit.log" ||
	bad "the CRL rollback is not in the audit log"

echo "== keyd-rollback: newer collateral is accepted and raises the bar"
install 19 6
client valid >/dev/null || bad "no release with newer collateral"
install 18 6
refused "older than 19" || bad "the bar did not rise to 19"

echo "== keyd-rollback: a damaged state file stops keyd instead of being forgotten"
install 19 6
keyd_stop
echo '{"tcb_eval": [' >"$T/collateral/.rollback-state.json"
if keyd_start 2>/dev/null; then
	bad "keyd started with a damaged rollback state"
	keyd_stop
fi
grep -q "rollback-state.json is damaged" "$T/keyd.stderr" || bad "the damaged state is not named"

[ $fail = 0 ] && echo "keyd-rollback: all passed"
exit $fail
