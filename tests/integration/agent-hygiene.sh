#!/bin/sh
# Secret hygiene of the agent: run `tdx-unlock unlock` against keyd under gdb, stop it at exit
# (after cmd_unlock returned and every secret should be wiped), dump its memory with gcore and scan
# the dump for the disk secret (known: keyd derived it), the keyslot passphrase (recomputed here
# with an independent HKDF), the LUKS volume key (dumped with the recovery passphrase) and the
# ephemeral private key (found as the scalar d with d*G equal to the public key the agent logs at
# debug level). Zero hits are required. Controls first prove that the scanner finds each kind of
# value and that the dump is the agent's live memory.
# Usage: BUILD=build tests/integration/agent-hygiene.sh
set -u
BUILD=${BUILD:-build}
T=$(mktemp -d /tmp/agent-hygiene.XXXXXX)
. "$(dirname "$0")/agent-env.sh"
SCAN="$BUILD/core-scan"
fail=0
umask 077

trap agent_cleanup EXIT INT TERM

if ! command -v gdb >/dev/null; then
	echo "skipped: gdb not installed (deps/debian-packages.txt lists it)"
	exit 0
fi

agent_env_setup || { echo "FAIL: setup"; exit 1; }
keyd_start || exit 1
write_agent_conf "$T/agent.conf" "$URL" "$PIN"

# The keyslot passphrase, derived independently of the C code (RFC 5869 HKDF-SHA256).
independent_passphrase "$T/disk.img" "$T/expected.secret" "$T/pass" ||
	bad "cannot derive the passphrase"
