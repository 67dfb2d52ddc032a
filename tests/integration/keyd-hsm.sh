#!/bin/sh
# tdx-keyd with its root key in a PKCS#11 token (SoftHSM2, token initialised here in a scratch
# directory): the file key is imported, the file removed, and keyd releases the same secret
# derive-secret computed from the file (a fleet moves to an HSM without re-enrolling).
# Usage: BUILD=build tests/integration/keyd-hsm.sh
set -u
BUILD=${BUILD:-build}
. "$(dirname "$0")/keyd-env.sh"
keyd_scratch keyd-hsm

MODULE=""
for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so; do
	[ -r "$m" ] && MODULE=$m && break
done
if [ -z "$MODULE" ] || ! command -v softhsm2-util >/dev/null; then
	echo "skipped: SoftHSM2 (softhsm2) is not installed"
	exit 0
fi

keyd_env_setup || { echo "FAIL: setup"; exit 1; }
mkdir -p "$T/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\n' "$T" >"$T/softhsm2.conf"
SOFTHSM2_CONF="$T/softhsm2.conf"
export SOFTHSM2_CONF
(umask 077 && printf '1234\n' >"$T/pin")
softhsm2-util --init-token --free --label tdx-keyd --so-pin 5678 --pin 1234 >/dev/null ||
	{ echo "FAIL: cannot initialise the SoftHSM2 token"; exit 1; }
URI="pkcs11:token=tdx-keyd;object=root?module-path=$MODULE&pin-source=file:$T/pin"

echo "== keyd-hsm: import the root key file into the token"
"$KEYD" import-root-key --key-file "$T/root.key" --pkcs11 "$URI" 2>"$T/err" ||
	bad "import-root-key failed: $(cat "$T/err")"
if "$KEYD" import-root-key --key-file "$T/root.key" --pkcs11 "$URI" 2>"$T/err"; then
	bad "import-root-key replaced a key already in the token"
fi
grep -q "already holds a key labelled root" "$T/err" || bad "second import: no reason"
URI_SED=$(printf '%s' "$URI" | sed 's/[&|\\]/\\&/g')
sed "s|\"root_key_file\": \"root.key\"|\"root_key_pkcs11\": \"$URI_SED\"|" "$T/keyd.json" \
	>"$T/keyd-hsm.json"
grep -q root_key_pkcs11 "$T/keyd-hsm.json" || bad "config rewrite"
# From here on the key exists only in the token.
rm -f "$T/root.key"

echo "== keyd-hsm: check-config and derive-secret through the token"
"$KEYD" check-config --config "$T/keyd-hsm.json" >/dev/null 2>"$T/err" ||
	bad "check-config with root_key_pkcs11: $(cat "$T/err")"
"$KEYD" derive-secret --config "$T/keyd-hsm.json" --resource "$RESOURCE" \
	--out "$T/hsm.secret" 2>/dev/null || bad "derive-secret with root_key_pkcs11"
cmp -s "$T/hsm.secret" "$T/expected.secret" ||
	bad "the token derives another disk secret than the file key"

echo "== keyd-hsm: a release with the key only in the token"
KEYD_CONFIG="$T/keyd-hsm.json" keyd_start || exit 1
grep -q "key 'root' in a PKCS#11 token" "$T/keyd.stderr" || bad "keyd does not say it uses the token"
"$BUILD/kbs-test-client" --url "$URL" --ca "$T/tls.crt" --sim "$T/sim" \
	--audit "$T/audit.log" --expect-secret "$T/expected.secret" valid ||
	bad "no release (or another secret) with root_key_pkcs11"
keyd_stop

echo "== keyd-hsm: a wrong PIN stops keyd at start"
(umask 077 && printf '9999\n' >"$T/pin")
if "$KEYD" check-config --config "$T/keyd-hsm.json" >/dev/null 2>"$T/err"; then
	bad "check-config accepted a wrong PIN"
fi
grep -q "wrong PIN" "$T/err" || bad "wrong PIN: no reason"

[ $fail = 0 ] && echo "keyd-hsm: all passed"
exit $fail
