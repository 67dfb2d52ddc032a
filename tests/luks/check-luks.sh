#!/bin/bash
# Disk-side commands end to end on real LUKS2 image files (no device-mapper needed):
# enroll / check / list / rotate / unenroll, the enrolled keyslot opened by `cryptsetup open
# --test-passphrase` with a passphrase derived here independently (Python HKDF), and crafted
# malicious headers refused by `check` with their reason.
# Usage: tests/luks/check-luks.sh   (TDX_UNLOCK_BIN selects the binary, default build/tdx-unlock)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bin=${TDX_UNLOCK_BIN:-build/tdx-unlock}
bin=$(realpath "$bin")
edit="python3 $here/luks2_edit.py"
work=$(mktemp -d /tmp/check-luks.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"

pass=0
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { pass=$((pass + 1)); echo "ok: $*"; }

# expect CODE PATTERN -- command...: exit code and a pattern in stdout+stderr
expect() {
	local code=$1 pattern=$2 out rc
	shift 3
	set +e
	out=$("$@" 2>&1)
	rc=$?
	set -e
	[ "$rc" = "$code" ] || fail "$* exited $rc (want $code): $out"
	if [ -n "$pattern" ] && ! grep -qF -- "$pattern" <<<"$out"; then
		fail "$*: output lacks '$pattern': $out"
	fi
}

# The keyslot passphrase, derived independently of the C code (RFC 5869 HKDF-SHA256).
derive() { # IMAGE SECRET OUT
	python3 - "$1" "$2" "$3" <<'EOF'
import base64, hashlib, hmac, json, subprocess, sys
img, secret_file, out = sys.argv[1:]
md = json.loads(subprocess.run(["cryptsetup", "luksDump", "--dump-json-metadata", img],
                               check=True, capture_output=True, text=True).stdout)
tok = [t for t in md["tokens"].values() if t["type"] == "tdx-unlock"][0]
uuid = subprocess.run(["cryptsetup", "luksUUID", img], check=True, capture_output=True,
                      text=True).stdout.strip()
secret = open(secret_file, "rb").read()
prk = hmac.new(base64.b64decode(tok["salt"]), secret, hashlib.sha256).digest()
info = b"tdx-unlock/v1" + uuid.encode() + tok["keyslots"][0].encode()
okm = hmac.new(prk, info + b"\x01", hashlib.sha256).digest()
open(out, "wb").write(okm)
print(tok["keyslots"][0])
EOF
}

umask 077
printf 'recovery passphrase' >recovery.key
head -c 32 /dev/urandom >secret
head -c 32 /dev/urandom >secret2
truncate -s 20M disk.img
# A human passphrase keeps Argon2id, as a real image would have.
cryptsetup luksFormat -q --type luks2 --pbkdf argon2id --pbkdf-memory 65536 --iter-time 100 \
	--key-file recovery.key disk.img
cp disk.img fresh.img

expect 1 "no tdx-unlock token" -- "$bin" check disk.img
ok "check refuses a disk without token"
expect 2 "usage" -- "$bin" enroll disk.img --secret-file secret
expect 2 "not a repo/type/tag path" -- "$bin" enroll disk.img --resource a/b --secret-file secret \
	--key-file recovery.key
expect 2 "not a keyslot number" -- "$bin" enroll disk.img --resource a/b/c --keyslot 99 \
	--secret-file secret --key-file recovery.key
head -c 8 /dev/urandom >short
expect 2 "at least 16 bytes" -- "$bin" enroll disk.img --resource a/b/c --secret-file short \
	--key-file recovery.key
printf wrong >wrong.key
expect 1 "existing passphrase opens no keyslot" -- "$bin" enroll disk.img --resource a/b/c \
	--secret-file secret --key-file wrong.key
ok "enroll usage errors and a wrong passphrase are refused"

expect 0 "keyslot 1, token 0, resource default/disk/root" -- "$bin" enroll disk.img \
	--resource default/disk/root --secret-file secret --key-file recovery.key
expect 1 "already enrolled" -- "$bin" enroll disk.img --resource default/disk/root \
	--secret-file secret --key-file recovery.key
ok "enroll adds keyslot 1 and token 0, and only once"

expect 0 "ok: unlock would proceed" -- "$bin" check disk.img
expect 0 "keyslot 1 (pbkdf2-sha256, 1000 iterations)" -- "$bin" check disk.img
expect 0 "keyslot 1 opens with the derived passphrase" -- "$bin" check disk.img --secret-file secret
expect 1 "does not open keyslot 1" -- "$bin" check disk.img --secret-file secret2
expect 0 "token 0: tdx-unlock v1, keyslot 1, resource default/disk/root" -- "$bin" list disk.img
expect 0 "keyslot 0: active, argon2id" -- "$bin" list disk.img
ok "check and list report the enrollment"

slot=$(derive disk.img secret pass.bin)
[ "$slot" = 1 ] || fail "token names keyslot $slot"
cryptsetup open --test-passphrase --key-slot 1 --key-file pass.bin disk.img ||
	fail "derived passphrase does not open keyslot 1"
if cryptsetup open --test-passphrase --key-slot 0 --key-file pass.bin disk.img 2>/dev/null; then
	fail "derived passphrase opens the recovery keyslot"
fi
cryptsetup open --test-passphrase --key-slot 0 --key-file recovery.key disk.img ||
	fail "recovery passphrase lost"
ok "cryptsetup open --test-passphrase: derived passphrase opens keyslot 1; recovery intact"

cp disk.img rotate-recovery.img
expect 0 "keyslot 1 -> 2, token 0" -- "$bin" rotate disk.img --secret-file secret2 \
	--old-secret-file secret
expect 1 "does not open keyslot 2" -- "$bin" check disk.img --secret-file secret
expect 0 "ok: unlock would proceed" -- "$bin" check disk.img --secret-file secret2
slot=$(derive disk.img secret2 pass2.bin)
cryptsetup open --test-passphrase --key-slot "$slot" --key-file pass2.bin disk.img ||
	fail "rotated passphrase does not open keyslot $slot"
expect 0 "keyslot 1 -> 2, token 0, resource other/disk/data" -- "$bin" rotate rotate-recovery.img \
	--secret-file secret2 --resource other/disk/data --key-file recovery.key
expect 0 "no tdx-unlock token" -- "$bin" list fresh.img
ok "rotate: new keyslot works, old secret no longer does (with old secret or recovery)"

# Removes every tdx-unlock token from an image's JSON metadata, as a hostile host could.
strip_token() {
	$edit dump "$1" | python3 -c '
import json, sys
md = json.load(sys.stdin)
md["tokens"] = {k: t for k, t in md["tokens"].items() if t.get("type") != "tdx-unlock"}
json.dump(md, open(sys.argv[1], "w"))' strip.json
	$edit write "$1" strip.json
	! $edit dump "$1" | grep -q "\"tdx-unlock\"" || fail "token not stripped from $1"
}

# check-header accepts what a normal image has: argon2id recovery keyslot, with or without our
# token.
expect 0 "acceptable (no tdx-unlock token)" -- "$bin" check-header fresh.img
expect 0 "acceptable (tdx-unlock token 0, keyslot 2)" -- "$bin" check-header disk.img
expect 2 "cannot be opened" -- "$bin" check-header does-not-exist.img
expect 2 "usage" -- "$bin" check-header
expect 1 "not a valid LUKS2 header" -- "$bin" check-header recovery.key
ok "check-header accepts a plain luksFormat image and an enrolled one"

# Crafted headers: each must be refused by check with its cause, exit 1.
stripped=0
while IFS='|' read -r mutation reason; do
	cp disk.img crafted.img
	$edit mutate crafted.img "$mutation"
	expect 1 "$reason" -- "$bin" check crafted.img
	# check-header (the initramfs guard before any prompt) refuses it too, with or without
	# the tdx-unlock token: a host can strip the token so that only the prompt is left.
	expect 1 "$reason" -- "$bin" check-header crafted.img
	case $mutation in
	token-* | extra-token | keyslot-argon2 | keyslot-huge-iterations) ;; # only the token was bad
	*)
		strip_token crafted.img
		expect 1 "$reason" -- "$bin" check-header crafted.img
		stripped=$((stripped + 1))
		;;
	esac
