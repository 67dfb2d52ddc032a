#!/bin/bash
# make bench-boot (issue 13, docs/bench.md): tdx-unlock beside clevis + tang in QEMU, interleaved
# boots, same dracut module set, same QEMU arguments (tests/qemu/lib.sh boot()), same guestfwd
# relay (restrict=on) to a loopback server: tdx-keyd for tdx-unlock, Debian's tang for clevis.
# clevis, clevis-dracut and tang live in a debootstrap chroot (bench/clevis-root.sh), never on the
# host; the clevis initramfs is built by that chroot's dracut. Prints the issue's table (medians,
# ratios tdx-unlock / clevis). Figures are printed, never asserted; a boot that does not reach its
# LUKS root fails the run.
#
# Environment: BUILD, BENCH_BOOT_RUNS (boots of each kind, default 3, at most 9), BOOT_TIMEOUT
# (s per boot, default 180), QEMU_WORK (default $BUILD/bench-boot/work), CLEVIS_ROOT.
set -uo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$REPO/build}
QEMU_WORK=${QEMU_WORK:-$BUILD/bench-boot/work}
CLEVIS_ROOT=${CLEVIS_ROOT:-$BUILD/bench-boot/clevis-root}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-180}
export BUILD QEMU_WORK CLEVIS_ROOT
# shellcheck source=tests/qemu/lib.sh
. "$REPO/tests/qemu/lib.sh"
# shellcheck source=tests/qemu/setup.sh
. "$REPO/tests/qemu/setup.sh"
HELPER=$REPO/bench/boot-bench.py

runs=${BENCH_BOOT_RUNS:-3}
case $runs in [1-9]) ;; *) die "BENCH_BOOT_RUNS must be 1-9" ;; esac
# keyd_start (setup.sh) reports a failed start through the boot tests' finish().
finish() { die "bench-boot: $1 failed (see $QEMU_WORK/keyd-$cur.log)"; }

# chroot_run CMD...: CMD in the clevis chroot, in a private mount namespace holding the guest
# kernel's modules at /lib/modules/$KVER and $QEMU_WORK at /work (nothing is mounted on the host).
chroot_run() {
	# shellcheck disable=SC2016 # expanded by the inner shell
	unshare -m --propagation private bash -euc '
		root=$1 work=$2 kver=$3 kmoddir=$4
		shift 4
		mkdir -p "$root/lib/modules/$kver" "$root/work"
		mount --bind -o ro "$kmoddir" "$root/lib/modules/$kver"
		mount --bind "$work" "$root/work"
		mount -t proc proc "$root/proc"
		exec chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"
	' _ "$CLEVIS_ROOT" "$QEMU_WORK" "$KVER" "$KMODDIR" "$@"
}

# clevis_dracut OUT MODULES: the chroot's dracut with the test initramfs's options and drivers.
clevis_dracut() {
	mkdir -p "$QEMU_WORK/empty" "$QEMU_WORK/tmp"
	# shellcheck disable=SC2086,SC2116 # word lists, newlines to spaces
	chroot_run dracut --force --quiet --no-hostonly --no-hostonly-cmdline --no-early-microcode \
		--conf /dev/null --confdir /work/empty --tmpdir /work/tmp --modules "$(echo $2)" \
		--drivers "$(echo $DRACUT_DRIVERS)" --compress zstd --kver "$KVER" \
		--kmoddir "/lib/modules/$KVER" "/work/${1##*/}" >>"$QEMU_WORK/clevis-dracut.log" 2>&1 ||
		die "dracut in the clevis chroot failed building $1, see $QEMU_WORK/clevis-dracut.log"
}

TANG_PID=
RELAY_PID=
cleanup() {
	[ -n "$RELAY_PID" ] && kill "$RELAY_PID" 2>/dev/null
	[ -n "$TANG_PID" ] && kill "$TANG_PID" 2>/dev/null
	keyd_stop
}
trap cleanup EXIT

