#!/bin/bash
# Host-side test of scripts/tdx-enroll-image (no VM): usage and input errors, policy generation
# from a quote, enrollment, no secret left behind, the enrolled keyslot opened with the secret
# a loopback tdx-keyd releases to the agent (tdx-unlock unlock --test-passphrase).
#
# usage: tests/qemu/enroll-image-test.sh        (BUILD = the binaries' directory)
set -uo pipefail
# shellcheck source=tests/qemu/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/keyd-conf.sh
. "$REPO/tests/integration/keyd-conf.sh"

W=$QEMU_WORK/enroll-test
HELPER=$REPO/scripts/tdx-enroll-image
AGENT=$BUILD/tdx-unlock
KEYD=$BUILD/tdx-keyd
QUOTEGEN=$BUILD/tdx-quotegen
RESOURCE=image/disk/root
failed=0
keyd_pid=

ok() { echo "ok    $*"; }
fail() {
	echo "FAIL  $*"
	failed=1
}
# expect CODE DESCRIPTION -- COMMAND...: runs COMMAND (output in $W/out) and checks its exit code.
expect() {
	local code=$1 what=$2 rc
	shift 3
	"$@" >"$W/out" 2>&1
	rc=$?
	if [ "$rc" = "$code" ]; then ok "$what (exit $rc)"; else fail "$what: exit $rc, expected $code"; fi
}
out_has() {
	if grep -qE -- "$1" "$W/out"; then ok "$2"; else fail "$2 (output: $(head -c 300 "$W/out"))"; fi
}
# wait_until TRIES TEST...: polls `[ TEST ]` every 0.1 s, TRIES times at most.
wait_until() {
	local tries=$1
	shift
	for _ in $(seq "$tries"); do
		[ "$@" ] && return 0
		sleep 0.1
	done
	return 1
}
sim_pid=
# tsm_sim_boot: a fresh emulated TD boot (tdx-tsm-sim restarted on an empty $W/tsm).
tsm_sim_boot() {
	[ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
	rm -rf "$W/tsm"
	"$BUILD/tdx-tsm-sim" --ca "$W/quotesim" --dir "$W/tsm" 2>>"$W/tsm-sim.log" &
	sim_pid=$!
	wait_until 100 -e "$W/tsm/ready" || die "tdx-tsm-sim did not start (see $W/tsm-sim.log)"
}
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	[ -n "$keyd_pid" ] && kill "$keyd_pid" 2>/dev/null && wait "$keyd_pid" 2>/dev/null
	[ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
}
trap cleanup EXIT

for b in "$AGENT" "$KEYD" "$QUOTEGEN"; do
	[ -x "$b" ] || die "$b missing (make all)"
done
rm -rf "$W"
mkdir -p "$W/policies" "$W/collateral" "$W/tls"
"$QUOTEGEN" ca --out "$W/quotesim" >/dev/null 2>&1 || die "tdx-quotegen ca failed"
"$QUOTEGEN" quote --ca "$W/quotesim" --out "$W/td.quote" >/dev/null 2>&1 || die "tdx-quotegen quote failed"
ln -s "$W/quotesim" "$W/collateral/00906ed50000"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=keyd \
	-addext "subjectAltName=IP:127.0.0.1" \
	-keyout "$W/tls/key.pem" -out "$W/tls/cert.pem" 2>/dev/null || die "openssl req failed"
# Image builders without the root key: a pinned one, and one keyd does not know.
for b in builder stranger; do
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=$b" -keyout "$W/$b.key" -out "$W/$b.crt" 2>/dev/null || die "openssl req"
done
builder_pin=$(openssl pkey -in "$W/builder.key" -pubout -outform DER | sha256sum | cut -d' ' -f1)
head -c 32 /dev/urandom >"$W/root.key"
chmod 0600 "$W/root.key" "$W/tls/key.pem"
keyd_conf_write "$W/keyd.json" 0 tls/cert.pem tls/key.pem policies collateral root.key audit.log <<EOF
  "test_root_ca": "quotesim/root_ca.pem",
  "admin": { "listen": { "address": "127.0.0.1", "port": 0 },
             "client_spki_sha256": [ "$builder_pin" ] },
  "workers": 1
EOF
printf 'enroll test passphrase' >"$W/pass"
"$REPO/scripts/make-test-root.sh" --data --size 8 "$W/pass" "$W/disk.img" >/dev/null || die "image"
"$REPO/scripts/make-test-root.sh" --data --size 8 "$W/pass" "$W/disk2.img" >/dev/null || die "image"
head -c 1M /dev/zero >"$W/plain.img"

expect 2 "no arguments is a usage error" -- "$HELPER"
expect 2 "a missing --resource is a usage error" -- "$HELPER" --keyd-config "$W/keyd.json" "$W/disk.img"
expect 1 "a file that is not LUKS2 is refused" -- "$HELPER" --keyd-config "$W/keyd.json" \
	--resource "$RESOURCE" --key-file "$W/pass" --keyd-bin "$KEYD" --agent "$AGENT" "$W/plain.img"
out_has "is not a LUKS2 image" "... saying so"
expect 1 "a resource no policy covers is refused" -- "$HELPER" --keyd-config "$W/keyd.json" \
	--resource "$RESOURCE" --key-file "$W/pass" --keyd-bin "$KEYD" --agent "$AGENT" "$W/disk.img"
out_has "not covered by any policy|no \\*\\.json policy files" "... naming the cause (tdx-keyd's message)"
expect 0 "enrollment with a policy generated from the TD's quote" -- "$HELPER" \
	--keyd-config "$W/keyd.json" --resource "$RESOURCE" --key-file "$W/pass" --quote "$W/td.quote" \
	--policy-id test-image --write-policy --keyd-bin "$KEYD" --agent "$AGENT" "$W/disk.img"
out_has '"id": "test-image"' "the printed policy stanza names its id"
out_has "\"$RESOURCE\"" "... and the resource"
out_has '"mrtd": "1{96}"' "... and the TD's MRTD"
if [ -s "$W/policies/test-image.json" ]; then ok "the policy was written to keyd's policy_dir"; else fail "no policy file"; fi
expect 0 "the image's token names the resource" -- "$AGENT" check "$W/disk.img"
out_has "resource $RESOURCE" "... (tdx-unlock check)"
expect 1 "an existing policy file is never overwritten" -- "$HELPER" --keyd-config "$W/keyd.json" \
	--resource "$RESOURCE" --key-file "$W/pass" --quote "$W/td.quote" --policy-id test-image \
	--write-policy --keyd-bin "$KEYD" --agent "$AGENT" "$W/disk.img"
out_has "not overwriting" "... saying so"
if compgen -G "/run/tdx-enroll.*" >/dev/null || compgen -G "${XDG_RUNTIME_DIR:-/nonexistent}/tdx-enroll.*" >/dev/null; then
	fail "a tdx-enroll secret directory was left behind"
else
	ok "no secret directory left behind"
fi

# The enrolled keyslot opens with what keyd releases to an attested agent.
rm -f "$W/port"
TDX_KEYD_TEST_PORT_FILE="$W/port" "$KEYD" serve --config "$W/keyd.json" >"$W/keyd.log" 2>&1 &
keyd_pid=$!
wait_until 100 -s "$W/port" || die "tdx-keyd did not start (see $W/keyd.log)"
pin="sha256//$(openssl pkey -in "$W/tls/key.pem" -pubout -outform DER | openssl dgst -sha256 -binary | base64)"
cat >"$W/agent.json" <<EOF
{
  "servers": [ { "url": "https://127.0.0.1:$(tr -dc 0-9 <"$W/port")", "pins": ["$pin"] } ],
  "total_timeout_s": 20
}
EOF
# configfs-tsm and RTMR3 emulated by tdx-tsm-sim (test hooks, docs/agent.md).
tsm_sim_boot
# The boot's runtime event log lives with the emulated RTMR3 (never /run/tdx-unlock on the host).
export TDX_UNLOCK_TEST_TSM_REPORT_DIR=$W/tsm/report TDX_UNLOCK_TEST_RTMR_PATH=$W/tsm/rtmr3:sha384 \
	TDX_UNLOCK_TEST_AAEL=$W/tsm/rtmr3.log
expect 0 "the agent opens the enrolled keyslot with the released secret" -- \
	env TDX_UNLOCK_TEST_CMDLINE= "$AGENT" unlock --config "$W/agent.json" --test-passphrase \
	--log-target stderr "$W/disk.img"
if grep -q '"reason":"released' "$W/audit.log"; then ok "keyd's audit log records the release"; else fail "no release in keyd's audit log"; fi

# Enrollment from a builder without the root key: keyd's admin endpoint (mutual TLS).
aport=$(sed -n 's/.*admin endpoint listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$W/keyd.log")
admin_args=(--keyd "https://127.0.0.1:$aport" --keyd-ca "$W/tls/cert.pem" --resource "$RESOURCE"
	--key-file "$W/pass" --keyd-bin "$KEYD" --agent "$AGENT")
expect 1 "a builder certificate off keyd's allow-list gets nothing" -- "$HELPER" "${admin_args[@]}" \
	--client-cert "$W/stranger.crt" --client-key "$W/stranger.key" "$W/disk2.img"
out_has "HTTP 403.*not on the admin allow-list" "... keyd says why"
expect 0 "enrollment through keyd's admin endpoint (--keyd URL)" -- "$HELPER" "${admin_args[@]}" \
	--client-cert "$W/builder.crt" --client-key "$W/builder.key" "$W/disk2.img"
out_has "enrolled for resource $RESOURCE via keyd admin endpoint" "... saying how"
# A fresh boot (the first unlock extended RTMR3): a new emulated TD.
tsm_sim_boot
expect 0 "the agent opens the keyslot enrolled through the admin endpoint" -- \
	env TDX_UNLOCK_TEST_CMDLINE= "$AGENT" unlock --config "$W/agent.json" --test-passphrase \
	--log-target stderr "$W/disk2.img"
if grep -q '"event":"admin-secret".*"client":"subject=CN=builder; spki-sha256='"$builder_pin"'".*"verdict":"allow"' "$W/audit.log"; then
	ok "keyd's audit log names the builder's certificate"
else
	fail "no admin-secret audit line naming the builder's certificate"
fi

# Reference values computed from the image before it boots (--kernel/--initrd/--cmdline): the
# stanza equals the independent Python implementation's digests and the events of a simulated
# direct boot of the same files (its CCEL, tests/integration/image_measure.py); keyd releases under
# the policy to that boot and refuses a boot of another kernel.
PY=$REPO/tests/integration/image_measure.py
jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }
python3 "$PY" make-pe "$W/vmlinuz" --cert 64 --tail 3
python3 "$PY" make-pe "$W/vmlinuz.other" --cert 40
head -c 200000 /dev/urandom >"$W/initrd.img"
cmdline="console=ttyS0 root=/dev/mapper/root ro rd.tdx_unlock.server=https://10.0.2.2:8443"
python3 "$PY" measure "$W/vmlinuz" "$W/initrd.img" "$cmdline" >"$W/py.json"
python3 "$PY" measure "$W/vmlinuz.other" "$W/initrd.img" "$cmdline" >"$W/py-other.json"
# sim_boot NAME DIGESTS: the simulated direct boot of those digests: its CCEL and the quote defaults.
sim_boot() {
	local args
	python3 "$PY" ccel "$W/$1.ccel" "$(jget "$2" 'd["kernel"]')" "$(jget "$2" 'd["cmdline"]')" \
		"$(jget "$2" 'd["initrd"]')" >"$W/$1.rtmrs" || return 1
	args=$(jget "$W/$1.rtmrs" '" ".join("--%s %s" % kv for kv in sorted(d.items()))')
	# shellcheck disable=SC2086 # --rtmrN VALUE words
	"$QUOTEGEN" defaults --ca "$W/quotesim" $args >/dev/null 2>&1
}
# The reference boot: the fleet's firmware running the image of the previous release.
sim_boot old "$W/py-other.json" || die "simulated boot"
"$QUOTEGEN" quote --ca "$W/quotesim" --out "$W/ref.quote" >/dev/null 2>&1 || die "reference quote"
"$REPO/scripts/make-test-root.sh" --data --size 8 "$W/pass" "$W/disk3.img" >/dev/null || die "image"
expect 2 "--kernel without --initrd and --cmdline is a usage error" -- "$HELPER" \
	--keyd-config "$W/keyd.json" --resource image/disk/new --kernel "$W/vmlinuz" "$W/disk3.img"
out_has "go together" "... saying the three go together"
expect 2 "--qemu-patched-header without the image's files is a usage error" -- "$HELPER" \
	--keyd-config "$W/keyd.json" --resource image/disk/new --qemu-patched-header 4G "$W/disk3.img"
expect 1 "a kernel that is not a PE image is refused before the disk is touched" -- "$HELPER" \
	--keyd-config "$W/keyd.json" --resource image/disk/new --key-file "$W/pass" \
	--kernel "$W/pass" --initrd "$W/initrd.img" --cmdline "$cmdline" --keyd-bin "$KEYD" \
	--agent "$AGENT" "$W/disk3.img"
out_has "kernel image: not a PE/COFF image" "... with image-measure's reason"
if [[ $("$AGENT" check "$W/disk3.img" 2>&1) == *"no tdx-unlock token"* ]]; then ok "... and the disk stays unenrolled"; else fail "... yet the disk was enrolled"; fi
expect 0 "enrollment with the image's event-level values and a reference boot's quote" -- \
	"$HELPER" --keyd-config "$W/keyd.json" --resource image/disk/new --key-file "$W/pass" \
	--quote "$W/ref.quote" --policy-id new-image --write-policy --kernel "$W/vmlinuz" \
	--initrd "$W/initrd.img" --cmdline "$cmdline" --keyd-bin "$KEYD" --agent "$AGENT" "$W/disk3.img"
pol=$W/policies/new-image.json
if [ "$(jget "$pol" 'd["measurements"][0]["rtmr1"]["events"][0]["kernel"]')" = "['$(jget "$W/py.json" 'd["kernel"]')']" ] &&
	[ "$(jget "$pol" 'd["measurements"][0]["rtmr2"]["events"][0]["cmdline"]')" = "['$(jget "$W/py.json" 'd["cmdline"]')']" ] &&
	[ "$(jget "$pol" 'd["measurements"][0]["rtmr2"]["events"][1]["initrd"]')" = "['$(jget "$W/py.json" 'd["initrd"]')']" ]; then
	ok "the written policy's kernel, cmdline and initrd digests are the Python implementation's"
else
	fail "the policy's image digests differ from the Python implementation's"
fi
# The boot of the new image, simulated: its CCEL's events are what the policy names.
sim_boot new "$W/py.json" || die "simulated boot"
"$QUOTEGEN" quote --ca "$W/quotesim" --out "$W/new.quote" >/dev/null 2>&1 || die "quote"
"$KEYD" policy-from-quote --quote "$W/new.quote" --eventlog "$W/new.ccel" >"$W/boot-pol.json" 2>/dev/null
if python3 - "$pol" "$W/boot-pol.json" <<'PYEOF'; then
import json, sys
pol, boot = (json.load(open(f))["measurements"][0] for f in sys.argv[1:])
sys.exit(0 if all(pol[r] == boot[r] for r in ("rtmr1", "rtmr2")) else 1)
PYEOF
	ok "its RTMR1/RTMR2 event lists equal the simulated boot's (policy-from-quote --eventlog of its CCEL)"
else
	fail "the image's events differ from the simulated boot's"
fi
out_has '"mrtd": "1{96}"' "MRTD (and RTMR0, RTMR3, TD attributes) come from the reference boot"
kill -HUP "$keyd_pid"
for _ in $(seq 50); do
	grep -q "reloaded, 2 policies" "$W/keyd.log" && break
	sleep 0.1
done
grep -q "reloaded, 2 policies" "$W/keyd.log" || fail "keyd did not load the new policy"
# boot_unlock CCEL DESCRIPTION CODE: a fresh emulated boot whose agent sends CCEL and unlocks disk3.
boot_unlock() {
	tsm_sim_boot
	expect "$3" "$2" -- env TDX_UNLOCK_TEST_CMDLINE= TDX_UNLOCK_TEST_CCEL="$1" \
		"$AGENT" unlock --config "$W/agent.json" --test-passphrase --log-target stderr "$W/disk3.img"
}
boot_unlock "$W/new.ccel" "the new image's first boot gets the secret under the pre-boot policy" 0
if grep -q '"resource":"image/disk/new".*"reason":"released' "$W/audit.log"; then
	ok "... keyd's audit records the release"
else
	fail "no release of image/disk/new in keyd's audit log"
fi
sim_boot old "$W/py-other.json" || die "simulated boot"
boot_unlock "$W/old.ccel" "a boot of another kernel (same firmware, initrd, command line) is refused" 5
if grep -q '"resource":"image/disk/new".*RTMR1 mismatch (no accepted event sequence' "$W/audit.log"; then
	ok "... keyd's audit names RTMR1 and the event-level policy"
else
	fail "no RTMR1 refusal in keyd's audit log"
fi

[ "$failed" = 0 ] && echo "enroll-image-test: all passed" || echo "enroll-image-test: FAILED"
exit "$failed"
