# shellcheck shell=bash
# Scenario 9 of the QEMU boots (sourced by run.sh): a hostile ROOT disk. The host rewrites the root
# image's header to a cipher_null segment with a malformed digest (checksums fixed) and puts a
# PLAINTEXT filesystem of its own where the encrypted data was. libcryptsetup 2.6.1 opens such a
# header with any passphrase (CVE-2025-59054), so the recovery prompt alone would mount the
# host's root. Asserted: the agent refuses it, the guard refuses it before any prompt (dracut and
# initramfs-tools), the hostile root never runs, and the VM ends (rd.emergency=reboot / panic=-1).
#
# TDX_UNLOCK_TEST_NO_GUARD=1 (test only) boots the dracut case with an initramfs whose module lacks
# the guard's drop-in: the scenario must then FAIL (the hostile root is mounted), which shows what
# it asserts can fail.

HOSTILE_ROOT_MARKER="TDX-UNLOCK-TEST: HOSTILE plaintext root"
GUARD_REFUSED_RX="tdx-unlock: refusing to unlock .*cipher 'cipher_null-ecb' refused"

# hostile_root_make OUT: ROOT_IMG's (enrolled) header rewritten as a hostile host would, with a
# plaintext ext4 root at the data offset whose init prints HOSTILE_ROOT_MARKER and powers off.
hostile_root_make() {
	local out=$1 tree offset size lib
	tree=$(mktemp -d "$QEMU_WORK/hostile-tree.XXXXXX")
	cp "$ROOT_IMG" "$out"
	offset=$(cryptsetup luksDump --dump-json-metadata "$out" |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["segments"]["0"]["offset"])') ||
		die "cannot read the root image's data offset"
	size=$(($(stat -c %s "$out") - offset))
	# The layout of scripts/make-test-root.sh's root: systemd switches only into an OS tree.
	mkdir -p "$tree"/{bin,sbin,dev,proc,sys,run,tmp,mnt,etc,usr/lib,root}
	install -m 0755 "$(command -v busybox)" "$tree/bin/busybox"
	for lib in $(ldd "$(command -v busybox)" | awk '/=>/ { print $3 } /^\t\// { print $1 }'); do
		[ -e "$tree$lib" ] || install -D -m 0755 "$lib" "$tree$lib"
	done
	for lib in sh mount awk sync poweroff echo; do ln -s busybox "$tree/bin/$lib"; done
	printf 'NAME="hostile"\nID=hostile\nPRETTY_NAME="hostile plaintext root"\n' \
		>"$tree/usr/lib/os-release"
	ln -s ../usr/lib/os-release "$tree/etc/os-release"
	cat >"$tree/sbin/init" <<-EOF
		#!/bin/sh
		export PATH=/bin
		mount -t proc proc /proc
		echo "$HOSTILE_ROOT_MARKER mounted as \$(awk '\$2 == "/" { print \$1 }' /proc/mounts)"
		sync
		poweroff -f
	EOF
	chmod 0755 "$tree/sbin/init"
	rm -f "$QEMU_WORK/hostile-fs.img"
	truncate -s "$size" "$QEMU_WORK/hostile-fs.img"
	mkfs.ext4 -q -F -d "$tree" "$QEMU_WORK/hostile-fs.img" >/dev/null || die "mkfs.ext4 (hostile root)"
	dd if="$QEMU_WORK/hostile-fs.img" of="$out" bs=1M oflag=seek_bytes seek="$offset" conv=notrunc \
		status=none || die "writing the hostile plaintext root"
	rm -rf "$tree" "$QEMU_WORK/hostile-fs.img"
	python3 "$REPO/tests/luks/luks2_edit.py" mutate "$out" cipher-null-segment digest-hash-mismatch \
		>"$QEMU_WORK/hostile-root.log" 2>&1 || die "luks2_edit.py failed, see $QEMU_WORK/hostile-root.log"
}

# noshell_off DIR: the module copy with its no-shell settings and power-off switched off.
noshell_off() {
	echo "# no-shell drop-in disabled by TDX_UNLOCK_TEST_SHELL=1 (test only)" >"$1/tdx-unlock-noshell.conf"
	printf '#!/bin/sh\nsystemctl --no-block --job-mode=replace-irreversibly start emergency.target\nexit 1\n' \
		>"$1/tdx-unlock-poweroff.sh"
	sed -i 's/rd.shell=0 rd.emergency=poweroff/rd.tdx_unlock.test_shell=1/' "$1/module-setup.sh"
	grep -q rd.tdx_unlock.test_shell=1 "$1/module-setup.sh" || die "cannot switch the cmdline.d line off"
}