SECRET=$(hex "$T/expected.secret")
PASS=$(hex "$T/pass")
VK=$(cryptsetup luksDump --dump-volume-key --batch-mode --key-file "$T/recovery.key" \
	"$T/disk.img" 2>/dev/null | sed -n '/MK dump:/,$p' | sed 's/MK dump://' | tr -d ' \t\n')
{ [ ${#SECRET} -eq 64 ] &&
	[ ${#PASS} -eq 64 ] &&
	[ ${#VK} -ge 64 ]; } ||
	bad "could not obtain secret/passphrase/volume key (${#SECRET}/${#PASS}/${#VK} hex digits)"

echo "== hygiene: scanner controls"
# A fake dump holding each value (the EC key's scalar big-endian at an odd offset) must be flagged.
openssl ecparam -name prime256v1 -genkey -noout -out "$T/ctl.pem" 2>/dev/null
python3 - "$T/ctl.pem" "$T/control.core" "$T/ctl.jwk" "$SECRET" "$PASS" <<'EOF' || bad "control dump"
import base64, json, os, subprocess, sys
pem, core, jwk_out, secret, pw = sys.argv[1:6]
der = subprocess.run(["openssl", "ec", "-in", pem, "-outform", "DER"], check=True,
                     capture_output=True).stdout
# SEC1 ECPrivateKey: 30 77 02 01 01 04 20 <d:32> ... 03 42 00 04 <x:32> <y:32>
d = der[7:39]
pub = der[der.index(b"\x03\x42\x00\x04") + 4:][:64]
b = lambda v: base64.urlsafe_b64encode(v).rstrip(b"=").decode()
open(jwk_out, "w").write(json.dumps({"kty": "EC", "crv": "P-256", "alg": "ECDH-ES+A256KW",
                                     "x": b(pub[:32]), "y": b(pub[32:])}, separators=(",", ":")))
blob = bytearray(os.urandom(65536)) + bytes(65536)
blob[1001:1033] = d
blob[20000:20032] = bytes.fromhex(secret)
blob[30000:30032] = bytes.fromhex(pw)
open(core, "wb").write(blob)
EOF
"$SCAN" "$T/control.core" --needle secret="$SECRET" --needle passphrase="$PASS" \
	--p256-jwk "ephemeral=$(cat "$T/ctl.jwk")" >"$T/control.out"
if [ $? -eq 1 ] && grep -q "^secret: [1-9]" "$T/control.out" &&
	grep -q "^passphrase: [1-9]" "$T/control.out" &&
	grep -q "^ephemeral (private scalar): [1-9]" "$T/control.out"; then
	ok "the scanner finds a planted secret, passphrase and EC private scalar"
else
	bad "scanner control: $(tr '\n' ' ' <"$T/control.out")"
fi

# run_under_gdb BREAKPOINTS CORE LOG: runs the agent, stops at the first breakpoint hit, dumps
# every mapping (also MADV_DONTDUMP ones: secmem and OpenSSL's secure heap are scanned too).
# With DUMP_DEFAULT=1 the dump honours MADV_DONTDUMP, as a kernel core dump would.
run_under_gdb() {
	tsm_sim_reboot || bad "tdx-tsm-sim reboot"
	bps=""
	for b in $1; do bps="$bps -ex 'break $b'"; done
	excluded=on
	[ -n "${DUMP_DEFAULT:-}" ] && excluded=off
	eval gdb -q -batch -nx -ex "'set pagination off'" -ex "'set confirm off'" \
		-ex "'set breakpoint pending on'" -ex "'set dump-excluded-mappings $excluded'" "$bps" \
		-ex run -ex "'info symbol \$pc'" -ex "'gcore $2'" -ex kill \
		--args "'$AGENT'" unlock --config "'$T/agent.conf'" \
		--test-passphrase -v --log-target stderr "'$T/disk.img'" >"$2.gdb" 2>"$3"
}

echo "== hygiene: control: the same dump taken while the keyslot is being opened"
# Proves the pipeline sees live secrets where they are kept (secmem, OpenSSL's secure heap), so
# that zero hits at exit mean "wiped", not "invisible to the dump".
run_under_gdb crypt_activate_by_passphrase "$T/live.core" "$T/live.log"
JWK=$(sed -n 's/.*unlock: ephemeral key \({.*}\).*/\1/p' "$T/live.log" | head -1)
if grep -q "crypt_activate_by_passphrase in section" "$T/live.core.gdb" && [ -s "$T/live.core" ] &&
	[ -n "$JWK" ]; then
	"$SCAN" "$T/live.core" --needle secret="$SECRET" --needle passphrase="$PASS" \
		--p256-jwk "ephemeral=$JWK" >"$T/live.out"
	if grep -q "^secret: [1-9]" "$T/live.out" && grep -q "^passphrase: [1-9]" "$T/live.out" &&
		grep -q "^ephemeral (private scalar): [1-9]" "$T/live.out"; then
		ok "mid-unlock dump holds the secret, passphrase and ephemeral private key"
	else
		bad "mid-unlock control did not find the live secrets: $(tr '\n' ' ' <"$T/live.out")"
	fi
else
	bad "mid-unlock control: the agent did not stop in crypt_activate_by_passphrase"
	tail -3 "$T/live.core.gdb"
fi

# The same moment dumped as the kernel would (MADV_DONTDUMP honoured): the live secrets are only
# in secmem and OpenSSL's secure heap, so even a core dump mid-unlock would not hold them.
DUMP_DEFAULT=1 run_under_gdb crypt_activate_by_passphrase "$T/live-default.core" "$T/live-default.log"
JWK=$(sed -n 's/.*unlock: ephemeral key \({.*}\).*/\1/p' "$T/live-default.log" | head -1)
if [ -s "$T/live-default.core" ] && [ -n "$JWK" ]; then
	if "$SCAN" "$T/live-default.core" --needle secret="$SECRET" --needle passphrase="$PASS" --p256-jwk "ephemeral=$JWK" >"$T/live-default.out"; then
		ok "mid-unlock, the live secrets are only in MADV_DONTDUMP memory (secmem, secure heap)"
	else
		bad "live secrets outside MADV_DONTDUMP memory: $(tr '\n' ' ' <"$T/live-default.out")"
	fi
else
	bad "mid-unlock default dump was not taken"
fi

echo "== hygiene: agent memory at exit"
run_under_gdb "exit _exit" "$T/agent.core" "$T/agent.log"
if ! grep -q "keyslot [0-9]* opens with the derived passphrase" "$T/agent.log"; then
	bad "the agent run under gdb did not reach the passphrase"
	tail -5 "$T/agent.log"
fi
grep -Eq "^_?exit in section" "$T/agent.core.gdb" ||
	bad "gdb did not stop at exit: $(tail -3 "$T/agent.core.gdb")"
[ -s "$T/agent.core" ] || bad "no core written"
JWK=$(sed -n 's/.*unlock: ephemeral key \({.*}\).*/\1/p' "$T/agent.log" | head -1)
[ -n "$JWK" ] || bad "the agent did not log its ephemeral public key"

# The dump is the agent's memory: it holds the device path and the resource name.
if [ -s "$T/agent.core" ]; then
	if grep -qa "default/disk/root" "$T/agent.core" &&
		grep -qa "$T/disk.img" "$T/agent.core"; then
		ok "dump of $(stat -c %s "$T/agent.core") bytes is the agent's live memory"
	else
		bad "the dump does not look like the agent's memory"
	fi
	"$SCAN" "$T/agent.core" --needle secret="$SECRET" --needle passphrase="$PASS" \
		--needle volume-key="$VK" --p256-jwk "ephemeral=$JWK" >"$T/scan.out"
	rc=$?
	sed 's/^/    /' "$T/scan.out"
	if [ $rc -eq 0 ]; then
		ok "zero hits for secret, passphrase, volume key and ephemeral private key"
	else
		bad "secrets found in the agent's memory at exit"
	fi
fi

echo "== hygiene: a typed passphrase (the agent's own prompt after a failed release)"
# A stand-in for systemd-ask-password answers with the recovery passphrase; the agent asks after
# the server failed (dead port), opens the validated copy with it and exits.
printf '#!/bin/sh\ncat "%s"\necho\n' "$T/recovery.key" >"$T/ask-password"
chmod 0755 "$T/ask-password"
write_agent_conf "$T/dead.conf" "https://127.0.0.1:$(dead_port)" "$PIN"
TYPED=$(hex "$T/recovery.key")
# run_prompt_under_gdb BREAKPOINTS CORE LOG: as run_under_gdb, the prompt path.
run_prompt_under_gdb() {
	tsm_sim_reboot || bad "tdx-tsm-sim reboot"
	bps=""
	for b in $1; do bps="$bps -ex 'break $b'"; done
	eval TDX_UNLOCK_TEST_ASK_PASSWORD="'$T/ask-password'" gdb -q -batch -nx \
		-ex "'set pagination off'" -ex "'set confirm off'" -ex "'set breakpoint pending on'" \
		-ex "'set dump-excluded-mappings on'" "$bps" -ex run -ex "'info symbol \$pc'" \
		-ex "'gcore $2'" -ex kill --args "'$AGENT'" unlock --config "'$T/dead.conf'" \
		--test-passphrase --ask-passphrase -v --log-target stderr "'$T/disk.img'" \
		>"$2.gdb" 2>"$3"
}
run_prompt_under_gdb crypt_activate_by_passphrase "$T/typed-live.core" "$T/typed-live.log"
"$SCAN" "$T/typed-live.core" --needle typed="$TYPED" >"$T/typed-live.out" 2>&1
if grep -q "asking for the passphrase" "$T/typed-live.log" && grep -q "^typed: [1-9]" "$T/typed-live.out"; then
	ok "control: the typed passphrase is in the dump while its keyslot is being opened"
else
	bad "typed-passphrase control: $(tr '\n' ' ' <"$T/typed-live.out" 2>/dev/null)"
fi
run_prompt_under_gdb "exit _exit" "$T/typed.core" "$T/typed.log"
if ! grep -q "the passphrase opens keyslot 0 of the validated header copy" "$T/typed.log"; then
	bad "the agent under gdb did not open the copy with the typed passphrase"
	tail -5 "$T/typed.log"
elif "$SCAN" "$T/typed.core" --needle typed="$TYPED" --needle volume-key="$VK" >"$T/typed.out"; then
	ok "zero hits for the typed passphrase and the volume key at exit"
else
	bad "the typed passphrase or the volume key is in the agent's memory at exit: $(tr '\n' ' ' <"$T/typed.out")"
fi
grep -qF "$(cat "$T/recovery.key")" "$T/typed.log" "$T/typed-live.log" &&
	bad "the typed passphrase is in the agent's log"

# Nor in what the agent logged (debug level), in hex or base64 of either form.
leaked=0
for v in "$SECRET" "$PASS"; do
	b64=$(printf '%s' "$v" | xxd -r -p | base64 -w0)
	b64url=$(printf '%s' "$b64" | tr '+/' '-_' | tr -d '=')
	for form in "$v" "$(printf '%s' "$v" | tr a-f A-F)" "$b64" "$b64url"; do
		grep -qF -- "$form" "$T/agent.log" "$T/live.log" && leaked=1
	done
done
if [ $leaked -ne 0 ]; then
	bad "a secret value is in the agent's log"
elif grep -q "timing: secret received" "$T/agent.log"; then
	ok "the debug log holds no secret or passphrase (hex, base64, base64url)"
else
	bad "the agent's debug log is incomplete"
fi

if [ $fail -ne 0 ]; then
	echo "agent hygiene: FAILED"
	exit 1
fi
echo "agent hygiene: all passed"
