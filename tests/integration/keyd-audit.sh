#!/bin/sh
# The audit log's HMAC chain on keyd's own log: after releases, refusals, a kill -9 and restart
# and a rotation (rename + SIGHUP), `tdx-keyd audit-verify` accepts it (exit 0); a copy with a
# record edited, removed, inserted or reordered is refused (exit 1) naming the first bad line.
# Usage: BUILD=build tests/integration/keyd-audit.sh
set -u
BUILD=${BUILD:-build}
. "$(dirname "$0")/keyd-env.sh"
keyd_scratch keyd-audit

client() {
	"$BUILD/kbs-test-client" --url "$URL" --ca "$T/tls.crt" --sim "$T/sim" \
		--other-sim "$T/othersim" --audit "$T/audit.log" \
		--expect-secret "$T/expected.secret" "$@" >"$T/client.out" 2>&1 ||
		{ cat "$T/client.out"; return 1; }
}
verify() { "$KEYD" audit-verify --config "$T/keyd.json" "$@" >"$T/verify.out" 2>&1; }

keyd_env_setup || { echo "FAIL: setup"; exit 1; }
keyd_start || exit 1

echo "== keyd-audit: keyd's own log, across kill -9, restart and rotation"
client valid mrtd uncovered || bad "sessions"
kill -9 "$KEYD_PID"
wait "$KEYD_PID" 2>/dev/null
KEYD_PID=""
keyd_start || exit 1
client valid || bad "session after restart"
verify || bad "audit-verify refuses keyd's own log: $(cat "$T/verify.out")"
grep -q "chain intact" "$T/verify.out" || bad "audit-verify does not say the chain is intact"
[ "$(grep -c '"event":"chain-start"' "$T/audit.log")" = 2 ] ||
	bad "a restart does not start a chain segment"
mv "$T/audit.log" "$T/audit.log.1"
kill -HUP "$KEYD_PID"
i=0
while [ ! -s "$T/audit.log" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
client valid || bad "session after rotation"
head -1 "$T/audit.log" | grep -q '"reason":"log file rotated"' ||
	bad "the rotated file does not start with a chain-start"
verify --audit "$T/audit.log.1" --audit "$T/audit.log" ||
	bad "audit-verify refuses the rotated pair: $(cat "$T/verify.out")"
verify || bad "the new file alone does not verify from the MAC it names"
if verify --audit "$T/audit.log" --audit "$T/audit.log.1"; then
	bad "audit-verify accepts the files in the wrong order"
fi
keyd_stop

echo "== keyd-audit: tampered copies are refused, the first bad record named"
L="$T/audit.log.1"
n=$(wc -l <"$L")
[ "$n" -ge 8 ] || bad "too few records to tamper with ($n)"
tamper() { # name, expected line, sed/awk program output in $T/t.log
	if verify --audit "$T/t.log"; then
		bad "$1: audit-verify accepted it"
	elif ! grep -q "line $2: " "$T/verify.out"; then
		bad "$1: the first bad record is not named as line $2: $(cat "$T/verify.out")"
	else
		ok "$1 caught: $(sed 's/^audit-verify: FAILED: //' "$T/verify.out")"
	fi
}
sed '4s/"event":"/"event":"x/' "$L" >"$T/t.log"
tamper "an edited record" 4
sed '4{s/"verdict":"deny"/"verdict":"ALLOW"/;s/"verdict":"allow"/"verdict":"deny"/;s/"verdict":"ALLOW"/"verdict":"allow"/}' \
	"$L" >"$T/t.log"
cmp -s "$L" "$T/t.log" && bad "the verdict edit changed nothing"
tamper "a record with its verdict flipped" 4
sed '4d' "$L" >"$T/t.log"
tamper "a removed record" 4
sed '4p' "$L" >"$T/t.log"
tamper "an inserted (replayed) record" 5
awk 'NR == 4 { held = $0; next } NR == 5 { print; print held; next } { print }' "$L" >"$T/t.log"
tamper "reordered records" 4
{ head -3 "$L"; printf '{"time":"2026-12-07T00:00:00.000Z","event":"resource","verdict":"allow"}\n'; tail -n +4 "$L"; } >"$T/t.log"
tamper "an inserted record without a MAC" 4
cp "$L" "$T/t.log"
verify --audit "$T/t.log" || bad "an untouched copy is refused"

[ $fail = 0 ] && echo "keyd-audit: all passed"
exit $fail
