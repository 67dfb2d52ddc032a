#!/usr/bin/env bash
# check-static: the static tdx-unlock has no dynamic dependencies, is stripped and small enough,
# runs in a bare chroot (tests/static/chroot.sh), unlocks there against tdx-keyd on loopback, and
# passes the agent's integration tests.
# Usage: check-static.sh STATIC_BIN   (env: BUILD, AGENT_BIN, STATIC_MAX_SIZE, STATIC_PREFIX)
set -euo pipefail

bin=$(realpath "$1")
max=${STATIC_MAX_SIZE:-4194304}
prefix=${STATIC_PREFIX:-deps/prefix-static}
dyn=${AGENT_BIN:+$(realpath "$AGENT_BIN")}
fails=0
work=$(mktemp -d /tmp/tdx-check-static.XXXXXX)
cleanup() {
	rm -rf "$work"
}
trap cleanup EXIT

pass() { echo "PASS: $*"; }
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# --- 1. properties of the file ------------------------------------------------------------
info=$(file -b "$bin")
echo "file: $info"
# file(1) says "static-pie linked" for -static-pie and "statically linked" for -static; both
# mean no interpreter and no shared libraries, which readelf confirms.
if [[ $info == *"statically linked"* || $info == *"static-pie linked"* ]]; then
	pass "file reports a static executable"
else
	fail "file does not report a static executable"
fi
if readelf -lW "$bin" | grep -q 'INTERP'; then fail "has a PT_INTERP (dynamic loader)"; else pass "no PT_INTERP"; fi
if readelf -dW "$bin" | grep -q '(NEEDED)'; then fail "has DT_NEEDED entries"; else pass "no DT_NEEDED"; fi
if [[ $info == *", stripped"* ]] && ! readelf -SW "$bin" | grep -q '\.symtab'; then
	pass "stripped"
else
	fail "not stripped"
fi
if readelf -dW "$bin" | grep -q 'BIND_NOW' && readelf -lW "$bin" | grep -q 'GNU_RELRO'; then
	pass "full RELRO (GNU_RELRO + BIND_NOW)"
else
	fail "no full RELRO"
fi
if readelf -lW "$bin" | grep 'GNU_STACK' | grep -q 'RWE'; then fail "executable stack"; else pass "non-executable stack"; fi
size=$(stat -c %s "$bin")
if [ "$size" -le "$max" ]; then
	pass "size $size bytes <= $max"
else
	fail "size $size bytes > $max"
fi

# --- 1b. no test code: the quote simulator (tests/sim) is in test builds only -------------------
# Symbols from the unstripped twin (same link), strings from the shipped file. The markers are the
# simulator's own: its function names, its log prefix, its file names and certificate subjects.
dbg=$bin.debug
syms=$(nm "$dbg" 2>/dev/null || true)
sim_syms=$(grep -E ' quotesim_|tsm_sim|tdx_tsm_sim' <<<"$syms" || true)
if [ ! -f "$dbg" ]; then
	fail "no $dbg to check for simulator symbols"
elif [ -n "$sim_syms" ]; then
	fail "the static agent links the quote simulator: $(head -3 <<<"$sim_syms" | tr '\n' ' ')"
elif ! grep -q ' quote_source_open$' <<<"$syms"; then
	fail "symbol check cannot see the agent's own symbols in $dbg"
else
	pass "no quote simulator symbols (quotesim_*, tsm-sim) in the static agent"
fi
sim_strings=$(strings -a "$bin" | grep -aE 'quotesim|quote_defaults\.json|Test SGX PCK|tsm-sim|TEST SIMULATOR' || true)
if [ -n "$sim_strings" ]; then
	fail "simulator strings in the static agent: $(head -3 <<<"$sim_strings" | tr '\n' ' ')"
else
	pass "no quote simulator strings in the static agent"
fi

# --- 2. bare chroot: the binary, /proc, the two random devices and LUKS2 images -------------
# shellcheck source=tests/static/chroot.sh
. "$(dirname "$0")/chroot.sh"
root=$work/root
chroot_prepare "$root" "$bin"

# Runs the static binary inside the chroot; sets out and rc.
in_chroot() {
	set +e
	out=$(chroot_run "$root" "/$(basename "$bin")" "$@" 2>&1)
	rc=$?
	set -e
}

img_setup() {
	# A small LUKS2 image with a fast PBKDF2 keyslot; the chroot test reads it as a file.
	truncate -s 32M "$root/disk.img"
	printf 'static-check-passphrase' >"$work/pass"
	cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
		--key-file "$work/pass" "$root/disk.img" >/dev/null 2>&1
}

