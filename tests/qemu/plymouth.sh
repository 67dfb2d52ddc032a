# shellcheck shell=bash
# Scenario 15 of the QEMU boots (sourced by run.sh): the agent's passphrase prompt under plymouth.
# The dracut initramfs is built, with the same modules plus plymouth, by the dracut of a Debian 12
# chroot that has plymouth (tests/qemu/plymouth-root.sh): plymouth is never installed on the host.
# keyd is stopped, so the agent records its outcome and asks through systemd-ask-password; with
# plymouth running, systemd's console agent stands aside (ConditionPathExists=!/run/plymouth/pid)
# and plymouth's agent forwards the question to plymouthd, which shows it on the serial console
# and reads the answer there. Asserted: plymouth ran, its agent answered and the console's never
# started, the passphrase typed at plymouth's prompt opened the root.

PLYMOUTH_ROOT=${PLYMOUTH_ROOT:-$REPO/tests/qemu/work/plymouth-root}

# build_plymouth_initrd OUT: the test dracut initramfs plus plymouth, built in the chroot (private
# mount namespace; the host is untouched).
build_plymouth_initrd() {
	local out=$1 root=$PLYMOUTH_ROOT lock mods
	"$REPO/tests/qemu/plymouth-root.sh" || die "no plymouth chroot"
	exec {lock}>"$root.lock"
	flock -w 600 "$lock" || die "the plymouth chroot stayed locked for 10 minutes"
	mods=$root/usr/lib/dracut/modules.d
	rm -rf "$root/opt/tdx-unlock" "$root/etc/tdx-unlock" "$root/etc/tdx-tsm-sim" \
		"$mods/91tdx-unlock" "$mods/92tdx-tsm-sim"
	mkdir -p "$root/opt/tdx-unlock" "$root/etc/tdx-unlock" "$root/etc/tdx-tsm-sim/ca" \
		"$mods/91tdx-unlock" "$mods/92tdx-tsm-sim" "$root/lib/modules/$KVER" "$root/tmp"
	install -m 0755 "$AGENT_BIN" "$root/opt/tdx-unlock/tdx-unlock"
	install -m 0755 "$TSM_SIM_BIN" "$root/opt/tdx-unlock/tdx-tsm-sim"
	cp -a "$QEMU_WORK/agent-conf/." "$root/etc/tdx-unlock/"
	cp -a "$QEMU_WORK/quotesim/." "$root/etc/tdx-tsm-sim/ca/"
	cp -a "${DRACUT_MODULE_DIR:-$REPO/dracut-module}/." "$mods/91tdx-unlock/"
	cp -a "$REPO/tests/qemu/dracut-tsm-sim/." "$mods/92tdx-tsm-sim/"
	# shellcheck disable=SC2016,SC2086,SC2116 # expanded by the inner bash; word lists on one line
	unshare -m --propagation private bash -euc '
		root=$1 kver=$2 kmoddir=$3 modules=$4 drivers=$5
		mount --bind -o ro "$kmoddir" "$root/lib/modules/$kver"
		mount -t proc proc "$root/proc"
		chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			TDX_UNLOCK_BIN=/opt/tdx-unlock/tdx-unlock TDX_UNLOCK_CONFDIR=/etc/tdx-unlock \
			TDX_TSM_SIM_BIN=/opt/tdx-unlock/tdx-tsm-sim TDX_TSM_SIM_CA=/etc/tdx-tsm-sim/ca \
			dracut --force --quiet --no-hostonly --no-hostonly-cmdline --no-early-microcode \
			--modules "$modules" --drivers "$drivers" --compress zstd --kver "$kver" \
			/tmp/initrd.img
	' _ "$root" "$KVER" "$KMODDIR" "$(echo $DRACUT_MODULES plymouth tdx-unlock tdx-tsm-sim)" \
		"$(echo $DRACUT_DRIVERS)" >"$QEMU_WORK/dracut-plymouth.log" 2>&1 ||
		die "dracut (plymouth chroot) failed, see $QEMU_WORK/dracut-plymouth.log"
	mv "$root/tmp/initrd.img" "$out"
	exec {lock}>&-
}

scenario_15() {
	local initrd=$QEMU_WORK/initrd-dracut-plymouth.img
	start_scenario 15 "plymouth: keyd stopped -> the agent's prompt through plymouth -> passphrase"
	build_plymouth_initrd "$initrd"
	# shellcheck disable=SC2154 # cur: set by start_scenario (run.sh)
	KEYD_PORT=$(free_port) boot "$cur" "$initrd" "$(root_cmdline dracut)" "$RECOVERY_PASSFILE" "$ROOT_IMG"
	check_prompted
	check "the agent found the server unreachable" log_has "$AGENT_UNREACHABLE_RX"
	check "the agent asked for the passphrase itself" log_has "${AGENT_LINE_RX}/dev/vda: asking for the passphrase"
	check "plymouth ran in the initramfs" log_has "Started plymouth-start|Show Plymouth Boot Screen"
	check "plymouth's password agent answered" log_has "Started systemd-ask-passw.*Password Requests to Plymouth\\."
	check "the console's password agent never started" \
		log_lacks "Started systemd-ask-passw.*Password Requests to Console\\."
	finish "prompt through plymouth"
}
