#!/bin/bash
# Event logs and image reference values end to end (make check-eventlog):
#  - tdx-keyd image-measure against the independent Python implementation (image_measure.py) on
#    synthetic PE images and, when the QEMU tests' Debian guest kernel is cached, on that signed
#    kernel (whose own Authenticode signature also confirms the Python algorithm);
#  - a simulated direct boot: a CCEL built by the Python side from those digests, a simulator
#    quote with the RTMRs it yields: verify-quote --eventlog replays it, one changed digest byte
#    is a mismatch, truncated/garbage logs are refused; policy-from-quote --eventlog names the
#    kernel/cmdline/initrd events with exactly image-measure's digests;
#  - the real Google COS quote and CCEL ($TDX_TESTDATA/ccel, skipped when absent).
set -u
KEYD=${KEYD:-build/tdx-keyd}
QUOTEGEN=${QUOTEGEN:-build/tdx-quotegen}
PY="python3 tests/integration/image_measure.py"
T=$(mktemp -d /tmp/eventlog-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }

echo "== image-measure vs the Python implementation"
head -c 300000 /dev/urandom >"$T/initrd"
cmdline="console=ttyS0 root=/dev/vda1 ro rd.tdx_unlock.server=https://10.0.2.2:8443 é"
for pe in "plain" "--cert 64" "--tail 3" "--cert 40 --tail 5"; do
	# shellcheck disable=SC2086
	$PY make-pe "$T/k.efi" $pe
	$PY measure "$T/k.efi" "$T/initrd" "$cmdline" >"$T/py.json"
	"$KEYD" image-measure --kernel "$T/k.efi" --initrd "$T/initrd" --cmdline "$cmdline" \
		>"$T/c.json" || { bad "image-measure failed on PE ($pe)"; continue; }
	if [ "$(field "$T/c.json" 'd["rtmr1"]["events"][0]["kernel"][0]')" = "$(field "$T/py.json" 'd["kernel"]')" ] &&
		[ "$(field "$T/c.json" 'd["rtmr2"]["events"][0]["cmdline"][0]')" = "$(field "$T/py.json" 'd["cmdline"]')" ] &&
		[ "$(field "$T/c.json" 'd["rtmr2"]["events"][1]["initrd"][0]')" = "$(field "$T/py.json" 'd["initrd"]')" ]; then
		ok "PE ($pe): kernel, cmdline and initrd digests equal"
	else
		bad "PE ($pe): digests differ"; cat "$T/c.json" "$T/py.json"
	fi
done
head -c 1000 "$T/k.efi" >"$T/short.efi"
"$KEYD" image-measure --kernel "$T/short.efi" --initrd "$T/initrd" --cmdline x >/dev/null 2>"$T/err"
rc=$?
if [ $rc -eq 1 ] &&
	grep -q "kernel image:" "$T/err"; then
	ok "truncated PE refused: $(head -1 "$T/err")"
else
	bad "truncated PE: exit $rc"
fi
printf 'not a kernel' >"$T/text"
"$KEYD" image-measure --kernel "$T/text" --initrd "$T/initrd" --cmdline x >/dev/null 2>&1
if [ $? -eq 1 ]; then ok "non-PE kernel refused"; else bad "non-PE kernel accepted"; fi

echo "== --qemu-patched-header: the kernel as QEMU 8.0-10.0 hands it to the firmware"
$PY make-pe "$T/bz.efi" --cert 64 --bzimage
qcmd="console=ttyS0 root=/dev/vda1 vga=ask"
# RAM sizes on both sides of q35's 2.75 GiB low-memory switch
before=$fails
for ram in 1073741824 2147483648 2952790016 8589934592; do
	$PY measure "$T/bz.efi" "$T/initrd" "$qcmd" --qemu-ram $ram >"$T/py.json"
	"$KEYD" image-measure --kernel "$T/bz.efi" --initrd "$T/initrd" --cmdline "$qcmd" \
		--qemu-patched-header $ram >"$T/c.json" || { bad "image-measure --qemu-patched-header $ram failed"; continue; }
	[ "$(field "$T/c.json" 'd["rtmr1"]["events"][0]["kernel"][0]')" = "$(field "$T/py.json" 'd["kernel"]')" ] ||
		bad "RAM $ram: C and Python patched-kernel digests differ"