# TDX_UNLOCK_TEST_SHELL=1 (test only): the no-shell defences switched off, as before issue 8 -- the
# module without its cmdline.d and emergency drop-ins, its power-off helper starting
# emergency.target instead, an initramfs-tools panic script that does nothing and a local-top
# guard that panics instead of powering off, so initramfs-tools' shell follows its refusal. The boots then end in a shell or the timeout: FAIL.
noshell_off_initrds_make() {
	build_dracut_variant shell "$QEMU_WORK/initrd-dracut-shell.img" noshell_off
	# shellcheck disable=SC2016 # the script written out expands $1 itself
	printf '#!/bin/sh\n[ "$1" = prereqs ] && exit 0\nexit 0\n' >"$QEMU_WORK/panic-noop"
	# The local-top guard panics again, as it did before it powered off itself.
	# shellcheck disable=SC2016 # a literal $1, $2 in the replacement
	sed 's/^\ttdx_unlock_poweroff$/\tpanic "tdx-unlock: refusing to unlock $1: $2"/' \
		"$REPO/hook/scripts/local-top/tdx-unlock" >"$QEMU_WORK/local-top-panic"
	grep -q '^	panic "tdx-unlock: refusing' "$QEMU_WORK/local-top-panic" || die "cannot switch the guard's power-off off"
	ITOOLS_PANIC_SCRIPT=$QEMU_WORK/panic-noop ITOOLS_LOCALTOP_SCRIPT=$QEMU_WORK/local-top-panic \
		build_itools_initrd "$QEMU_WORK/initrd-itools-shell.img" "$AGENT_BIN" "$QEMU_WORK/agent-conf"
}

# no_guard DIR: the module copy without the guard's drop-in.
no_guard() {
	echo "# guard disabled by TDX_UNLOCK_TEST_NO_GUARD=1 (test only)" >"$1/tdx-unlock-guard.conf"
}

# The dracut module without the guard's drop-in (TDX_UNLOCK_TEST_NO_GUARD=1 only).
noguard_initrd_make() {
	build_dracut_variant noguard "$QEMU_WORK/initrd-dracut-noguard.img" no_guard
	echo "$QEMU_WORK/initrd-dracut-noguard.img"
}

# hostile_root_boot NAME INITRD CMDLINE AGENT_FIRST: one boot of the hostile root and its
# assertions. AGENT_FIRST=1: the agent runs (and refuses the header) before the guard: dracut, and
# initramfs-tools since its local-top runs `tdx-unlock guard --all` after the agent.
hostile_root_boot() {
	cur=$1
	boot_with_keyd "$cur" "$2" "$3" "$RECOVERY_PASSFILE" "$HOSTILE_ROOT_IMG" || return
	check "the VM ended before the timeout" [ "$(event timed_out)" = 0 ]
	check_powered_off_no_shell
	check "the hostile plaintext root never ran" log_lacks "$HOSTILE_ROOT_MARKER"
	check "no root was mounted" log_lacks "TDX-UNLOCK-TEST: real root mounted"
	check "no passphrase prompt appeared" is_unset "$(event prompt)"
	[ "$4" = 1 ] && check "the agent refused the header" log_has "$AGENT_HEADER_REFUSED_RX"
	check "the guard refused the device before any prompt" log_has "$GUARD_REFUSED_RX"
	check "tdx-keyd released nothing" keyd_audit_lacks "$KEYD_RELEASE_RX"
	say "   host time since QEMU start: guard refusal at $(grep -m1 -E "$GUARD_REFUSED_RX" \
		"$QEMU_WORK/$cur.log" | awk '{ print $1 }') s, VM ended at $(event elapsed) s"
}

scenario_9() {
	local initrd=$INITRD_DRACUT
	start_scenario 9 "hostile root: cipher_null segment + malformed digest, plaintext data -> no prompt, no boot"
	HOSTILE_ROOT_IMG=$QEMU_WORK/hostile-root.img
	hostile_root_make "$HOSTILE_ROOT_IMG"
	if [ "${TDX_UNLOCK_TEST_NO_GUARD:-0}" = 1 ]; then
		say "   TDX_UNLOCK_TEST_NO_GUARD=1: dracut initramfs WITHOUT the guard (this scenario must fail)"
		initrd=$(noguard_initrd_make)
	fi
	if [ -z "${INITRD_ITOOLS:-}" ]; then
		INITRD_ITOOLS=$QEMU_WORK/initrd-itools.img
		build_itools_initrd "$INITRD_ITOOLS" "$AGENT_BIN" "$QEMU_WORK/agent-conf"
	fi
	local itools=$INITRD_ITOOLS
	if [ "${TDX_UNLOCK_TEST_SHELL:-0}" = 1 ]; then
		say "   TDX_UNLOCK_TEST_SHELL=1: initramfs images WITHOUT the no-shell defences (this scenario must fail)"
		noshell_off_initrds_make
		initrd=$QEMU_WORK/initrd-dracut-shell.img itools=$QEMU_WORK/initrd-itools-shell.img
	fi
	hostile_root_boot scenario9 "$initrd" "$(root_cmdline dracut)" 1
	finish "hostile root refused (dracut)"
	if [ "${TDX_UNLOCK_TEST_NO_GUARD:-0}" != 1 ]; then
		start_scenario 9 "hostile root, initramfs-tools"
		hostile_root_boot scenario9-itools "$itools" "$(root_cmdline itools)" 1
		cur_n=9b finish "hostile root refused (initramfs-tools)"
	fi
}
