#!/bin/sh
# Integration test of tdx-keyd on loopback: every refusal of issue 3 (each with its reason in
# the HTTP body and an audit line, keyd serving a valid session after each), expired collateral,
# SIGHUP reloads (a broken policy set keeps the old one), and a kill -9 / restart.
# Usage: BUILD=build tests/integration/keyd-test.sh
set -u
BUILD=${BUILD:-build}
KEYD_SESSION_LIFETIME_S=3
KEYD_REQUEST_TIMEOUT_MS=2000
KEYD_MAX_CONNECTIONS=8
. "$(dirname "$0")/keyd-env.sh"
keyd_scratch keyd-test
CLIENT="$BUILD/kbs-test-client"

step() { echo "== keyd: $*"; }

client() {
	"$CLIENT" --url "$URL" --ca "$T/tls.crt" --sim "$T/sim" --other-sim "$T/othersim" \
		--audit "$T/audit.log" --expect-secret "$T/expected.secret" "$@"
}

keyd_env_setup || { echo "FAIL: setup"; exit 1; }
keyd_start || exit 1

step "start-up"
grep -q "listening on 127.0.0.1:$PORT (TLS), $(nproc) workers" "$T/keyd.stderr" ||
	bad "keyd does not run one worker per CPU"
grep -q "TEST ROOT CA IN USE" "$T/keyd.stderr" || bad "the test root is not announced loudly"

step "sessions and refusals"
client valid pin wrong-pin wrong-version no-cookie foreign-cookie tampered-cookie expired-session=3 \
	reused-nonce reportdata-nonce reportdata-key debug mrtd rtmr tcb tampered other-root \
	uncovered malformed truncated duplicate-key oversized huge-content-length slow-drip \
	plain-http max-connections=8 client-bounds bad-path bad-method huge-header \
	resource-no-cookie resource-not-attested ||
	bad "refusal scenarios"

step "an /auth flood (two keep-alive connections, <= 20000 requests, <= 5 s) from another address"
# With a session lifetime that outlasts the flood.
keyd_stop
sed 's/"session_lifetime_s": 3,/"session_lifetime_s": 60,/' "$T/keyd.json" >"$T/keyd-flood.json"
KEYD_CONFIG="$T/keyd-flood.json" keyd_start || bad "keyd with a longer session lifetime"
client auth-flood=20000 || bad "auth flood"

step "400 connections that are not TLS from one address: the audit log stays bounded"
before=$(wc -l <"$T/audit.log")
python3 - "$PORT" <<'PY'
import socket, sys
for _ in range(400):
    with socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5, ("127.0.0.7", 0)) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        try:
            s.recv(100)
        except OSError:
            pass
PY
sleep 1.5 # the aggregated records (auth_audit_interval_s 1)
tail -n +$((before + 1)) "$T/audit.log" >"$T/garbage.audit"
n=$(grep -c '"peer":"127.0.0.7:.*TLS handshake failed' "$T/garbage.audit")
echo "  400 failed handshakes from 127.0.0.7: $n audit records one by one"
{ [ "$n" -ge 50 ] && [ "$n" -le 250 ]; } || bad "failed handshakes not within the per-address audit budget ($n records)"
grep -q '"peer":"127.0.0.7".*further refusals.*TLS handshake failed' "$T/garbage.audit" ||
	bad "the failed handshakes over the budget are not counted in an aggregated record"
keyd_stop
keyd_start || bad "restart"

step "hostile strings (certificate CNs, JSON strings) reach log, audit and body escaped"
{ "$QUOTEGEN" ca --out "$T/forged-nl" --pck-leaf-cn "$(printf 'x\ntdx-keyd: FORGED released default/disk/root')" >/dev/null &&
	"$QUOTEGEN" ca --out "$T/forged-bmp" --pck-leaf-cn "$(printf '\377\376\340\377\302A')" --pck-leaf-cn-bmp >/dev/null; } ||
	bad "cannot make the forged-CN hierarchies"
"$CLIENT" --url "$URL" --ca "$T/tls.crt" --sim "$T/sim" --other-sim "$T/forged-nl" \
	--audit "$T/audit.log" other-root forged-json >"$T/hostile.out" 2>&1 || bad "forged CN/JSON"