done <<'EOF'
cipher-null-segment|segment 0: cipher 'cipher_null-ecb' refused (plaintext disk, CVE-2025-59054)
cipher-null-keyslot|keyslot 2: area cipher 'cipher_null-ecb' refused
cipher-null-recovery-keyslot|keyslot 0: area cipher 'cipher_null-ecb' refused
keyslot-into-data|keyslots_size is too large
reencrypt-requirement|not a valid LUKS2 header
unknown-requirement|requirement 'future-feature' refused
extra-token|a second tdx-unlock token
token-server|unknown member 'server'
token-pin|unknown member 'pin'
token-no-salt|'salt' is missing
token-salt-number|'salt' is not a string
token-bad-keyslot|not a valid LUKS2 header
keyslot-argon2|kdf 'argon2id' refused for the tdx-unlock keyslot
keyslot-huge-iterations|pbkdf2 iterations out of range
segment-integrity|integrity protection is not supported
segment-ecb|cipher 'aes-ecb' refused
unknown-flag|flag 'no-such-flag' is not allowed
digest-hash-mismatch|digest: 'digest' is not the base64 of the 64 bytes of sha512
digest-short|digest: 'digest' is not the base64 of the 32 bytes of sha256
digest-salt-short|digest: 'salt' is not the base64 of 32 bytes
keyslot-area-short|keyslot 2: area of 4096 bytes cannot hold
token-id-out-of-range|token 1024: id out of range (0..31)
second-segment|segments: exactly one segment "0" is required (found 2)
second-digest|digests: exactly one digest is required (found 2)
keyslot-own-digest|digests: exactly one digest is required (found 2)
area-key-size-huge|keyslot 2: area key of 9223372036854775807 bytes refused
EOF
ok "26 crafted malicious headers refused by check and check-header, each with its reason"
ok "$stripped of them refused by check-header with the tdx-unlock token stripped too"