# tang_start: Debian's tangd (inetd style, one process per connection) on 127.0.0.1 only.
tang_start() {
	local i
	[ -n "$(ls -A "$CLEVIS_ROOT/var/lib/tang")" ] ||
		chroot "$CLEVIS_ROOT" /usr/libexec/tangd-keygen /var/lib/tang || die "tangd-keygen failed"
	TANG_PORT=$(free_port)
	socat -lf "$QEMU_WORK/tang-socat.log" "TCP-LISTEN:$TANG_PORT,bind=127.0.0.1,reuseaddr,fork" \
		"EXEC:chroot $CLEVIS_ROOT /usr/libexec/tangd /var/lib/tang" 2>>"$QEMU_WORK/tang.log" &
	TANG_PID=$!
	for i in $(seq 50); do
		curl -sf --max-time 2 "http://127.0.0.1:$TANG_PORT/adv" >"$QEMU_WORK/tang-adv.jws" && return 0
		kill -0 "$TANG_PID" 2>/dev/null || break
		sleep 0.2
	done
	die "tang did not answer on 127.0.0.1:$TANG_PORT after $i tries"
}

# relay_start PORT: the connection-timing relay in front of a loopback server; sets RELAY_PORT.
relay_start() {
	rm -f "$QEMU_WORK/relay.port" "$QEMU_WORK/$cur.conn"
	python3 "$HELPER" relay "$QEMU_WORK/relay.port" "$1" "$QEMU_WORK/$cur.conn" &
	RELAY_PID=$!
	for _ in $(seq 50); do
		[ -s "$QEMU_WORK/relay.port" ] && break
		sleep 0.1
	done
	[ -s "$QEMU_WORK/relay.port" ] || die "the timing relay did not start"
	RELAY_PORT=$(cat "$QEMU_WORK/relay.port")
}
relay_stop() {
	kill "$RELAY_PID" 2>/dev/null
	wait "$RELAY_PID" 2>/dev/null
	RELAY_PID=
}

# bench_boot KIND N INITRD CMDLINE IMG: one boot through the relay; appends its figures.
bench_boot() {
	local kind=$1 initrd=$3 cmdline=$4 img=$5 line load
	if [ "$kind" = tdx ]; then
		keyd_start good || die "tdx-keyd did not start"
		relay_start "$KEYD_PORT"
	else
		relay_start "$TANG_PORT"
	fi
	# The host's load moves single TCG boots by more than the difference measured: recorded.
	read -r load _ </proc/loadavg
	# No passphrase file: a prompt stays unanswered, only the unlock component can open the disk.
	KEYD_PORT=$RELAY_PORT boot "$cur" "$initrd" "$cmdline" "" "$img"
	relay_stop
	keyd_stop
	if [ "$(summary_get "$cur" timed_out)" != 0 ] ||
		! grep -q "TDX-UNLOCK-TEST: real root mounted" "$QEMU_WORK/$cur.log"; then
		die "$kind boot $2 did not reach its LUKS root, see $QEMU_WORK/$cur.log"
	fi
	[ "$kind" = tdx ] && [ -n "$(summary_get "$cur" prompt)" ] &&
		die "tdx-unlock boot $2 showed a passphrase prompt, see $QEMU_WORK/$cur.log"
	line=$(python3 "$HELPER" figures "$kind" "$QEMU_WORK/$cur.log" "$QEMU_WORK/$cur.summary" \
		"$QEMU_WORK/$cur.conn") || die "cannot read the figures of $cur"
	case $line in *error=*) die "$cur: $line" ;; esac
	line="$line round=$2 load=$load"
	say "   $cur: $line"
	echo "$line" >>"$QEMU_WORK/results"
}

