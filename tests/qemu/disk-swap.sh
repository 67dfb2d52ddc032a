# shellcheck shell=bash
# Scenario 10 of the QEMU boots (sourced by run.sh): disk swap. The host replaces the enrolled root
# by a LUKS2 root of its own (scripts/make-test-root.sh, no tdx-unlock token, the enrolled root's
# UUID so the measured command line still names it) and types its passphrase whenever a prompt
# appears. On a normal (non-recovery) boot the TD must power off without a prompt: the host's root
# never runs. Booted with dracut and initramfs-tools, keyd up (it must release nothing).
# (Recovery mode -- the prompt allowed, the host's root then refused by keyd on RTMR3 -- needs the
# guest's RTMR emulation: docs/threat-model.md, "Status".)

scenario_10() {
	local swap=$QEMU_WORK/swapped-root.img
	start_scenario 10 "disk swap: a host-made LUKS2 root without a token -> power-off, no prompt"
	"$REPO/scripts/make-test-root.sh" "$RECOVERY_PASSFILE" "$swap" >/dev/null || die "swapped root image"
	cryptsetup luksUUID -q --uuid "$ROOT_UUID" "$swap" || die "cannot give the swapped root the enrolled UUID"
	disk_swap_boot scenario10 "$INITRD_DRACUT" "$(root_cmdline dracut)" "$swap"
	finish "disk swap (dracut)"
	start_scenario 10 "disk swap, initramfs-tools"
	if [ -z "${INITRD_ITOOLS:-}" ]; then
		INITRD_ITOOLS=$QEMU_WORK/initrd-itools.img
		build_itools_initrd "$INITRD_ITOOLS" "$AGENT_BIN" "$QEMU_WORK/agent-conf"
	fi
	disk_swap_boot scenario10-itools "$INITRD_ITOOLS" "$(root_cmdline itools)" "$swap"
	cur_n=10b finish "disk swap (initramfs-tools)"
}

disk_swap_boot() {
	cur=$1
	keyd_start good || return
	boot "$cur" "$2" "$3" "$RECOVERY_PASSFILE" "$4"
	keyd_stop
	check "the VM ended before the timeout" [ "$(event timed_out)" = 0 ]
	check "no passphrase prompt appeared" is_unset "$(event prompt)"
	check "the host's root never ran" log_lacks "TDX-UNLOCK-TEST: real root mounted"
	check_powered_off_no_shell
	check "tdx-keyd released nothing" keyd_audit_lacks "$KEYD_RELEASE_RX"
}