# The header that makes the recovery prompt open the host's plaintext (CVE-2025-59054 through
# the prompt): cipher_null segment + malformed digest, token stripped.
cp fresh.img hostile.img
$edit mutate hostile.img cipher-null-segment digest-hash-mismatch
expect 1 "cipher 'cipher_null-ecb' refused (plaintext disk, CVE-2025-59054)" -- \
	"$bin" check-header hostile.img
printf 'not the passphrase' >wrong.key
if cryptsetup open --test-passphrase --key-file wrong.key hostile.img 2>/dev/null; then
	echo "note: this libcryptsetup ($(cryptsetup --version)) opens it with a wrong passphrase"
fi
ok "check-header refuses the cipher_null + malformed digest header without token"

# Names from a hostile header reach the terminal of whoever runs list: no control characters.
cp disk.img esc.img
$edit mutate esc.img foreign-token-control-chars
expect 0 "token 7: evil?[31mRED? (not tdx-unlock)" -- "$bin" list esc.img
if "$bin" list esc.img 2>&1 | grep -q $'\x1b'; then
	fail "list prints a control character from the header"
fi
ok "list prints a hostile token type without control characters"

# A genuine reencryption-in-progress header, written by cryptsetup itself.
cp disk.img reenc.img
cryptsetup reencrypt --init-only -q --key-file recovery.key --key-slot 0 reenc.img
expect 1 "requirement 'online-reencrypt-v2' refused" -- "$bin" check reenc.img
ok "reencryption in progress refused"

# Enrolling a disk that unlock would refuse is refused too.
cp fresh.img null.img
$edit mutate null.img cipher-null-segment
expect 1 "cipher 'cipher_null-ecb' refused" -- "$bin" enroll null.img --resource a/b/c \
	--secret-file secret --key-file recovery.key
ok "enroll refuses a cipher_null disk"

# The same on a real block device, when loop devices can be attached (root): the header copy
# then comes from a block device, as in the initramfs.
loopdev=""
if [ "$(id -u)" = 0 ] && loopdev=$(timeout 10 losetup -f --show disk.img 2>/dev/null); then
	trap 'losetup -d "$loopdev" 2>/dev/null; rm -rf "$work"' EXIT
	expect 0 "keyslot 2 opens with the derived passphrase" -- "$bin" check "$loopdev" \
		--secret-file secret2
	expect 1 "does not open keyslot 2" -- "$bin" check "$loopdev" --secret-file secret
	expect 0 "acceptable (tdx-unlock token 0, keyslot 2)" -- "$bin" check-header "$loopdev"
	losetup -d "$loopdev"
	trap 'rm -rf "$work"' EXIT
	ok "check on loop block device $loopdev"