done
[ $fails -eq "$before" ] && ok "synthetic bzImage, RAM 1/2/2.75/8 GiB: C and Python patched-kernel digests equal"
"$KEYD" image-measure --kernel "$T/bz.efi" --initrd "$T/initrd" --cmdline "$qcmd" --qemu-patched-header 4G >"$T/c4.json"
"$KEYD" image-measure --kernel "$T/bz.efi" --initrd "$T/initrd" --cmdline "$qcmd" >"$T/c0.json"
if [ "$(field "$T/c4.json" 'd["rtmr1"]')" != "$(field "$T/c0.json" 'd["rtmr1"]')" ] &&
	[ "$(field "$T/c4.json" 'd["rtmr2"]')" = "$(field "$T/c0.json" 'd["rtmr2"]')" ]; then
	ok "... the patched kernel's digest differs from the file's, RTMR2 (cmdline, initrd) does not"
else
	bad "--qemu-patched-header did not change the kernel digest alone"
fi
if python3 - "$T/bz.efi" "$(stat -c %s "$T/initrd")" "$qcmd" <<'PY'; then ok "... Python's model writes only the setup-header fields QEMU writes"; else bad "the model touches other bytes"; fi
import importlib.util, sys
spec = importlib.util.spec_from_file_location("im", "tests/integration/image_measure.py")
im = importlib.util.module_from_spec(spec); spec.loader.exec_module(im)
k = open(sys.argv[1], "rb").read()
p = im.qemu_patch(k, 4 << 30, int(sys.argv[2]), sys.argv[3])
changed = {i for i in range(len(k)) if k[i] != p[i]}
fields = {0x1fa, 0x1fb, 0x210, 0x211} | set(range(0x218, 0x220)) | {0x224, 0x225} | set(range(0x228, 0x22c))
sys.exit(0 if changed and changed <= fields and len(p) == len(k) else 1)
PY
"$KEYD" image-measure --kernel "$T/k.efi" --initrd "$T/initrd" --cmdline x --qemu-patched-header 4G >/dev/null 2>"$T/err"
if [ $? -eq 1 ] &&
	grep -q "no Linux boot-protocol setup header" "$T/err"; then
	ok "a PE without a setup header is refused: $(head -1 "$T/err")"
else
	bad "PE without HdrS accepted"
fi
"$KEYD" image-measure --kernel "$T/bz.efi" --initrd "$T/initrd" --cmdline "vga=bogus" --qemu-patched-header 4G >/dev/null 2>"$T/err"
if [ $? -eq 1 ] && grep -q "vga=" "$T/err"; then ok "an invalid vga= is refused (QEMU refuses it too)"; else bad "vga=bogus accepted"; fi
"$KEYD" image-measure --kernel "$T/bz.efi" --initrd "$T/initrd" --cmdline x --qemu-patched-header 4X >/dev/null 2>&1
if [ $? -eq 2 ]; then ok "a memory size that is not one is a usage error"; else bad "--qemu-patched-header 4X accepted"; fi