"$CLIENT" --url "$URL" --ca "$T/tls.crt" --sim "$T/sim" --other-sim "$T/forged-bmp" \
	--audit "$T/audit.log" other-root >>"$T/hostile.out" 2>&1 || bad "BMPString CN"
sed 's/^/    /' "$T/hostile.out" | grep -E "refused|HTTP 401"
# Log lines show the escape once; audit records (JSON) with its backslash escaped.
for what in "x\\x0atdx-keyd: FORGED" "\\xff\\xfe\\xe0\\xff\\xc2A" \
	"0.4\\x0atdx-keyd: FORGED\\xe2\\x80\\xae"; do
	json=$(printf '%s' "$what" | sed 's/\\/\\\\/g')
	grep -qF "$what" "$T/keyd.stderr" || bad "log lacks the escaped form $what"
	grep -qF "$json" "$T/audit.log" || bad "audit lacks the escaped form $what"
	grep -qF "$what" "$T/hostile.out" || grep -qF "$json" "$T/hostile.out" ||
		bad "error body lacks the escaped form $what"
done
if grep -q "^tdx-keyd: FORGED" "$T/keyd.stderr" "$T/audit.log"; then bad "a forged log line"; fi
python3 - "$T/keyd.stderr" "$T/audit.log" "$T/hostile.out" <<'PY' || bad "invalid UTF-8 or a control character"
import sys
for path in sys.argv[1:]:
    text = open(path, "rb").read().decode("utf-8")  # strict: raises on invalid UTF-8
    bad = [c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7f <= ord(c) <= 0x9f
           or c in "\u2028\u2029\u202e"]
    assert not bad, (path, bad[:5])
print("  log, audit and bodies: valid UTF-8, no control characters")
PY

step "expired collateral is refused"
cp -r "$T/collateral/00906ed50000" "$T/collateral.good"
"$QUOTEGEN" collateral --ca "$T/sim" --out "$T/expired" --not-before now-40d \
	--not-after now-10d >/dev/null || bad "cannot issue expired collateral"
cp "$T/expired/tcb_info.json" "$T/expired/qe_identity.json" "$T/expired/pck_crl.der" \
	"$T/expired/root_crl.der" "$T/collateral/00906ed50000/"
kill -HUP "$KEYD_PID"
sleep 0.5
client expired-collateral || bad "expired collateral"
cp "$T/collateral.good/"* "$T/collateral/00906ed50000/"
kill -HUP "$KEYD_PID"
sleep 0.5
client valid || bad "valid session after restoring collateral"

step "SIGHUP with a broken policy keeps the old set"
echo '{"id": "broken", "resources": ["default/disk/root2"], "measurements": [{"mrtd": "zz"}]}' \
	>"$T/policies/broken.json"
kill -HUP "$KEYD_PID"
sleep 0.5
grep -q "broken.json: field 'measurements'\[0\].mrtd must be 96 hex digits" "$T/keyd.stderr" ||
	bad "no log line naming file, field and problem"
grep -q "reload failed.*previous 1 policies stay in force" "$T/keyd.stderr" ||
	bad "no log line saying the old set stays"
client valid || bad "old policy set no longer serves"
rm -f "$T/policies/broken.json"

step "SIGHUP with a new measurement set and resource takes effect"
sed -e 's/"test-image"/"second-image"/' -e 's#default/disk/root#default/disk/data#' \
	"$T/policies/test-image.json" >"$T/policies/second-image.json"
kill -HUP "$KEYD_PID"
sleep 0.5
"$CLIENT" --url "$URL" --ca "$T/tls.crt" --sim "$T/sim" --audit "$T/audit.log" \
	--resource default/disk/data valid || bad "new policy not in force after SIGHUP"
grep -q "reloaded, 2 policies in force" "$T/keyd.stderr" || bad "no reload log line"