else
	echo "skipped: block device check (no loop device available)"
fi

expect 0 "removed token 0 and keyslot 2" -- "$bin" unenroll disk.img
expect 0 "no tdx-unlock token" -- "$bin" list disk.img
expect 1 "has no tdx-unlock token" -- "$bin" unenroll disk.img
cryptsetup open --test-passphrase --key-slot 0 --key-file recovery.key disk.img ||
	fail "recovery passphrase lost by unenroll"
ok "unenroll removes token and keyslot, keeps the recovery keyslot"

# A hostile token naming the recovery keyslot: unenroll and rotate destroy only a keyslot that
# tdx-unlock enrolled (PBKDF2-SHA256 x 1000); here they remove just the token and say so.
expect 0 "token 0" -- "$bin" enroll disk.img --resource default/disk/root --secret-file secret \
	--key-file recovery.key
cryptsetup token export --token-id 0 disk.img |
	python3 -c 'import json,sys; t=json.load(sys.stdin); t["keyslots"]=["0"]; print(json.dumps(t))' \
		>hostile-token.json
cryptsetup token remove --token-id 0 disk.img
cryptsetup token import --json-file hostile-token.json --token-id 0 disk.img
expect 0 "kept keyslot 0: tdx-unlock did not enroll it" -- "$bin" unenroll disk.img
cryptsetup open --test-passphrase --key-slot 0 --key-file recovery.key disk.img ||
	fail "unenroll destroyed the recovery keyslot a hostile token named"
expect 0 "no tdx-unlock token" -- "$bin" list disk.img
ok "unenroll with a token naming the recovery keyslot keeps that keyslot"

# Read-only commands never write: a damaged secondary header checksum makes libcryptsetup's
# crypt_load() "repair" the header it loads; the agent loads only its copy, so the image stays
# byte-identical.
truncate -s 20M damaged.img
cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
	--key-file recovery.key damaged.img
python3 -c '
import struct, sys
f = open(sys.argv[1], "r+b"); hdr = f.read(4096)
size = struct.unpack(">Q", hdr[8:16])[0]
f.seek(size + 0x1c0); c = f.read(1); f.seek(size + 0x1c0); f.write(bytes([c[0] ^ 0xff]))' damaged.img
before=$(sha256sum <damaged.img)
expect 0 "acceptable" -- "$bin" check-header damaged.img
[ "$(sha256sum <damaged.img)" = "$before" ] || fail "check-header wrote to the image"
expect 1 "no tdx-unlock token" -- "$bin" check damaged.img --secret-file secret
[ "$(sha256sum <damaged.img)" = "$before" ] || fail "check wrote to the image"
expect 0 "keyslot 0: active, pbkdf2" -- "$bin" list damaged.img
[ "$(sha256sum <damaged.img)" = "$before" ] || fail "list wrote to the image"
# Boot-time discovery (`unlock` without a device) reads it too: no token, exit 3, nothing written.
# No RTMR3 here (allow_missing_rtmr); the runtime log stays in the scratch directory.
sed 's/^{$/{ "allow_missing_rtmr": true,/' "$here/../../etc/agent.conf.example" >agent.conf
mkdir -p sysblock && touch sysblock/damaged.img
TDX_UNLOCK_TEST_SYS_BLOCK=$PWD/sysblock TDX_UNLOCK_TEST_DEV_DIR=$PWD \
	TDX_UNLOCK_TEST_RTMR_PATH=$PWD/no-rtmr3 TDX_UNLOCK_TEST_AAEL=$PWD/rtmr3.log \
	expect 3 "no LUKS2 device carries a tdx-unlock token" -- "$bin" unlock --config agent.conf
[ "$(sha256sum <damaged.img)" = "$before" ] || fail "discovery wrote to the image"
ok "check-header, check, list and discovery leave an image with a damaged secondary header byte-identical"

expect 2 "cannot be opened" -- "$bin" check does-not-exist.img
expect 2 "usage" -- "$bin" check
ok "check usage errors"

echo "check-luks: $pass groups passed"
