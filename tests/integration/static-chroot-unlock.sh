#!/bin/bash
# The static agent as an initramfs runs it: `tdx-unlock unlock` inside a bare chroot (only the
# binary, /proc, /dev/random, /dev/urandom, the test's config and LUKS2 image, and tdx-tsm-sim's
# emulated configfs-tsm and RTMR3 under /tsm, served from outside) against tdx-keyd on loopback,
# up to opening the keyslot (--test-passphrase); then a
# server whose key does not match the pin, a dead server, and a server by name (/etc/hosts, with
# no nsswitch.conf, then with a systemd-style one naming NSS modules that are not there).
# Usage: BUILD=build TDX_UNLOCK_BIN=build/static/tdx-unlock tests/integration/static-chroot-unlock.sh
set -u
BUILD=${BUILD:-build}
: "${TDX_UNLOCK_BIN:?set TDX_UNLOCK_BIN to the static tdx-unlock}"
TDX_UNLOCK_BIN=$(realpath "$TDX_UNLOCK_BIN")
if readelf -lW "$TDX_UNLOCK_BIN" | grep -q INTERP; then
	echo "FAIL: $TDX_UNLOCK_BIN is dynamically linked; a bare chroot has no libraries for it"
	exit 1
fi
T=$(mktemp -d /tmp/static-chroot.XXXXXX)
R=$(mktemp -d /tmp/static-chroot-root.XXXXXX)
# shellcheck source=tests/integration/agent-env.sh
. "$(dirname "$0")/agent-env.sh"
# shellcheck source=tests/static/chroot.sh
. "$(dirname "$0")/../static/chroot.sh"
fail=0
umask 077

# shellcheck disable=SC2034 # read by bad() in agent-env.sh
BAD_LOG="$T/chroot.log"

# shellcheck disable=SC2317 # called through the trap
cleanup() {
	agent_cleanup
	rm -rf "$R"
}
trap cleanup EXIT INT TERM

# run_in_chroot WANT_RC DESCRIPTION LOG-PATTERN CONF: the chroot holds a copy of $T at the same
# path, so the absolute paths in the configuration resolve inside it.
run_in_chroot() {
	rm -rf "${R:?}$T"
	mkdir -p "$R$T"
	cp -a "$T/." "$R$T/"
	# shellcheck disable=SC2119 # the default CA directory
	tsm_sim_boot || bad "tdx-tsm-sim"
	CHROOT_ENV=("TDX_UNLOCK_TEST_CMDLINE=$(cat "$T/cmdline")" "${CHROOT_TSM_ENV[@]}")
	chroot_run "$R" "/$(basename "$TDX_UNLOCK_BIN")" unlock --config "$4" \
		--log-target stderr --test-passphrase "$T/disk.img" >"$T/chroot.log" 2>&1
	rc=$?
	if [ "$rc" -ne "$1" ]; then
		bad "$2: exit $rc, expected $1"
	elif ! grep -qiE "$3" "$T/chroot.log"; then
		bad "$2: log does not say /$3/"
	else
		ok "$2 (exit $rc)"
		[ -n "${AGENT_TEST_VERBOSE:-}" ] && sed 's/^/    | /' "$T/chroot.log"
	fi
}

chroot_prepare "$R" "$TDX_UNLOCK_BIN"
# A fresh emulated boot for every run, seen inside the chroot as /tsm.
TSM=$R/tsm
CHROOT_TSM_ENV=(TDX_UNLOCK_TEST_TSM_REPORT_DIR=/tsm/report "TDX_UNLOCK_TEST_RTMR_PATH=/tsm/rtmr3:sha384"
	TDX_UNLOCK_TEST_AAEL=/tsm/rtmr3.log)
if [ ${#CHROOT_ENTER[@]} -eq 0 ]; then
	echo "skipped: static chroot unlock (needs root or unprivileged user namespaces)"
	exit 0
fi
# The image is enrolled by the binary under test (agent-env.sh's make_image uses it).
agent_env_setup || {
	echo "FAIL: setup"
	exit 1
}
keyd_start || exit 1
write_agent_conf "$T/good.conf" "$URL" "$PIN"
write_agent_conf "$T/wrongpin.conf" "$URL" "$OTHER_PIN"
AGENT_ATTEMPTS=1 AGENT_TOTAL_S=3 write_agent_conf "$T/dead.conf" "https://127.0.0.1:$(dead_port)" "$PIN"

echo "== static agent in a bare chroot"
run_in_chroot 0 "unlock in the chroot: released secret opens the keyslot" \
	"keyslot [0-9]+ opens with the derived passphrase" "$T/good.conf"
run_in_chroot 5 "unlock in the chroot: server key does not match the pin" "pinned public key" \
	"$T/wrongpin.conf"
run_in_chroot 4 "unlock in the chroot: server unreachable" "servers unreachable" "$T/dead.conf"

# A server name: static glibc resolves it with its built-in files/dns modules, reading
# /etc/hosts with no nsswitch.conf and loading no libnss_*.so.
AGENT_ATTEMPTS=1 AGENT_TOTAL_S=5 write_agent_conf "$T/byname.conf" "https://keyd.test:$PORT" "$PIN"
run_in_chroot 4 "unlock in the chroot: a server name without /etc/hosts is unreachable" \
	"servers unreachable" "$T/byname.conf"
mkdir -p "$R/etc"
echo "127.0.0.1 keyd.test" >"$R/etc/hosts"
run_in_chroot 0 "unlock in the chroot: a server name from /etc/hosts, no nsswitch.conf" \
	"keyslot [0-9]+ opens with the derived passphrase" "$T/byname.conf"
[ -e "$R/etc/nsswitch.conf" ] && bad "the chroot has an nsswitch.conf"
# dracut's hostonly systemd module copies the host's nsswitch.conf, which on systemd hosts names
# modules static glibc cannot have built in. With their libnss_*.so absent they are skipped.
echo "hosts: mymachines resolve [!UNAVAIL=return] files myhostname dns" >"$R/etc/nsswitch.conf"
run_in_chroot 0 "unlock in the chroot: nsswitch.conf naming absent NSS modules, /etc/hosts used" \
	"keyslot [0-9]+ opens with the derived passphrase" "$T/byname.conf"

[ "$fail" -eq 0 ] && echo "static-chroot-unlock: passed"
exit "$fail"