main() {
	local t0 i confdir with without nosim cl_with cl_without
	t0=$(date +%s)
	mkdir -p "$QEMU_WORK"
	setup_all 1
	"$REPO/bench/clevis-root.sh" || die "no clevis chroot"
	rm -f "$QEMU_WORK/results" "$QEMU_WORK/clevis-dracut.log"

	say "== clevis side: tang on loopback, a LUKS2 root bound to it, dracut in the chroot"
	tang_start
	CLEVIS_IMG=$QEMU_WORK/clevis-root.img
	CLEVIS_UUID=$("$REPO/scripts/make-test-root.sh" "$RECOVERY_PASSFILE" "$CLEVIS_IMG") ||
		die "clevis root image"
	chroot_run clevis luks bind -y -d "/work/clevis-root.img" -k "/work/${RECOVERY_PASSFILE##*/}" \
		tang "{\"url\":\"http://$GUEST_SERVER_IP:$GUEST_SERVER_PORT\",\"adv\":\"/work/tang-adv.jws\"}" \
		>"$QEMU_WORK/clevis-bind.log" 2>&1 || die "clevis luks bind failed, see $QEMU_WORK/clevis-bind.log"
	clevis_dracut "$QEMU_WORK/initrd-clevis.img" "$DRACUT_MODULES clevis clevis-pin-tang"
	clevis_dracut "$QEMU_WORK/initrd-clevis-base.img" "$DRACUT_MODULES"

	say "== tdx-unlock side: the same dracut run without the module, and without the test-only tsm-sim"
	confdir=$QEMU_WORK/agent-conf
	build_dracut_initrd "$QEMU_WORK/initrd-nomodule.img"
	DRACUT_TEST_MODULES="" build_dracut_initrd "$QEMU_WORK/initrd-nosim.img" "$AGENT_BIN" "$confdir"
	with=$(stat -c %s "$INITRD_DRACUT")
	without=$(stat -c %s "$QEMU_WORK/initrd-nomodule.img")
	nosim=$(stat -c %s "$QEMU_WORK/initrd-nosim.img")
	cl_with=$(stat -c %s "$QEMU_WORK/initrd-clevis.img")
	cl_without=$(stat -c %s "$QEMU_WORK/initrd-clevis-base.img")
	echo "kind=tdx initramfs_added=$((nosim - without))" >>"$QEMU_WORK/results"
	echo "kind=clevis initramfs_added=$((cl_with - cl_without))" >>"$QEMU_WORK/results"

	say "== $runs boots of each, interleaved (BOOT_TIMEOUT=$BOOT_TIMEOUT s each)"
	for i in $(seq "$runs"); do
		cur=bench-tdx-$i
		bench_boot tdx "$i" "$INITRD_DRACUT" "$(root_cmdline dracut)" "$ROOT_IMG"
		cur=bench-clevis-$i
		bench_boot clevis "$i" "$QEMU_WORK/initrd-clevis.img" \
			"rd.luks.uuid=$CLEVIS_UUID root=/dev/mapper/luks-$CLEVIS_UUID ro" "$CLEVIS_IMG"
	done

	mib() { awk -v b="$1" 'BEGIN { printf "%.2f MiB", b / 1048576 }'; }
	echo ""
	echo "bench-boot: $(qemu_accel), kernel $KVER, $runs interleaved boots of each, $(($(date +%s) - t0)) s in total"
	python3 "$HELPER" table "$QEMU_WORK/results"
	echo ""
	echo "initramfs (zstd): tdx-unlock $(mib "$nosim") ($(mib "$with") with the test-only tsm-sim)," \
		"clevis $(mib "$cl_with"); same module set without the unlock module: $(mib "$without")" \
		"(host dracut), $(mib "$cl_without") (chroot dracut)"
	grep -o 'timing: .*' "$QEMU_WORK/bench-tdx-$runs.log" | tail -1 | tr -d '\r' |
		sed 's/^/tdx-unlock agent (last boot): /'
	echo "ratio = tdx-unlock / clevis+tang; figures are printed, not asserted (docs/bench.md)"
}
main
