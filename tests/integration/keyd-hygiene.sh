#!/bin/sh
# Secret hygiene of tdx-keyd: after a series of releases, dump the live server's memory with
# gdb's gcore and scan it for the disk secret it released (must be gone: derived in secure
# memory, sealed into the JWE and wiped) and for its root key (must be present only in memory
# excluded from core dumps). Controls: the scanner finds a planted value, and a dump that
# includes MADV_DONTDUMP mappings does hold the root key (so "absent" means wiped, not unseen).
# Usage: BUILD=build tests/integration/keyd-hygiene.sh
set -u
BUILD=${BUILD:-build}
. "$(dirname "$0")/keyd-env.sh"
keyd_scratch keyd-hygiene
SCAN="$BUILD/core-scan"
umask 077


if ! command -v gdb >/dev/null; then
	echo "skipped: gdb not installed (deps/debian-packages.txt lists it)"
	exit 0
fi

keyd_env_setup || { echo "FAIL: setup"; exit 1; }
keyd_start || exit 1
SECRET=$(hex "$T/expected.secret")
ROOT=$(hex "$T/root.key")

echo "== keyd hygiene: scanner control"
python3 -c "import os,sys; b=bytearray(os.urandom(8192)); b[777:809]=bytes.fromhex(sys.argv[1]); \
open(sys.argv[2],'wb').write(b)" "$SECRET" "$T/control.core"
"$SCAN" "$T/control.core" --needle secret="$SECRET" >"$T/control.out"
grep -q "^secret: [1-9]" "$T/control.out" || bad "scanner does not find a planted secret"

echo "== keyd hygiene: 20 releases, then dump the idle server"
"$BUILD/kbs-test-client" --url "$URL" --ca "$T/tls.crt" --sim "$T/sim" --audit "$T/audit.log" \
	--expect-secret "$T/expected.secret" valid valid valid valid valid valid valid valid valid \
	valid valid valid valid valid valid valid valid valid valid valid >/dev/null ||
	bad "releases failed"

dump() { # dump CORE EXCLUDED(on|off)
	gdb -q -batch -nx -p "$KEYD_PID" -ex "set dump-excluded-mappings $2" -ex "gcore $1" \
		-ex detach >"$1.gdb" 2>&1
	[ -s "$1" ] || bad "gcore failed: $(tail -2 "$1.gdb")"
}
dump "$T/all.core" on
dump "$T/default.core" off
"$SCAN" "$T/all.core" --needle secret="$SECRET" --needle rootkey="$ROOT" >"$T/all.out"
"$SCAN" "$T/default.core" --needle secret="$SECRET" --needle rootkey="$ROOT" >"$T/default.out"
sed 's/^/  every mapping: /' "$T/all.out"
sed 's/^/  as a core dump would: /' "$T/default.out"
grep -q "^rootkey: [1-9]" "$T/all.out" ||
	bad "control: the root key is not in the full dump (is the dump the server's memory?)"
grep -q "^secret: 0" "$T/all.out" || bad "a released disk secret is still in keyd's memory"
grep -q "^rootkey: 0" "$T/default.out" || bad "the root key is in memory a core dump includes"
grep -q "^secret: 0" "$T/default.out" || bad "a released disk secret is in dumpable memory"
kill -0 "$KEYD_PID" || bad "keyd did not survive the dumps"
"$BUILD/kbs-test-client" --url "$URL" --ca "$T/tls.crt" --sim "$T/sim" --audit "$T/audit.log" \
	--expect-secret "$T/expected.secret" valid >/dev/null || bad "no release after the dumps"

[ $fail = 0 ] && echo "keyd hygiene: all passed"
exit $fail
