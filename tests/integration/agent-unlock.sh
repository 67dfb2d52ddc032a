#!/bin/sh
# The agent end to end on loopback: tdx-keyd (test root, generated collateral) + `tdx-unlock
# unlock` with configfs-tsm and RTMR3 emulated by tdx-tsm-sim, up to opening the keyslot of real LUKS2 image files
# (--test-passphrase), and every refusal path with its documented exit code and logged reason.
# Usage: BUILD=build tests/integration/agent-unlock.sh
set -u
BUILD=${BUILD:-build}
T=$(mktemp -d /tmp/agent-test.XXXXXX)
. "$(dirname "$0")/agent-env.sh"
fail=0
umask 077
# Wall-time bounds below scale for slow builds (make check-asan sets TEST_TIME_FACTOR=3).
TF=${TEST_TIME_FACTOR:-1}

# shellcheck disable=SC2034 # read by bad() in agent-env.sh
BAD_LOG="$T/agent.log"
trap agent_cleanup EXIT INT TERM

# run_agent CONF [unlock options and devices]: a fresh emulated boot (unless SAME_BOOT=1), then
# the agent; sets RC and MS (wall time), log in $T/agent.log.
run_agent() {
	conf=$1
	shift
	[ "${SAME_BOOT:-0}" = 1 ] || tsm_sim_boot "${SIM_DIR:-$T/sim}" || bad "tdx-tsm-sim"
	t0=$(date +%s%N)
	TDX_UNLOCK_TEST_CMDLINE=$(cat "$T/cmdline") \
		"$AGENT" unlock --config "$conf" --log-target stderr "$@" \
		>"$T/agent.out" 2>"$T/agent.log"
	RC=$?
	MS=$((($(date +%s%N) - t0) / 1000000))
}

# expect_rc WANT DESCRIPTION [GREP-PATTERN]
expect_rc() {
	if [ "$RC" -ne "$1" ]; then
		bad "$2: exit $RC, expected $1"
	elif [ -n "${3:-}" ] && ! grep -qiE "$3" "$T/agent.log"; then
		bad "$2: log does not say /$3/"
	else
		ok "$2 (exit $RC, ${MS} ms)"
		[ -n "${AGENT_TEST_VERBOSE:-}" ] && sed 's/^/    | /' "$T/agent.log"
	fi
}

# The keyslot passphrase derived independently (RFC 5869 HKDF-SHA256 in Python) and tried with
# cryptsetup: proves the image is enrolled for exactly keyd's secret for the resource.
independent_open() { # IMAGE SECRET
	independent_passphrase "$1" "$2" "$T/pass" || return 1
	slot=$(python3 -c 'import json,subprocess,sys; md=json.loads(subprocess.run(["cryptsetup","luksDump","--dump-json-metadata",sys.argv[1]],capture_output=True,text=True).stdout); print([t for t in md["tokens"].values() if t["type"]=="tdx-unlock"][0]["keyslots"][0])' "$1")
	cryptsetup open --test-passphrase --key-slot "$slot" --key-file "$T/pass" "$1"
	r=$?
	rm -f "$T/pass"
	return $r
}