step "kill -9 and restart"
kill -9 "$KEYD_PID"
wait "$KEYD_PID" 2>/dev/null
KEYD_PID=""
lines_before=$(wc -l <"$T/audit.log")
keyd_start || bad "restart failed"
client valid || bad "no release after restart"
python3 - "$T/audit.log" <<'PY' || bad "audit log damaged"
import json, sys
n = 0
for line in open(sys.argv[1]):
    rec = json.loads(line)
    for k in ("time", "event", "peer", "verdict", "reason"):
        assert k in rec, (k, line)
    n += 1
print("  audit log: %d lines, each one JSON record" % n)
PY
[ "$(wc -l <"$T/audit.log")" -gt "$lines_before" ] || bad "no audit lines after restart"
if grep -q "$(od -An -tx1 "$T/expected.secret" | tr -d ' \n')" "$T/audit.log" "$T/keyd.stderr"; then
	bad "the disk secret appears in the audit log or stderr"
fi

step "collateral refreshed from a (loopback) PCCS replaces expired collateral"
keyd_stop
cp "$T/expired/tcb_info.json" "$T/expired/qe_identity.json" "$T/expired/pck_crl.der" \
	"$T/expired/root_crl.der" "$T/collateral/00906ed50000/"
"$QUOTEGEN" collateral --ca "$T/sim" --out "$T/fresh" >/dev/null || bad "fresh collateral"
# The PCK Processor CA's CRL (CRL number 5) beside the platform CA's: quotegen makes only the
# platform CA, so a processor CA under the same test root is made here.
keyd_pck_ca "$T/processor" "Test SGX PCK Processor CA" 77 05 "$T/fresh/pck_processor_crl.der" \
	"$T/fresh/pck_processor_crl_chain.pem" || bad "processor CA CRL"
keyd_fake_pccs "$T/fresh" || bad "fake PCCS did not start"
KEYD_CONFIG="$T/keyd-pccs.json" keyd_start || bad "keyd with pccs_url did not start"
client valid || bad "no release after the PCCS refresh"
grep -q "tcb?fmspc=00906ed50000" "$T/pccs.log" || bad "PCCS not asked for the platform's TCB info"
grep -q "pckcrl?ca=platform" "$T/pccs.log" || bad "PCCS not asked for the platform CA's CRL"
grep -q "pckcrl?ca=processor" "$T/pccs.log" || bad "PCCS not asked for the processor CA's CRL"
cmp -s "$T/fresh/pck_processor_crl.der" "$T/collateral/00906ed50000/pck_processor_crl.der" ||
	bad "cache directory does not hold the fetched processor CA CRL"
python3 -c 'import json, sys
sys.exit(json.load(open(sys.argv[1]))["crl"].get("/CN=Test SGX PCK Processor CA/O=Test") != 5)' \
	"$T/collateral/.rollback-state.json" ||
	bad "keyd did not load the processor CA CRL (its CRL number is not in the rollback state)"
grep -q "pccs: refreshed collateral of FMSPC 00906ed50000" "$T/keyd.stderr" || bad "no refresh log"
cmp -s "$T/fresh/tcb_info.json" "$T/collateral/00906ed50000/tcb_info.json" ||
	bad "cache directory does not hold the fetched TCB info"
kill "$PCCS_PID" 2>/dev/null
wait "$PCCS_PID" 2>/dev/null

step "a release that cannot be audited is refused"
keyd_stop
sed 's#"audit_file": "audit.log"#"audit_file": "/dev/full"#' "$T/keyd.json" >"$T/keyd-full.json"
grep -q /dev/full "$T/keyd-full.json" || bad "cannot make the /dev/full config"
KEYD_CONFIG="$T/keyd-full.json" keyd_start || bad "keyd with /dev/full audit did not start"
client audit-unavailable || bad "release without an audit record"
keyd_stop
keyd_start || bad "restart"

step "admin commands"
if "$KEYD" derive-secret --config "$T/keyd.json" --resource "$RESOURCE" \
	--out "$T/expected.secret" 2>/dev/null; then bad "derive-secret overwrote a file"; fi
if "$KEYD" derive-secret --config "$T/keyd.json" --resource "$RESOURCE" --out - \
	2>/dev/null; then bad "derive-secret wrote to stdout"; fi
