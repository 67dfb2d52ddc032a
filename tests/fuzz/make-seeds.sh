#!/bin/sh
# Seed corpus of the fuzz harnesses: protocol messages from our builders and vectors, quotes and
# collateral from the quote simulator, a LUKS2 header made by cryptsetup and enrolled like
# tdx-unlock enroll does, event logs, PKCS#11 URIs, PROXY headers. Never copied from ../shared.
# Usage: tests/fuzz/make-seeds.sh BUILD FUZZ_DIR
set -e
BUILD=$1
F=$2
S=$F/seeds
rm -rf "$S"
mkdir -p "$S/quote" "$S/collateral" "$S/dcap-verify"

# Quotes and collateral from the simulator (tdx-quotegen).
q=$S/qsim
mkdir -p "$q"
"$BUILD/tdx-quotegen" ca --out "$q/ca" >/dev/null
"$BUILD/tdx-quotegen" collateral --ca "$q/ca" --out "$q/coll" >/dev/null
"$BUILD/tdx-quotegen" quote --ca "$q/ca" --out "$S/quote/v4" 2>/dev/null
"$BUILD/tdx-quotegen" quote --ca "$q/ca" --version 5 --body-type 3 --out "$S/quote/v5" 2>/dev/null
"$BUILD/tdx-quotegen" quote --ca "$q/ca" --debug --out "$S/quote/v4-debug" 2>/dev/null
d=$F/dcap-ca
rm -rf "$d"
"$BUILD/tdx-quotegen" ca --out "$d" >/dev/null
"$BUILD/tdx-quotegen" quote --ca "$d" --out "$S/dcap-verify/v4" 2>/dev/null
"$BUILD/tdx-quotegen" quote --ca "$d" --version 5 --body-type 3 --out "$S/dcap-verify/v5" 2>/dev/null
"$BUILD/tdx-quotegen" quote --ca "$d" --debug --out "$S/dcap-verify/debug" 2>/dev/null
"$BUILD/fuzz-seeds" "$S" "$S/dcap-verify/v4"
# fuzz-collateral: the first byte picks the parser.
c=$S/collateral
{ printf '\000'; cat "$q/coll/tcb_info.json"; } >"$c/tcb-info"
{ printf '\001'; cat "$q/coll/qe_identity.json"; } >"$c/qe-identity"
{ printf '\002'; cat "$q/ca/pck_chain.pem"; } >"$c/pck-chain"
{ printf '\002'; cat "$q/coll/tcb_signing_chain.pem"; } >"$c/tcb-chain"
{ printf '\003'; cat "$q/coll/pck_crl.der"; } >"$c/pck-crl"
{ printf '\003'; cat "$q/coll/root_crl.der"; } >"$c/root-crl"
{ printf '\004'; printf '2026-11-25T09:15:00.5+01:00'; } >"$c/time"
rm -rf "$q"
# fuzz-proxy-header: the first byte's low bit allows v1.
p=$S/proxy-header
mkdir -p "$p"
printf '\000\r\n\r\n\000\r\nQUIT\n\041\021\000\014\012\011\011\011\177\000\000\001\004\322\001\273\026\003' \
	>"$p/v2-tcp4"
printf '\001PROXY TCP4 192.0.2.1 127.0.0.1 56324 443\r\n' >"$p/v1-tcp4"
printf '\001PROXY TCP6 2001:db8::1 ::1 1 443\r\n' >"$p/v1-tcp6"

# LUKS2 metadata of an enrolled header (and its cipher_null twin) for the header harnesses.
l=$S/lk
h=$S/luks-header
mkdir -p "$l" "$h" "$S/luks-allowlist"
truncate -s 20M "$l/img"
head -c 32 /dev/urandom >"$l/key"
cryptsetup luksFormat --type luks2 --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
	--hash sha256 --key-file "$l/key" "$l/img"
printf '{"type":"tdx-unlock","keyslots":["0"],"resource":"default/disk/root",%s}' \
	'"salt":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=","version":1' >"$l/tok.json"
cryptsetup token import --json-file "$l/tok.json" "$l/img"
dd if="$l/img" bs=4096 skip=1 count=3 status=none | tr -d '\000' >"$h/enrolled"
sed 's/aes-xts-plain64/cipher_null-ecb/g' "$h/enrolled" >"$h/cipher-null"
cp "$h"/* "$S/luks-allowlist/"
rm -rf "$l"

# Event logs: a CCEL with three events and an AAEL.
e=$S/eventlog
mkdir -p "$e"
python3 tests/integration/image_measure.py ccel "$e/raw" "$(printf '%096d' 1)" \
	"$(printf '%096d' 2)" "$(printf '%096d' 3)" >/dev/null
{ printf '\000'; cat "$e/raw"; } >"$e/ccel"
rm -f "$e/raw"
{ printf '\001INIT sha384/%096d\n' 0; printf 'tdx-unlock released 2f1c3a6e\n'; } >"$e/aael"

# PKCS#11 URIs.
u=$S/pkcs11-uri
mkdir -p "$u"
printf 'pkcs11:token=tdx;object=root;id=%%01;type=secret-key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/tdx-keyd/pin' >"$u/full"
printf 'pkcs11:token=My%%20HSM;serial=42;object=k?module-path=/m.so&pin-value=1234' >"$u/pin-value"