if [ ${#CHROOT_ENTER[@]} -eq 0 ]; then
	echo "skipped: chroot smoke test (needs root or unprivileged user namespaces)"
else
	in_chroot --help
	if [ "$rc" -eq 0 ] && [[ $out == *"commands:"* ]]; then
		pass "chroot: --help"
	else
		fail "chroot: --help (rc=$rc): $out"
	fi
	commands=$(awk '/^commands:/ { on = 1; next } on && NF { print $1 }' <<<"$out")
	echo "commands: $(tr "\n" " " <<<"$commands")"

	in_chroot no-such-command
	if [ "$rc" -eq 2 ] && [[ $out == *"unknown command"* ]]; then
		pass "chroot: unknown command refused (rc=2)"
	else
		fail "chroot: unknown command (rc=$rc): $out"
	fi

	if ! command -v cryptsetup >/dev/null; then
		echo "skipped: LUKS image tests (cryptsetup-bin not installed)"
	elif ! img_setup; then
		fail "cannot create a LUKS2 image with cryptsetup luksFormat"
	else
		head -c 1M /dev/zero >"$root/plain.img"
		# Enrol with the dynamic build when it can, so that the static one meets a real token.
		if [ -n "$dyn" ] && grep -qw enroll <<<"$commands"; then
			head -c 32 /dev/urandom >"$work/secret"
			if "$dyn" enroll "$root/disk.img" --resource default/tdx-unlock/static-check \
				--secret-file "$work/secret" --key-file "$work/pass" >"$work/enroll.log" 2>&1; then
				pass "dynamic enroll of the test image"
			else
				fail "dynamic enroll: $(cat "$work/enroll.log")"
			fi
		fi
		tested=0
		for cmd in check list; do
			grep -qw "$cmd" <<<"$commands" || continue
			tested=1
			in_chroot "$cmd" /disk.img
			s_out=$out s_rc=$rc
			if [ "$s_rc" -gt 127 ] || [[ $s_out == *"Cannot initialize crypto"* ]]; then
				fail "chroot: $cmd /disk.img crashed or had no crypto backend (rc=$s_rc): $s_out"
			elif [ -n "$dyn" ]; then
				# Same sources, same libraries' versions: the answers must be the same.
				set +e
				d_out=$(timeout 60 "$dyn" "$cmd" "$root/disk.img" 2>&1)
				d_rc=$?
				set -e
				d_out=${d_out//"$root"/}
				if [ "$s_rc" -eq "$d_rc" ] && [ "$s_out" = "$d_out" ]; then
					pass "chroot: $cmd /disk.img (rc=$s_rc) answers like the dynamic build"
				else
					fail "chroot: $cmd /disk.img static rc=$s_rc <$s_out> vs dynamic rc=$d_rc <$d_out>"
				fi
			else
				pass "chroot: $cmd /disk.img (rc=$s_rc)"
			fi
			echo "  $s_out" | head -n 12
			in_chroot "$cmd" /plain.img
			if [ "$rc" -ne 0 ] && [ "$rc" -le 127 ] && [ -n "$out" ]; then
				pass "chroot: $cmd on a non-LUKS file refused with a message (rc=$rc)"
			else
				fail "chroot: $cmd /plain.img (rc=$rc): $out"
			fi
		done
		[ "$tested" -eq 1 ] || echo "skipped: image commands (the agent has neither check nor list yet)"
	fi
fi

# --- 3. unlock in the bare chroot against tdx-keyd on loopback ------------------------------
if [ -f tests/integration/agent-env.sh ]; then
	echo "== tests/integration/static-chroot-unlock.sh"
	if BUILD=${BUILD:-build} TDX_UNLOCK_BIN=$bin bash tests/integration/static-chroot-unlock.sh; then
		pass "unlock in a bare chroot"
	else
		fail "unlock in a bare chroot"
	fi
else
	echo "skipped: chroot unlock (tests/integration/agent-env.sh not there yet)"
fi

# --- 4. the agent's integration tests against the static binary --------------------------
# agent-env.sh is sourced by the tests (it reads TDX_UNLOCK_BIN).
shopt -s nullglob
agent_tests=()
for t in tests/integration/agent-*.sh; do
	case $t in *-env.sh) continue ;; esac
	agent_tests+=("$t")
done
if [ ${#agent_tests[@]} -eq 0 ]; then
	echo "skipped: agent integration tests (none in tests/integration yet)"
fi
for t in "${agent_tests[@]}"; do
	# Tests that stop the agent in gdb at a symbol get the unstripped twin: the same file before
	# objcopy --strip-all, so the same code and memory, plus the symbol table.
	use=$bin
	grep -qw gdb "$t" && [ -f "$bin.debug" ] && use=$bin.debug
	echo "== $t with TDX_UNLOCK_BIN=$use"
	if BUILD=${BUILD:-build} TDX_UNLOCK_BIN=$use bash "$t"; then pass "$t (static)"; else fail "$t (static)"; fi
done

# --- figures --------------------------------------------------------------------------------
echo "static deps: the last full build of deps/prefix-static took" \
	"$(cat "$prefix/.build-seconds" 2>/dev/null || echo '?') s (wall clock)"
echo "static binary: $size bytes, zstd -19: $(zstd -19 -q -c "$bin" | wc -c) bytes"
if [ "$fails" -ne 0 ]; then
	echo "check-static: $fails failure(s)"
	exit 1
fi
echo "check-static: passed"