[ "$(stat -c %a "$T/expected.secret")" = 600 ] || bad "derive-secret output is not mode 0600"
[ "$(stat -c %s "$T/expected.secret")" = 32 ] || bad "derive-secret output is not 32 bytes"
if "$KEYD" derive-secret --config "$T/keyd.json" --resource default/disk/nowhere \
	--out "$T/nowhere.secret" 2>"$T/err"; then bad "derive-secret for an uncovered resource"; fi
grep -q "not covered by any policy" "$T/err" || bad "derive-secret: no reason given"
"$QUOTEGEN" quote --ca "$T/sim" --debug --out "$T/debug.quote" >/dev/null
if "$KEYD" policy-from-quote --quote "$T/debug.quote" >/dev/null 2>"$T/err"; then
	bad "policy-from-quote accepted a DEBUG TD"
fi
grep -q "DEBUG set" "$T/err" || bad "policy-from-quote: no reason for the DEBUG TD"

step "policy-from-quote on real Intel quotes"
if [ -n "${TDX_TESTDATA:-}" ] && [ -f "$TDX_TESTDATA/expected_values.json" ]; then
	for q in sets/dcapqvl-v4-uptodate/quote.bin quotes/trustee_tdx_quote_5_v5.bin \
		quotes/gramine_skp_tdxQuote.bin; do
		"$KEYD" policy-from-quote --quote "$TDX_TESTDATA/$q" --id real \
			>"$T/real.json" 2>"$T/err" || { bad "policy-from-quote $q"; continue; }
		python3 - "$TDX_TESTDATA/expected_values.json" "$q" "$T/real.json" <<'PY' ||
import json, sys
exp = [e for e in json.load(open(sys.argv[1])) if e["file"].endswith(sys.argv[2])]
assert len(exp) == 1, "no expected values for " + sys.argv[2]
m = json.load(open(sys.argv[3]))["measurements"][0]
for k in ("mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3", "xfam", "mrconfigid", "mrowner"):
    assert m[k] == exp[0][k].lower(), (k, m[k], exp[0][k])
print("  %s: policy holds the quote's MRTD, RTMR0-3, XFAM, MRCONFIGID, MROWNER" % sys.argv[2])
PY
			bad "policy-from-quote $q: measurements differ from expected_values.json"
	done
	if "$KEYD" policy-from-quote --quote "$TDX_TESTDATA/quotes/trustee_tdx_quote_4_debugtd.bin" \
		>/dev/null 2>&1; then bad "policy-from-quote accepted the real debug TD"; fi

	step "production trust anchor: Intel's root, real collateral (expired by now)"
	keyd_stop
	grep -v '"test_root_ca"' "$T/keyd.json" >"$T/keyd-intel.json"
	mkdir -p "$T/collateral/b0c06f000000"
	cp "$TDX_TESTDATA/sets/dcapqvl-v4-uptodate/collateral.json" "$T/collateral/b0c06f000000/"
	KEYD_CONFIG="$T/keyd-intel.json" keyd_start || bad "keyd with the Intel root did not start"
	# The real quote chains to Intel's root, but its collateral expired long ago; a simulated
	# quote chains to a root keyd does not trust.
	client "file-quote=$TDX_TESTDATA/sets/dcapqvl-v4-uptodate/quote.bin:expired" \
		"file-quote=$T/ref.quote:quote verification failed" || bad "production root refusals"
	keyd_stop
	rm -rf "$T/collateral/b0c06f000000"
	keyd_start || bad "restart with the test root"
else
	echo "  skipped: TDX_TESTDATA not set"
fi

step "check-config and derive-secret refuse a root key with a loose mode"
chmod 644 "$T/root.key"
if "$KEYD" check-config --config "$T/keyd.json" 2>"$T/err"; then bad "mode 0644 accepted"; fi
grep -q "mode 0644; it must be 0600" "$T/err" || bad "no reason for the refused root key"
chmod 600 "$T/root.key"
"$KEYD" check-config --config "$T/keyd.json" >/dev/null 2>&1 || bad "check-config of a good config"

[ $fail = 0 ] && echo "keyd integration: all passed"
exit $fail