# expect_events DESCRIPTION EVENT...: the emulated boot's event log holds an INIT line and then
# exactly EVENT... (lines), and RTMR3 was extended with the SHA-384 of each line, in order.
expect_events() {
	desc=$1
	shift
	want=$(printf '%s\n' "$@")
	log=$T/tsm/rtmr3.log
	n=$(($# + 1))
	i=0 # the emulation reads its FIFO asynchronously: up to 10 s under load
	while [ "$(wc -l <"$T/tsm/extensions")" -lt "$n" ] && [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	got=$(sed 1d "$log" 2>/dev/null)
	digests=$(while IFS= read -r l; do
		printf '%s' "$l" | openssl dgst -sha384 -binary | od -An -tx1 -v | tr -d ' \n'
		echo
	done <"$log")
	if [ "$got" != "$want" ]; then
		bad "$desc: events '$got', want '$want'"
	elif ! head -1 "$log" | grep -q '^INIT sha384/[0-9a-f]\{96\}$'; then
		bad "$desc: the event log does not start with an INIT line"
	elif [ "$digests" != "$(cat "$T/tsm/extensions")" ]; then
		bad "$desc: RTMR3 was not extended with exactly the event log's lines"
	else
		ok "$desc: RTMR3 and the event log say: $(echo "$want" | tr '\n' ';')"
	fi
}

agent_env_setup || { echo "FAIL: setup"; exit 1; }
keyd_start || exit 1
write_agent_conf "$T/good.conf" "$URL" "$PIN"
DEAD="https://127.0.0.1:$(dead_port)"
write_agent_conf "$T/dead.conf" "$DEAD" "$PIN"

echo "== agent: unlock up to the passphrase"
independent_open "$T/disk.img" "$T/expected.secret" ||
	bad "the image does not open with keyd's secret (independent HKDF)"
run_agent "$T/good.conf" --test-passphrase "$T/disk.img"
expect_rc 0 "released secret opens the keyslot of a real LUKS2 image" \
	"keyslot [0-9]+ opens with the derived passphrase"
grep -q "test hook TDX_UNLOCK_TEST_TSM_REPORT_DIR" "$T/agent.log" ||
	bad "the emulated configfs-tsm was not logged loudly"
uuid=$(cryptsetup luksUUID "$T/disk.img")
expect_events "the release is measured" "tdx-unlock released $uuid"
grep -Eq "secret|passphrase" "$T/agent.out" && bad "agent wrote something secret-looking to stdout"
# One info line says where the time went (docs/agent.md); -v adds one debug line per phase.
grep -qE "timing: all unlocked after [0-9]+ ms \(ms per phase: network [0-9]+, headers [0-9]+, quote [0-9]+, auth [0-9]+, attest [0-9]+, resource [0-9]+, jwe [0-9]+, activation [0-9]+, wipe\+exit [0-9]+\)" \
	"$T/agent.log" || bad "no phase timing summary at info level"
run_agent "$T/good.conf" --test-passphrase -v "$T/disk.img"
for p in headers quote auth attest resource jwe activation wipe+exit; do
	grep -q "timing: $p [0-9.]* [mu]s" "$T/agent.log" || bad "no debug timing line for phase $p"
done

# quote_defaults.json is optional in the simulator directory: its absence is silent, a
# malformed one is an error.
cp -r "$T/sim" "$T/sim-nodefaults"
rm -f "$T/sim-nodefaults/quote_defaults.json"
ZERO96=$(printf '0%.0s' $(seq 96))
TSM_SIM_ARGS="--rtmr3 $ZERO96" SIM_DIR=$T/sim-nodefaults run_agent "$T/good.conf" --test-passphrase "$T/disk.img"
expect_rc 0 "simulator without the optional quote_defaults.json"
grep -q "quote_defaults" "$T/agent.log" "$T/tsm-sim.log" &&
	bad "an absent optional quote_defaults.json was logged"
echo '{' >"$T/sim-nodefaults/quote_defaults.json"
SIM_DIR=$T/sim-nodefaults run_agent "$T/good.conf" --test-passphrase "$T/disk.img"
expect_rc 1 "a quote simulator failure is no quote (empty outblob)" "outblob is empty"
grep -q "quote_defaults.json: not a JSON object" "$T/tsm-sim.log" ||
	bad "tdx-tsm-sim did not say why it made no quote"

echo "== agent: activation"
# Real activation needs device-mapper (and a loop device for an image file): where the kernel has
# it, the mapping appears under the name systemd/cryptroot expect; where not, the failure is the
# documented "activation failed" after the secret was released.
name="luks-$uuid"
if dmsetup version >/dev/null 2>&1; then
	run_agent "$T/good.conf" "$T/disk.img"
	expect_rc 0 "activated as /dev/mapper/$name" "unlocked as /dev/mapper/$name"
	[ -b "/dev/mapper/$name" ] || bad "/dev/mapper/$name does not exist"
	run_agent "$T/good.conf" "$T/disk.img"
	expect_rc 0 "an already active device is left alone" "already active"
	cryptsetup close "$name" || bad "cannot close $name"
else
	run_agent "$T/good.conf" "$T/disk.img"
	expect_rc 7 "no device-mapper in this kernel: activation failed" "activation as $name failed"
	echo "note: device-mapper unavailable here; activation proper is tested in tests/qemu"
fi

echo "== agent: a mapping of that name that is not ours"
# A host disk's LVM volume (or any device-mapper device) named like the volume must not pass as
# "already unlocked": that would skip the release and RTMR3 and make the host's volume the root.
# The kernel's view comes from a fake /sys/class/block (TDX_UNLOCK_TEST_SYS_BLOCK).
mkdir -p "$T/sysblk/dm-0/dm"
echo "$name" >"$T/sysblk/dm-0/dm/name"
echo "LVM-hostvgUUIDhostlvUUID" >"$T/sysblk/dm-0/dm/uuid"
export TDX_UNLOCK_TEST_SYS_BLOCK="$T/sysblk"
run_agent "$T/good.conf" "$T/disk.img"
expect_rc 7 "a foreign mapping named $name is not counted as unlocked" "not this volume's mapping"
expect_events "the foreign mapping is measured as an error, nothing released" \
	"tdx-unlock error activation-failed"
grep -q "asking for its passphrase\|Please enter passphrase" "$T/agent.log" &&
	bad "the agent prompted for a volume whose name another mapping holds"
# This header's own crypt mapping (an earlier run) still counts, with no release.
echo "CRYPT-LUKS2-$(echo "$uuid" | tr -d -)-$name" >"$T/sysblk/dm-0/dm/uuid"
run_agent "$T/good.conf" "$T/disk.img"
expect_rc 0 "this header's own crypt mapping is left alone" "already active as /dev/mapper/$name"
sleep 0.5 # the emulation reads RTMR3 extensions asynchronously
if [ -s "$T/tsm/extensions" ] || grep -q "released" "$T/agent.log"; then
	bad "its own mapping: something was released or measured"
fi
unset TDX_UNLOCK_TEST_SYS_BLOCK

echo "== agent: mapping names (crypttab, rd.luks.name=, cryptopts=)"
# The agent names each mapping as the boot's cryptsetup will look for it. Without device-mapper
# the activation fails (exit 7) under the chosen name, which the log states either way.
expect_name() { # NAME ORIGIN DESCRIPTION
	if dmsetup version >/dev/null 2>&1; then
		expect_rc 0 "$3" "unlocked as /dev/mapper/$1"
		cryptsetup close "$1" 2>/dev/null
	else
		expect_rc 7 "$3" "activation as $1 failed"
	fi
	grep -q "mapping name $1 ($2)" "$T/agent.log" || bad "$3: log does not name $1 ($2)"
}
sed 's|"servers"|"crypttab": "'"$T"'/crypttab", "servers"|' "$T/good.conf" >"$T/names.conf"
printf '# initramfs crypttab\n\nother UUID=00000000-0000-4000-8000-000000000000 none luks\n' >"$T/crypttab"
printf 'vol_crypt %s none luks,discard\n' "$T/disk.img" >>"$T/crypttab"
run_agent "$T/names.conf" "$T/disk.img"
expect_name vol_crypt crypttab "crypttab entry by device path"
printf 'byuuid UUID=%s none luks\n' "$uuid" >"$T/crypttab"
echo "ro rd.luks.name=$uuid=fromcmdline" >"$T/cmdline"
run_agent "$T/names.conf" "$T/disk.img"
expect_name byuuid crypttab "crypttab entry by UUID= wins over rd.luks.name="
printf 'bad/name UUID=%s none luks\n' "$uuid" >"$T/crypttab"
run_agent "$T/names.conf" "$T/disk.img"
expect_name fromcmdline "rd.luks.name=" "an invalid crypttab name is refused; rd.luks.name= applies"
grep -q "volume name 'bad/name' refused" "$T/agent.log" || bad "the invalid crypttab name was not logged"
echo "ro cryptopts=target=vda_crypt,source=UUID=$uuid,luks" >"$T/cmdline"
run_agent "$T/names.conf" "$T/disk.img"
expect_name vda_crypt "cryptopts=" "cryptopts= (initramfs-tools) names the target"
echo "ro rd.luks.name=$uuid=a/b" >"$T/cmdline"
: >"$T/crypttab"
run_agent "$T/names.conf" "$T/disk.img"
expect_name "luks-$uuid" default "an invalid rd.luks.name= is ignored: luks-<UUID>"
: >"$T/cmdline"

echo "== agent: several devices, one attestation"
make_image "$T/disk2.img" "$T/expected.secret" || bad "second image"
run_agent "$T/good.conf" --test-passphrase "$T/disk.img" "$T/disk2.img"
expect_rc 0 "two devices verified" "2 device\(s\) verified"
n=$(grep -c "attested to" "$T/agent.log")
if [ "$n" -eq 1 ]; then ok "one attested session served both devices"; else bad "$n attestations for 2 devices"; fi
uuid2=$(cryptsetup luksUUID "$T/disk2.img")
expect_events "each release is measured as it happens" "tdx-unlock released $uuid" \
	"tdx-unlock released $uuid2"

echo "== agent: discovery"
make_image "$T/plain.img" || bad "plain image"
mkdir -p "$T/sysblock"
touch "$T/sysblock/disk.img" "$T/sysblock/disk2.img" "$T/sysblock/plain.img" "$T/sysblock/dm-0"
export TDX_UNLOCK_TEST_SYS_BLOCK="$T/sysblock" TDX_UNLOCK_TEST_DEV_DIR="$T"
run_agent "$T/good.conf" --test-passphrase
expect_rc 0 "discovery finds both token-carrying disks, skips the plain one" "2 device\(s\) verified"
grep -q "plain.img" "$T/agent.log" && bad "the disk without token was touched"
rm -f "$T/sysblock/disk.img" "$T/sysblock/disk2.img"
run_agent "$T/good.conf" --test-passphrase
expect_rc 3 "discovery without any token-carrying disk" "no LUKS2 device carries a tdx-unlock token"
unset TDX_UNLOCK_TEST_SYS_BLOCK TDX_UNLOCK_TEST_DEV_DIR

echo "== agent: exit codes"
head -c 32 /dev/urandom >"$T/wrong.secret"
make_image "$T/wrong.img" "$T/wrong.secret" || bad "wrong-secret image"
run_agent "$T/good.conf" --test-passphrase "$T/wrong.img"
expect_rc 7 "a released secret that does not open the keyslot: activation failed" \
	"does not open keyslot"

run_agent "$T/good.conf" --test-passphrase "$T/plain.img"
expect_rc 3 "image without token" "no tdx-unlock token"

# A second tdx-unlock token: the header is refused before anything is asked of a server.
cp "$T/disk.img" "$T/twotokens.img"
{ cryptsetup token export --token-id 0 "$T/twotokens.img" >"$T/token.json" &&
	cryptsetup token import --json-file "$T/token.json" "$T/twotokens.img"; } ||
	bad "cannot add a second token"
run_agent "$T/good.conf" --test-passphrase "$T/twotokens.img"
expect_rc 6 "header with two tdx-unlock tokens" "header refused"
grep -q "attested" "$T/agent.log" && bad "attested although the header was refused"

# Disk swap: a token that names a server of its own is refused before any network use; trust
# anchors come only from the measured configuration.
cp "$T/disk.img" "$T/swap.img"
{ cryptsetup token export --token-id 0 "$T/swap.img" | python3 -c 'import json,sys; t=json.load(sys.stdin); t["url"]="https://attacker.example"; print(json.dumps(t))' >"$T/swap-token.json" &&
	cryptsetup token remove --token-id 0 "$T/swap.img" &&
	cryptsetup token import --json-file "$T/swap-token.json" "$T/swap.img"; } ||
	bad "cannot craft the swapped disk's token"
run_agent "$T/good.conf" --test-passphrase "$T/swap.img"
expect_rc 6 "token naming its own server (disk swap)" "header refused.*url"
grep -q "attested" "$T/agent.log" && bad "attested for a token that names a server"

# The disk may only choose among resources; one that no policy covers is refused by keyd.
make_image "$T/other.img" "$T/expected.secret" default/disk/other || bad "other image"
run_agent "$T/good.conf" --test-passphrase "$T/other.img"
expect_rc 5 "resource outside every policy" "did not release default/disk/other"

echo "rd.tdx_unlock=0" >"$T/cmdline"
run_agent "$T/good.conf" --test-passphrase "$T/disk.img"
expect_rc 8 "rd.tdx_unlock=0 disables the agent" "disabled"
run_agent "$T/nonexistent.conf" --test-passphrase "$T/disk.img"
expect_rc 8 "rd.tdx_unlock=0 wins over a missing configuration" "disabled"
echo "ro rd.tdx_unlock.attempts=0" >"$T/cmdline"
run_agent "$T/good.conf" --test-passphrase "$T/disk.img"
expect_rc 2 "bad rd.tdx_unlock value" "outside"
: >"$T/cmdline"
run_agent "$T/nonexistent.conf" --test-passphrase "$T/disk.img"
expect_rc 2 "missing configuration"

# configfs-tsm where there is no TDX provider (this host): one failed quote ends the run.
mkdir -p "$T/faketsm"
tsm_sim_boot
export TDX_UNLOCK_TEST_TSM_REPORT_DIR="$T/faketsm"
SAME_BOOT=1 run_agent "$T/good.conf" --test-passphrase "$T/disk.img"
expect_rc 1 "configfs-tsm without a TDX provider: no quote, no retries" "no quote from configfs-tsm"
[ "$(grep -c "no quote from" "$T/agent.log")" -eq 1 ] || bad "quote source retried although broken"
[ -z "$(ls -A "$T/faketsm")" ] || bad "configfs-tsm entry left behind"

echo "== agent: RTMR3 outcome events (one release per boot, nothing unmeasured before a prompt)"
run_agent "$T/good.conf" --test-passphrase "$T/plain.img"
expect_rc 3 "no token" "no tdx-unlock token"
expect_events "no token" "tdx-unlock no-token none"
run_agent "$T/good.conf" --test-passphrase "$T/twotokens.img"
expect_rc 6 "refused header" "header refused"
expect_events "refused header" "tdx-unlock error header-invalid"
run_agent "$T/nonexistent.conf" --test-passphrase "$T/disk.img"
expect_rc 2 "no configuration" "no usable configuration"
expect_events "no configuration" "tdx-unlock error configuration"

# After a release, the same boot gets nothing more: RTMR3 left its pre-unlock value.
run_agent "$T/good.conf" --test-passphrase "$T/disk.img"
expect_rc 0 "first release of the boot"
SAME_BOOT=1 run_agent "$T/good.conf" --test-passphrase "$T/disk.img"
expect_rc 5 "a second release in the same boot is refused" "did not release.*RTMR3 mismatch"
expect_events "second release refused" "tdx-unlock released $uuid" "tdx-unlock error refused"
tail -1 "$T/audit.log" | grep -qv '"released' || bad "keyd's last audit line is a release"

# Recovery mode: measured, and no release is tried.
echo "ro rd.tdx_unlock.recovery=1" >"$T/cmdline"
run_agent "$T/good.conf" --test-passphrase "$T/disk.img"
expect_rc 9 "rd.tdx_unlock.recovery=1: no release tried" "recovery mode"
expect_events "recovery mode" "tdx-unlock recovery cmdline"
grep -q "attested" "$T/agent.log" && bad "recovery mode attested"
: >"$T/cmdline"

# A kernel without the RTMR3 attribute: no release and no prompt unless the configuration says so.
tsm_sim_boot
export TDX_UNLOCK_TEST_RTMR_PATH="$T/no-such-rtmr3"
SAME_BOOT=1 run_agent "$T/good.conf" --test-passphrase "$T/disk.img"
expect_rc 10 "no RTMR3 attribute: refused, the unit powers off" "offers no RTMR3"
grep -q "attested" "$T/agent.log" && bad "attested without a way to measure the release"
SAME_BOOT=1 run_agent "$T/good.conf" --test-passphrase "$T/plain.img"
expect_rc 10 "no RTMR3 attribute, no token: still no prompt" "offers no RTMR3"
sed 's|"servers"|"allow_missing_rtmr": true, "servers"|' "$T/good.conf" >"$T/norTMR.conf"
SAME_BOOT=1 run_agent "$T/norTMR.conf" --test-passphrase "$T/disk.img"
expect_rc 0 "no RTMR3 attribute, acknowledged by allow_missing_rtmr" "accepted by allow_missing_rtmr"
SAME_BOOT=1 run_agent "$T/norTMR.conf" --test-passphrase "$T/plain.img"
expect_rc 3 "no RTMR3, acknowledged: no token falls back to the prompt" "not measured"
[ -e "$T/tsm/rtmr3.log" ] && bad "an event log was written without RTMR3"

echo "== agent: the passphrase path (the agent is the only opener)"
# A stand-in for systemd-ask-password (test hook TDX_UNLOCK_TEST_ASK_PASSWORD), reached the same
# way (argv, its stdout on a pipe): answers with line N of $ASK/answers on its Nth call ("<cancel>":
# gives up, "<hang>": never answers), keeps its argv and the event log as it was when asked, and
# runs $ASK/hook first when present (a host changing the disk while the human types).
ASK=$T/ask
mkdir -p "$ASK"
cat >"$ASK/ask-password" <<'EOF_ASK'
#!/bin/sh
d=$(dirname "$0")
n=$(($(cat "$d/count" 2>/dev/null || echo 0) + 1))
echo "$n" >"$d/count"
printf '%s\n' "$*" >>"$d/argv"
cp "$TDX_UNLOCK_TEST_AAEL" "$d/events-at-ask-$n" 2>/dev/null || : >"$d/events-at-ask-$n"
[ -f "$d/hook" ] && sh "$d/hook"
answer=$(sed -n "${n}p" "$d/answers")
case $answer in
"<cancel>") exit 1 ;;
"<hang>") exec sleep 60 ;;
esac
printf '%s\n' "$answer"
EOF_ASK
chmod 0755 "$ASK/ask-password"
# ask_reset ANSWER...: the answers for the next run; the call count back to zero.
ask_reset() {
	rm -f "$ASK"/count "$ASK"/argv "$ASK"/events-at-ask-* "$ASK"/hook
	printf '%s\n' "$@" >"$ASK/answers"
}
asked() { cat "$ASK/count" 2>/dev/null || echo 0; }
export TDX_UNLOCK_TEST_ASK_PASSWORD="$ASK/ask-password"
RECOVERY=$(cat "$T/recovery.key")

# keyd unreachable: the outcome is recorded, then the agent asks and opens from its copy.
ask_reset "$RECOVERY"
run_agent "$T/dead.conf" --test-passphrase --ask-passphrase "$T/disk.img"
expect_rc 4 "server down: the agent asks for the passphrase itself, it opens the validated copy" \
	"the passphrase opens keyslot 0 of the validated header copy"
expect_events "server down, then the passphrase" "tdx-unlock error unreachable" "tdx-unlock fallback $uuid"
if grep -qx "tdx-unlock fallback $uuid" "$ASK/events-at-ask-1" 2>/dev/null &&
	grep -qx "tdx-unlock error unreachable" "$ASK/events-at-ask-1"; then
	ok "no prompt before the event: RTMR3's log held error + fallback when the passphrase was asked"
else
	bad "the passphrase was asked before the outcome was recorded"
fi
grep -q -- "--timeout=[0-9]* --id=tdx-unlock:$uuid --icon=drive-harddisk Please enter passphrase for disk $uuid ($T/disk.img):" \
	"$ASK/argv" || bad "systemd-ask-password's arguments: $(cat "$ASK/argv")"
grep -q "$RECOVERY" "$ASK/argv" "$T/agent.log" "$T/agent.out" && bad "the passphrase reached argv or a log"

ask_reset "wrong one" "$RECOVERY"
run_agent "$T/dead.conf" --test-passphrase --ask-passphrase "$T/disk.img"
expect_rc 4 "a wrong passphrase, then the right one" "opens no keyslot"
[ "$(asked)" = 2 ] || bad "asked $(asked) times, expected 2"

ask_reset "wrong 1" "wrong 2" "wrong 3" "$RECOVERY"
run_agent "$T/dead.conf" --test-passphrase --ask-passphrase "$T/disk.img"
expect_rc 11 "three wrong passphrases: not opened, the boot powers off" "no keyslot opened in the allowed tries"
if [ "$(asked)" = 3 ]; then ok "bounded tries: asked exactly 3 times"; else bad "asked $(asked) times, expected 3"; fi

ask_reset "<cancel>" "$RECOVERY"
run_agent "$T/dead.conf" --test-passphrase --ask-passphrase "$T/disk.img"
expect_rc 11 "the prompt cancelled: not opened, no second prompt" "gave no passphrase"
[ "$(asked)" = 1 ] || bad "asked $(asked) times after a cancel"

sed 's|"servers"|"passphrase_timeout_s": 10, "servers"|' "$T/dead.conf" >"$T/prompt10.conf"
ask_reset "<hang>"
run_agent "$T/prompt10.conf" --test-passphrase --ask-passphrase "$T/disk.img"
expect_rc 11 "a prompt nobody answers: bounded by passphrase_timeout_s" "no answer in time"
[ "$MS" -lt $((16000 * TF)) ] || bad "a 10 s prompt budget took $MS ms"

# The host changes the disk while the human types: a rewritten header (cipher_null segment and a
# malformed digest: any passphrase "opens" it for a reader of the new bytes), then the path
# renamed to another file. The agent opens only the copy it validated, on the file it opened.
cp "$T/disk.img" "$T/flip-good.img"
cp "$T/disk.img" "$T/flip-bad.img"
python3 "$(dirname "$0")/../luks/luks2_edit.py" mutate "$T/flip-bad.img" cipher-null-segment \
	digest-hash-mismatch >/dev/null 2>&1 || bad "cannot make the flipped header"
if cryptsetup open --test-passphrase --key-file - "$T/flip-bad.img" <<EOF_PASS >/dev/null 2>&1; then
not the passphrase
EOF_PASS
	ok "(libcryptsetup here opens the flipped header with a wrong passphrase: the attack is real)"
fi
cp "$T/flip-good.img" "$T/flip.img"
ask_reset "not the passphrase" "not the passphrase" "not the passphrase"
echo "cat '$T/flip-bad.img' >'$T/flip.img'" >"$ASK/hook"
run_agent "$T/dead.conf" --test-passphrase --ask-passphrase "$T/flip.img"
expect_rc 11 "header rewritten after validation: a wrong passphrase still opens nothing" "opens no keyslot"
cmp -s "$T/flip.img" "$T/flip-bad.img" || bad "the hook did not rewrite the image"
cp "$T/flip-good.img" "$T/flip.img"
ask_reset "$RECOVERY"
echo "cat '$T/flip-bad.img' >'$T/flip.img'" >"$ASK/hook"
run_agent "$T/dead.conf" --test-passphrase --ask-passphrase "$T/flip.img"
expect_rc 4 "header rewritten after validation: the right passphrase opens the validated copy" \
	"opens keyslot 0 of the validated header copy"
cp "$T/flip-good.img" "$T/flip.img"
ask_reset "not the passphrase" "not the passphrase" "not the passphrase"
echo "cp '$T/flip-bad.img' '$T/flip.new' && mv '$T/flip.new' '$T/flip.img'" >"$ASK/hook"
run_agent "$T/dead.conf" --test-passphrase --ask-passphrase "$T/flip.img"
expect_rc 11 "path swapped to another file after validation: still the pinned one" "opens no keyslot"
rm -f "$T/flip.img" "$T/flip-good.img" "$T/flip-bad.img"

# The console (initramfs-tools): a pseudo-terminal stands for /dev/console.
tsm_sim_boot
python3 - "$AGENT" "$T/dead.conf" "$T/disk.img" "$RECOVERY" "$T/agent.log" >"$T/console.out" 2>&1 <<'EOF_PY'
import os, select, subprocess, sys, termios, time
agent, conf, img, secret, log = sys.argv[1:6]
master, slave = os.openpty()
env = dict(os.environ, TDX_UNLOCK_TEST_CONSOLE=os.ttyname(slave))
env.pop("TDX_UNLOCK_TEST_ASK_PASSWORD", None)
p = subprocess.Popen([agent, "unlock", "--config", conf, "--log-target", "stderr",
                      "--test-passphrase", "--ask-passphrase", img], env=env,
                     stdout=subprocess.DEVNULL, stderr=open(log, "w"))
seen, echo_off, deadline = b"", None, time.monotonic() + 60
while time.monotonic() < deadline and b"Please enter passphrase" not in seen:
    if select.select([master], [], [], 0.2)[0]:
        seen += os.read(master, 4096)
    if p.poll() is not None:
        break
if b"Please enter passphrase" in seen:
    time.sleep(0.2)
    echo_off = not (termios.tcgetattr(slave)[3] & termios.ECHO)
    os.write(master, secret.encode() + b"\r")
rc = p.wait(timeout=60)
while select.select([master], [], [], 0.5)[0]:
    seen += os.read(master, 4096)
print("rc=%d echo_off=%s prompt=%s echoed=%s" % (rc, echo_off, b"Please enter passphrase" in seen,
                                                 secret.encode() in seen))
EOF_PY
if grep -q "rc=4 echo_off=True prompt=True echoed=False" "$T/console.out"; then
	ok "console: prompt with echo off, the passphrase read and never echoed, the copy opened"
else
	bad "console prompt: $(cat "$T/console.out")"
fi

# Recovery mode: "recovery" recorded, no release tried, and the agent still opens its devices.
echo "ro rd.tdx_unlock.recovery=1" >"$T/cmdline"
ask_reset "$RECOVERY"
run_agent "$T/good.conf" --test-passphrase --ask-passphrase "$T/disk.img"
expect_rc 9 "recovery mode: the agent asks and opens its validated copy" "opens keyslot 0"
expect_events "recovery mode with the passphrase" "tdx-unlock recovery cmdline" "tdx-unlock fallback $uuid"
grep -q "attested" "$T/agent.log" && bad "recovery mode attested"
tsm_sim_boot
export TDX_UNLOCK_TEST_RTMR_PATH="$T/no-such-rtmr3"
ask_reset "$RECOVERY"
SAME_BOOT=1 run_agent "$T/good.conf" --test-passphrase --ask-passphrase "$T/disk.img"
expect_rc 9 "recovery mode without RTMR3: the measured command line says recovery, the prompt may come" \
	"opens keyslot 0"
: >"$T/cmdline"
tsm_sim_boot
export TDX_UNLOCK_TEST_RTMR_PATH="$T/no-such-rtmr3"
ask_reset "$RECOVERY"
SAME_BOOT=1 run_agent "$T/dead.conf" --test-passphrase --ask-passphrase "$T/disk.img"
expect_rc 10 "no RTMR3 (not acknowledged): no prompt at all" "offers no RTMR3"
[ "$(asked)" = 0 ] || bad "asked for a passphrase without a recorded outcome"

echo "== agent: guard (before anything else may open a volume)"
# run_guard ARGS...: `tdx-unlock guard` in a fresh emulated boot (unless SAME_BOOT=1); sets RC.
run_guard() {
	[ "${SAME_BOOT:-0}" = 1 ] || tsm_sim_boot || bad "tdx-tsm-sim"
	MS=0
	TDX_UNLOCK_TEST_CMDLINE=$(cat "$T/cmdline") "$AGENT" guard --config "$T/names.conf" "$@" \
		>"$T/agent.out" 2>"$T/agent.log"
	RC=$?
}
# expect_guard_quiet WHAT: the guard neither asked for a passphrase nor recorded a fallback.
expect_guard_quiet() {
	[ "$(asked)" = 0 ] || bad "guard: asked for a passphrase over $1"
	[ -s "$T/tsm/rtmr3.log" ] && bad "guard: $1 recorded a fallback"
}
# expect_guard_opened NAME DESCRIPTION: the guard asked (after the fallback event) and activated
# NAME from its validated copy; without device-mapper that activation is the documented exit 11.
expect_guard_opened() {
	if dmsetup version >/dev/null 2>&1; then
		expect_rc 0 "$2" "unlocked as /dev/mapper/$1 with the passphrase"
		cryptsetup close "$1" 2>/dev/null
	else
		expect_rc 11 "$2 (no device-mapper here: the activation itself fails)" "activation as $1 failed"
	fi
	grep -q "tdx-unlock fallback" "$ASK/events-at-ask-1" 2>/dev/null ||
		bad "$2: the guard asked before the fallback event"
}
cp "$T/disk.img" "$T/hostile.img"
python3 "$(dirname "$0")/../luks/luks2_edit.py" mutate "$T/hostile.img" cipher-null-segment \
	>/dev/null 2>&1 || bad "cannot make the hostile header"
printf 'vol_crypt %s none luks\nevil_crypt %s none luks\n' "$T/disk.img" "$T/hostile.img" >"$T/crypttab"
ask_reset "$RECOVERY"
run_guard vol_crypt
expect_guard_opened vol_crypt "guard: a valid header, the guard itself asks and opens"
expect_events "guard: the fallback is measured before the prompt" "tdx-unlock fallback $uuid"
ask_reset "$RECOVERY"
run_guard evil_crypt
expect_rc 20 "guard: a cipher_null header is refused (power off)" "refusing evil_crypt"
expect_guard_quiet "a refused volume"
run_guard nobody_crypt
expect_rc 20 "guard: a name nothing maps to is refused" "cannot tell which device"
# A device-mapper device named like the volume that is no LUKS2 crypt mapping (a host disk's LVM
# volume, activated before the guard): refused, not passed as "active" (sysfs faked).
mkdir -p "$T/guard-sys/dm-0/dm"
echo vol_crypt >"$T/guard-sys/dm-0/dm/name"
echo "LVM-hostvgXXXXhostlvYYYY" >"$T/guard-sys/dm-0/dm/uuid"
ask_reset "$RECOVERY"
export TDX_UNLOCK_TEST_SYS_BLOCK="$T/guard-sys"
run_guard vol_crypt
expect_rc 20 "guard: an LVM volume named like the crypttab entry is refused, not taken as open" \
	"no LUKS2 crypt mapping of that name"
expect_guard_quiet "a foreign mapping"
# This header's own crypt mapping (the agent opened it) counts: nothing asked, nothing measured.
echo "CRYPT-LUKS2-$(echo "$uuid" | tr -d -)-vol_crypt" >"$T/guard-sys/dm-0/dm/uuid"
ask_reset "$RECOVERY"
run_guard vol_crypt
expect_rc 0 "guard: this header's own crypt mapping counts as unlocked" \
	"vol_crypt is already active as the mapping of $T/disk.img \($uuid\)"
expect_guard_quiet "the volume's own mapping"
# Another header's LUKS2 crypt mapping named like the volume, with the agent disabled by the
# measured command line: not "already unlocked" (that would skip the allow-list, the fallback
# event and the prompt for whatever it maps), refused.
echo "ro rd.tdx_unlock=0" >"$T/cmdline"
echo "CRYPT-LUKS2-$(tr -d - </proc/sys/kernel/random/uuid)-vol_crypt" >"$T/guard-sys/dm-0/dm/uuid"
ask_reset "$RECOVERY"
run_guard vol_crypt
expect_rc 20 "guard (agent disabled): another header's crypt mapping named vol_crypt is refused" \
	"refusing vol_crypt: /dev/mapper/vol_crypt is active but is not the crypt mapping of $T/disk.img"
expect_guard_quiet "another header's mapping"
: >"$T/cmdline"
unset TDX_UNLOCK_TEST_SYS_BLOCK
run_guard --device "$T/hostile.img" vol_crypt
expect_rc 20 "guard: the unit's own device is checked too" "refusing vol_crypt"
ask_reset "$RECOVERY"
run_guard --all
expect_rc 20 "guard --all: one hostile volume stops the boot" "refusing evil_crypt"
if [ "$(asked)" = 0 ]; then
	ok "guard --all: every volume checked before the first prompt"
else
	bad "guard --all asked for vol_crypt before checking evil_crypt"
fi
ask_reset "$RECOVERY"
run_guard --device "$T/disk.img" "luks-$uuid"
expect_guard_opened "luks-$uuid" "guard: luks-<UUID> with the unit's device"
echo "ro rd.luks.name=$uuid=named_crypt" >"$T/cmdline"
ask_reset "$RECOVERY"
run_guard --device "$T/disk.img" named_crypt
expect_guard_opened named_crypt "guard: rd.luks.name= names the unit's device"
run_guard --device "$T/hostile.img" named_crypt
expect_rc 20 "guard: rd.luks.name= with another device in the unit" "refusing named_crypt"
: >"$T/cmdline"
ask_reset "<cancel>"
run_guard vol_crypt
expect_rc 11 "guard: nobody gives the passphrase: not opened, power off" "not opened with a passphrase"
tsm_sim_boot
export TDX_UNLOCK_TEST_RTMR_PATH="$T/no-such-rtmr3"
ask_reset "$RECOVERY"
SAME_BOOT=1 run_guard vol_crypt
expect_rc 10 "guard: no RTMR3 to record the fallback: no prompt" "cannot record|offers no"
[ "$(asked)" = 0 ] || bad "guard: asked without a recorded fallback"
: >"$T/crypttab"
unset TDX_UNLOCK_TEST_ASK_PASSWORD

echo "== agent: servers"
run_agent "$T/dead.conf" --test-passphrase "$T/disk.img"
expect_rc 4 "server down" "not unlocked \(servers unreachable\)"
[ "$MS" -lt $((5000 * TF)) ] || bad "server down took $MS ms (3 rounds, 500 ms connect timeouts)"

# The total budget bounds the run whatever the retry count says.
AGENT_TOTAL_S=2 AGENT_ATTEMPTS=100 write_agent_conf "$T/budget.conf" "$DEAD" "$PIN"
run_agent "$T/budget.conf" --test-passphrase "$T/disk.img"
expect_rc 4 "100 attempts within a 2 s budget" "time budget"
[ "$MS" -lt $((3500 * TF)) ] || bad "2 s budget took $MS ms"

write_agent_conf "$T/failover.conf" "$DEAD" "$PIN" "$URL" "$PIN"
run_agent "$T/failover.conf" --test-passphrase "$T/disk.img"
expect_rc 0 "failover from a dead server to a live one" "trying the next server"
[ "$MS" -lt $((3000 * TF)) ] || bad "failover took $MS ms"

# A server that accepts connections but never answers (hung, or a black hole behind a proxy)
# costs one connect timeout (TCP + TLS handshake), then the next server is tried.
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
print(s.getsockname()[1], flush=True)
time.sleep(60)' >"$T/hung.port" &
HUNG_PID=$!
i=0
while [ ! -s "$T/hung.port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
write_agent_conf "$T/hung.conf" "https://127.0.0.1:$(cat "$T/hung.port")" "$PIN" "$URL" "$PIN"
run_agent "$T/hung.conf" --test-passphrase "$T/disk.img"
kill "$HUNG_PID" 2>/dev/null
wait "$HUNG_PID" 2>/dev/null
expect_rc 0 "failover from a server that never answers" "unreachable, trying the next server"
[ "$MS" -lt $((3000 * TF)) ] || bad "failover from a hung server took $MS ms (500 ms connect timeout)"

# The agent starts the moment a route to a server exists: in a network namespace whose loopback
# comes up 1 s late it waits that long (not its whole budget); with no route ever it gives up
# within its budget as "servers unreachable".
if unshare -n true 2>/dev/null; then
	TDX_UNLOCK_TEST_CMDLINE=$(cat "$T/cmdline") unshare -n sh -c "\"$AGENT\" unlock \
		--config \"$T/dead.conf\" --log-target stderr --test-passphrase \"$T/disk.img\" \
		2>\"$T/agent.log\" & sleep 1; ip link set lo up; wait \$!"
	RC=$?
	MS=$(sed -n 's/.*network: route to .* after \([0-9]*\) ms/\1/p' "$T/agent.log")
	if [ "$RC" = 4 ] && grep -q "waiting up to" "$T/agent.log" && [ -n "$MS" ] &&
		[ "$MS" -ge 800 ] && [ "$MS" -lt $((5000 * TF)) ]; then
		ok "route wait: started ${MS} ms after the route appeared (exit 4: nothing listens there)"
	else
		bad "route wait: exit $RC, route after '${MS}' ms"
	fi
	AGENT_TOTAL_S=2 write_agent_conf "$T/noroute.conf" "$DEAD" "$PIN"
	TDX_UNLOCK_TEST_CMDLINE=$(cat "$T/cmdline") unshare -n "$AGENT" unlock \
		--config "$T/noroute.conf" --log-target stderr --test-passphrase "$T/disk.img" \
		2>"$T/agent.log"
	RC=$?
	MS=0
	expect_rc 4 "no route at all: bounded by the time budget" "no route to any server after"
else
	echo "  skipped: route wait (unshare -n needs CAP_SYS_ADMIN)"
fi

# Kernel command line replaces the file's servers.
echo "quiet rd.tdx_unlock.server=$URL rd.tdx_unlock.pin=$PIN" >"$T/cmdline"
run_agent "$T/dead.conf" --test-passphrase "$T/disk.img"
expect_rc 0 "rd.tdx_unlock.server/pin override the file"
: >"$T/cmdline"

write_agent_conf "$T/wrongpin.conf" "$URL" "$OTHER_PIN"
run_agent "$T/wrongpin.conf" --test-passphrase "$T/disk.img"
expect_rc 5 "server key does not match the pin: refused" "pin|key"
grep -q "attested" "$T/agent.log" && bad "attested to a server with the wrong key"

# Policy mismatch: keyd's policy now wants another MRTD; the agent logs keyd's reason.
cp "$T/policies/test-image.json" "$T/policy.good"
sed 's/"mrtd": "1111/"mrtd": "9999/' "$T/policy.good" >"$T/policies/test-image.json"
kill -HUP "$KEYD_PID"
sleep 0.5
run_agent "$T/good.conf" --test-passphrase "$T/disk.img"
expect_rc 5 "policy mismatch: refused with the server's reason" "mrtd"
cp "$T/policy.good" "$T/policies/test-image.json"
kill -HUP "$KEYD_PID"
sleep 0.5
run_agent "$T/good.conf" --test-passphrase "$T/disk.img"
expect_rc 0 "released again after the policy is restored"

# A keyd that does not trust the simulator's root (only Intel's) refuses its quotes.
keyd_stop
sed '/test_root_ca/d' "$T/keyd.json" >"$T/keyd-intel.json"
cp "$T/keyd.json" "$T/keyd-test.json"
cp "$T/keyd-intel.json" "$T/keyd.json"
keyd_start || bad "keyd with Intel's root"
write_agent_conf "$T/intel.conf" "$URL" "$PIN"
run_agent "$T/intel.conf" --test-passphrase "$T/disk.img"
expect_rc 5 "simulator quotes refused by a keyd trusting only Intel's root"
keyd_stop
cp "$T/keyd-test.json" "$T/keyd.json"

if [ $fail -ne 0 ]; then
	echo "agent integration: FAILED"
	exit 1
fi
echo "agent integration: all passed"