kernels=("${GUEST_KERNEL_CACHE:-tests/qemu/work/guest-kernel}"/*/boot/vmlinuz-*)
kernel=${kernels[0]}
[ -e "$kernel" ] || kernel=
if [ -n "$kernel" ]; then
	$PY measure "$kernel" "$T/initrd" "$qcmd" --qemu-ram 2147483648 >"$T/py.json"
	"$KEYD" image-measure --kernel "$kernel" --initrd "$T/initrd" --cmdline "$qcmd" \
		--qemu-patched-header 2G >"$T/c.json"
	if [ "$(field "$T/c.json" 'd["rtmr1"]["events"][0]["kernel"][0]')" = "$(field "$T/py.json" 'd["kernel"]')" ]; then
		ok "Debian kernel, QEMU-patched header (2 GiB): C and Python digests equal"
	else
		bad "Debian kernel: patched-header digests differ"
	fi
	# What QEMU really writes: this host's QEMU (no confidential guest, so it patches) direct-boots
	# the kernel under SeaBIOS; its option ROM copies the setup header from fw_cfg to 0x10000,
	# dumped over the monitor. Every header byte must be the model's except ramdisk_image, which
	# that option ROM rewrites from the BIOS memory map (OVMF measures fw_cfg's copy as is).
	if command -v qemu-system-x86_64 >/dev/null; then
		head -c $((4096 * 300)) /dev/urandom >"$T/initrd.q"
		timeout -k 2 40 qemu-system-x86_64 -M q35 -accel tcg -m 1G -display none -nodefaults -S \
			-monitor "unix:$T/mon,server,nowait" -kernel "$kernel" -initrd "$T/initrd.q" \
			-append "$qcmd" >/dev/null 2>&1 &
		qpid=$!
		python3 - "$T/mon" "$T/setup.bin" <<'PY'
import socket, sys, time
for _ in range(100):
    try:
        s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); break
    except OSError:
        time.sleep(0.1)
s.settimeout(2)
def cmd(c, wait=0.3):
    s.sendall((c + "\n").encode()); time.sleep(wait)
    try:
        s.recv(65536)
    except OSError:
        pass
cmd(""); cmd("cont", 3); cmd("stop")
cmd('pmemsave 0x10000 0x1000 "%s"' % sys.argv[2], 0.5); cmd("quit")
PY
		wait $qpid 2>/dev/null
		qver=$(qemu-system-x86_64 --version | head -1 | sed 's/.*version \([^ ]*\).*/\1/')
		if python3 - "$kernel" "$T/setup.bin" "$qcmd" <<'PY'; then ok "QEMU $qver's own setup-header writes (1 GiB guest) equal the model's (ramdisk_image aside: SeaBIOS rewrites it)"; else bad "QEMU $qver wrote other setup-header bytes than the model"; fi
import importlib.util, sys
spec = importlib.util.spec_from_file_location("im", "tests/integration/image_measure.py")
im = importlib.util.module_from_spec(spec); spec.loader.exec_module(im)
k = open(sys.argv[1], "rb").read()
model = im.qemu_patch(k, 1 << 30, 4096 * 300, sys.argv[3])
guest = open(sys.argv[2], "rb").read()
skip = set(range(0x218, 0x21c))
differ = [hex(i) for i in range(0x1f1, 0x268) if i not in skip and guest[i] != model[i]]
print("differing header bytes:", differ or "none", "; patched by QEMU:", [hex(i) for i in range(0x1f1, 0x268) if guest[i] != k[i]])
sys.exit(0 if guest[0x202:0x206] == b"HdrS" and not differ and guest[0x210] == 0xB0 else 1)
PY
	else
		echo "skipped: no qemu-system-x86_64 for the real setup-header check"
	fi

	$PY measure "$kernel" "$T/initrd" "$cmdline" >"$T/py.json"
	"$KEYD" image-measure --kernel "$kernel" --initrd "$T/initrd" --cmdline "$cmdline" >"$T/c.json"
	if [ "$(field "$T/c.json" 'd["rtmr1"]["events"][0]["kernel"][0]')" = "$(field "$T/py.json" 'd["kernel"]')" ]; then
		ok "Debian kernel $(basename "$kernel"): C and Python Authenticode SHA-384 equal"
	else
		bad "Debian kernel: Authenticode digests differ"
	fi
	if python3 - "$kernel" <<'PY'; then ok "... and the same algorithm with SHA-256 gives the digest in the kernel's own signature"; else bad "Authenticode SHA-256 not in the kernel's signature"; fi
import hashlib, importlib.util, struct, sys
spec = importlib.util.spec_from_file_location("im", "tests/integration/image_measure.py")
im = importlib.util.module_from_spec(spec); spec.loader.exec_module(im)
data = open(sys.argv[1], "rb").read()
hashlib.sha384, orig = hashlib.sha256, hashlib.sha384
digest = im.authenticode_sha384(data)
hashlib.sha384 = orig
lfanew = struct.unpack_from("<I", data, 0x3C)[0]
off, size = struct.unpack_from("<II", data, lfanew + 24 + 112 + 32)
sys.exit(0 if size and digest in data[off:off + size] else 1)
PY
else
	echo "skipped: no cached Debian guest kernel (tests/qemu/guest-kernel.sh) for the signed-kernel check"
fi

echo "== a simulated direct boot: CCEL from the Python digests, quote with its RTMRs"
$PY make-pe "$T/k.efi" --cert 64
$PY measure "$T/k.efi" "$T/initrd" "$cmdline" >"$T/py.json"
$PY ccel "$T/ccel" "$(field "$T/py.json" 'd["kernel"]')" "$(field "$T/py.json" 'd["cmdline"]')" \
	"$(field "$T/py.json" 'd["initrd"]')" >"$T/rtmr.json"
"$QUOTEGEN" ca --out "$T/ca" >/dev/null
"$QUOTEGEN" quote --ca "$T/ca" --out "$T/q.bin" --rtmr0 "$(field "$T/rtmr.json" 'd["rtmr0"]')" \
	--rtmr1 "$(field "$T/rtmr.json" 'd["rtmr1"]')" --rtmr2 "$(field "$T/rtmr.json" 'd["rtmr2"]')" \
	--rtmr3 "$(field "$T/rtmr.json" 'd["rtmr3"]')" 2>/dev/null || bad "tdx-quotegen quote"
"$KEYD" verify-quote --quote "$T/q.bin" --eventlog "$T/ccel" >"$T/v.json" 2>/dev/null
if [ "$(field "$T/v.json" 'd["eventlog"]["replay"]')" = ok ]; then
	ok "simulated CCEL replays to the quote's RTMRs"
else
	bad "simulated CCEL does not replay"
fi
if [ "$(field "$T/v.json" '[e["kind"] for e in d["eventlog"]["events"] if "kind" in e]')" = "['kernel', 'cmdline', 'initrd']" ]; then
	ok "verify-quote names the kernel, cmdline and initrd events"
else
	bad "event kinds not named"
fi
"$KEYD" policy-from-quote --quote "$T/q.bin" --eventlog "$T/ccel" >"$T/pol.json" 2>/dev/null
"$KEYD" image-measure --kernel "$T/k.efi" --initrd "$T/initrd" --cmdline "$cmdline" >"$T/c.json"
if python3 - "$T/pol.json" "$T/c.json" <<'PY'; then ok "policy-from-quote --eventlog RTMR1/RTMR2 events == image-measure's stanza"; else bad "image-measure stanza differs from the simulated boot's events"; fi
import json, sys
pol = json.load(open(sys.argv[1]))["measurements"][0]
img = json.load(open(sys.argv[2]))
sys.exit(0 if all(pol[r] == img[r] for r in ("rtmr1", "rtmr2")) else 1)
PY
# One digest byte changed (the kernel event's first digest byte): mismatch on RTMR1.
python3 - "$T/ccel" "$T/ccel.bad" "$(field "$T/py.json" 'd["kernel"]')" <<'PY'
import sys
log = bytearray(open(sys.argv[1], "rb").read())
i = log.find(bytes.fromhex(sys.argv[3]))
log[i] ^= 1
open(sys.argv[2], "wb").write(log)
PY
"$KEYD" verify-quote --quote "$T/q.bin" --eventlog "$T/ccel.bad" >"$T/v.json" 2>"$T/err"
rc=$?
if [ $rc -eq 1 ] &&
	[ "$(field "$T/v.json" 'd["eventlog"]["mismatch"]')" = "['rtmr1']" ]; then
	ok "one kernel digest byte changed: mismatch on rtmr1 (exit 1): $(tail -1 "$T/err")"
else
	bad "tampered CCEL: exit $rc, $(cat "$T/v.json")"
fi
for cut in 10 70 200 333; do
	head -c $cut "$T/ccel" >"$T/ccel.cut"
	"$KEYD" verify-quote --quote "$T/q.bin" --eventlog "$T/ccel.cut" >"$T/v.json" 2>/dev/null
	rc=$?
	{ [ $rc -eq 1 ] &&
		[ "$(field "$T/v.json" 'd["eventlog"]["replay"]')" != ok ]; } ||
		bad "CCEL cut at $cut bytes: exit $rc"
done
ok "CCEL cut at 10/70/200/333 bytes: refused (malformed or mismatch), no crash"
head -c 600000 /dev/zero | tr '\0' 'x' >"$T/huge"
if ! "$KEYD" verify-quote --quote "$T/q.bin" --eventlog "$T/huge" >/dev/null 2>&1; then
	ok "oversized CCEL refused"
else
	bad "oversized CCEL accepted"
fi
if "$KEYD" policy-from-quote --quote "$T/q.bin" --eventlog "$T/ccel.bad" >/dev/null 2>"$T/err"; then
	bad "policy-from-quote used a log that does not replay"
else
	ok "policy-from-quote refuses a log that does not replay: $(tail -1 "$T/err")"
fi
if grep -q "NOT verified" <("$KEYD" policy-from-quote --quote "$T/q.bin" 2>&1 >/dev/null); then
	ok "policy-from-quote without collateral says the quote was NOT verified"
else
	bad "policy-from-quote silent about verification"
fi

# An application event in RTMR3 (AAEL): replayed by verify-quote, an event in the policy.
printf 'INIT sha384/%096d\nexample.org compose sha256:ab12\n' 0 >"$T/aael"
rtmr3=$(python3 -c 'import hashlib,sys
r=bytes(48)
for l in open(sys.argv[1]).read().splitlines(): r=hashlib.sha384(r+hashlib.sha384(l.encode()).digest()).digest()
print(r.hex())' "$T/aael")
"$QUOTEGEN" quote --ca "$T/ca" --out "$T/q3.bin" --rtmr0 "$(field "$T/rtmr.json" 'd["rtmr0"]')" \
	--rtmr1 "$(field "$T/rtmr.json" 'd["rtmr1"]')" --rtmr2 "$(field "$T/rtmr.json" 'd["rtmr2"]')" \
	--rtmr3 "$rtmr3" 2>/dev/null
"$KEYD" verify-quote --quote "$T/q3.bin" --eventlog "$T/ccel" --aa-eventlog "$T/aael" >"$T/v.json" 2>/dev/null
if [ "$(field "$T/v.json" 'd["eventlog"]["replay"]')" = ok ] &&
	[ "$(field "$T/v.json" 'd["eventlog"]["events"][-1]["line"]')" = "example.org compose sha256:ab12" ]; then
	ok "CCEL + AAEL replay (RTMR3 from the AAEL's INIT through its application event)"
else
	bad "CCEL + AAEL do not replay"
fi
"$KEYD" policy-from-quote --quote "$T/q3.bin" --eventlog "$T/ccel" --aa-eventlog "$T/aael" \
	>"$T/pol3.json" 2>/dev/null
if [ "$(field "$T/pol3.json" 'd["measurements"][0]["rtmr3"]["events"][0]["content"]')" = "sha256:ab12" ]; then
	ok "policy-from-quote --aa-eventlog gives RTMR3 as its application event"
else
	bad "no RTMR3 event in the policy"
fi
"$KEYD" verify-quote --quote "$T/q.bin" --eventlog "$T/ccel" --aa-eventlog "$T/aael" >"$T/v.json" 2>/dev/null
if [ "$(field "$T/v.json" 'd["eventlog"]["mismatch"]')" = "['rtmr3']" ]; then
	ok "the same AAEL against a quote whose RTMR3 never saw it: mismatch on rtmr3"
else
	bad "AAEL not checked against RTMR3"
fi

echo "== the real Google COS TD quote and CCEL"
d=${TDX_TESTDATA:-../shared/testdata/tdx}/ccel
if [ -f "$d/ccel_data.bin" ]; then
	"$KEYD" verify-quote --quote "$d/cos-113-tdx-quote.bin" --eventlog "$d/ccel_data.bin" \
		>"$T/v.json" 2>/dev/null
	if [ "$(field "$T/v.json" 'd["eventlog"]["replay"]')" = ok ]; then
		ok "real CCEL replays ok ($(field "$T/v.json" 'len(d["eventlog"]["events"])') events)"
	else
		bad "real CCEL does not replay"
	fi
	# Its boot is shim + grub (no direct-boot kernel event), but the firmware's own RTMR1 events
	# are those image-measure lists: the boot-option action, the separator, Exit Boot Services x2.
	"$KEYD" image-measure --kernel "$T/k.efi" --initrd "$T/initrd" --cmdline x >"$T/c.json"
	if python3 - "$T/v.json" "$T/c.json" <<'PY'; then ok "real CCEL: image-measure's 4 fixed RTMR1 firmware events appear in its RTMR1, in order"; else bad "image-measure's fixed RTMR1 events are not the real firmware's"; fi
import json, sys
real = [(e["type"], e["digest"]) for e in json.load(open(sys.argv[1]))["eventlog"]["events"] if e["mr"] == "rtmr1"]
mine = [(e["type"], e["digest"][0]) for e in json.load(open(sys.argv[2]))["rtmr1"]["events"] if "type" in e]
it = iter(real)
sys.exit(0 if len(mine) == 4 and all(ev in it for ev in mine) else 1)
PY
	python3 - "$d/ccel_data.bin" "$T/real.bad" <<'PY'
import sys
log = bytearray(open(sys.argv[1], "rb").read())
log[65 + 12 + 2 + 7] ^= 0x40   # first event: a byte inside its SHA-384 digest
open(sys.argv[2], "wb").write(log)
PY
	"$KEYD" verify-quote --quote "$d/cos-113-tdx-quote.bin" --eventlog "$T/real.bad" >"$T/v.json" 2>/dev/null
	if [ "$(field "$T/v.json" 'd["eventlog"]["replay"]')" = mismatch ]; then
		ok "real CCEL with one digest byte changed: mismatch $(field "$T/v.json" 'd["eventlog"]["mismatch"]')"
	else
		bad "tampered real CCEL not a mismatch"
	fi
else
	echo "skipped: no $d (real COS quote and CCEL)"
fi

echo "== the agent sends its CCEL and AAEL; keyd replays them; an event-level policy releases"
# The agent's simulator quotes carry the RTMRs of the simulated direct boot above; keyd's policy
# is policy-from-quote --eventlog of such a quote (RTMR1/RTMR2 per event).
(
	BUILD=$(dirname "$KEYD")
	T=$T/agent
	mkdir -p "$T"
	fail=0
	. tests/integration/agent-env.sh
	trap 'keyd_stop; tsm_sim_stop' EXIT
	agent_env_setup >/dev/null 2>&1 || { echo "FAIL: agent setup"; exit 1; }
	rt() { field "$T/../rtmr.json" "d[\"$1\"]"; }
	"$QUOTEGEN" defaults --ca "$T/sim" --rtmr0 "$(rt rtmr0)" --rtmr1 "$(rt rtmr1)" \
		--rtmr2 "$(rt rtmr2)" --rtmr3 "$(rt rtmr3)" >/dev/null 2>&1 || { echo "FAIL: defaults"; exit 1; }
	"$QUOTEGEN" quote --ca "$T/sim" --out "$T/ref.quote" >/dev/null 2>&1
	"$KEYD" policy-from-quote --quote "$T/ref.quote" --eventlog "$T/../ccel" --id test-image \
		--resource "$RESOURCE" >"$T/policies/test-image.json" 2>/dev/null
	grep -q '"kernel"' "$T/policies/test-image.json" || { echo "FAIL: no event-level policy"; exit 1; }
	keyd_start >/dev/null 2>&1 || { echo "FAIL: keyd start"; exit 1; }
	write_agent_conf "$T/good.conf" "$URL" "$PIN"
	agent() { # RC-WANT DESCRIPTION GREP CCEL [AAEL]
		# a fresh emulated boot: RTMR3 at its pre-unlock value, RTMR0-2 from the defaults
		# shellcheck disable=SC2119 # the default CA directory
		tsm_sim_boot >/dev/null 2>&1 || { bad "tdx-tsm-sim"; return; }
		# Without a given AAEL the boot's runtime log starts empty, in the scratch directory (the
		# agent appends its outcome event to it; never a path outside $T).
		rm -f "$T/boot-rtmr3.log"
		TDX_UNLOCK_TEST_CCEL=$4 TDX_UNLOCK_TEST_AAEL=${5:-$T/boot-rtmr3.log} AGENT_ATTEMPTS=1 \
			"$AGENT" unlock --config "$T/good.conf" --log-target stderr --test-passphrase \
			"$T/disk.img" >/dev/null 2>"$T/agent.log"
		rc=$?
		if [ $rc -eq "$1" ] && grep -qE "$3" "$T/agent.log" "$T/audit.log"; then ok "$2 (exit $rc)"; else
			bad "$2: exit $rc"; tail -5 "$T/agent.log"; fi
	}
	agent 0 "agent sends the CCEL; keyd replays it; the event-level policy releases" \
		'released|unlocked|opens' "$T/../ccel"
	# The same boot asks again: the agent's runtime log now holds INIT and its 'released' event.
	# It replays to the quote's RTMR3 (attest passes, both logs replayed); the policy's
	# pre-unlock RTMR3 refuses the release and names what the runtime log recorded.
	TDX_UNLOCK_TEST_CCEL=$T/../ccel TDX_UNLOCK_TEST_AAEL=$T/boot-rtmr3.log "$AGENT" unlock \
		--config "$T/good.conf" --log-target stderr --test-passphrase "$T/disk.img" \
		>/dev/null 2>"$T/agent.log"
	rc=$?
	if [ $rc -ne 0 ] && grep -q '"event":"attest".*event logs replayed: CCEL AAEL' "$T/audit.log" &&
		grep -q '"event":"resource".*RTMR3 mismatch (runtime log replayed at attest: 1 event, last .tdx-unlock released ' "$T/audit.log"; then
		ok "a second release in the same boot: both logs replayed, refused (exit $rc): $(grep -o '"event":"resource".*RTMR3 mismatch[^"]*' "$T/audit.log" | sed 's/.*"reason":"//' | tail -1)"
	else
		bad "second release in the same boot: exit $rc"; tail -3 "$T/audit.log"
	fi
	agent 5 "agent sends a CCEL with one changed digest byte: refused at /attest" \
		"event log replay mismatch: RTMR1 \\(CCEL\\)" "$T/../ccel.bad"
	printf 'INIT sha384/%096d\ntdx-unlock released forged\n' 0 >"$T/aael"
	agent 5 "agent sends an AAEL the quote's RTMR3 does not reflect: refused" \
		"event log replay mismatch: RTMR3 \\(AAEL\\)" "$T/../ccel" "$T/aael"
	exit $fail
) || fails=$((fails + 1))

if [ $fails -eq 0 ]; then echo "eventlog tests: all passed"; else { echo "eventlog tests: $fails failed"; exit 1; }; fi
