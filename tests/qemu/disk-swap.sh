# shellcheck shell=bash
# Scenario 10 of the QEMU boots (sourced by run.sh): disk swap. The host replaces the enrolled root
# by a LUKS2 root of its own (scripts/make-test-root.sh, no tdx-unlock token, the enrolled root's
# UUID so the measured command line still names it) and types its passphrase at the prompt. The
# agent finds no token and records that in RTMR3 before any prompt; the host's root then runs, and
# its code (tests/qemu/ask-keyd.sh with a copy of the enrolled header, which the host has) asks keyd
# for the root's secret with the agent's own attestation from that TD: keyd must refuse it (RTMR3 is
# no longer at its pre-unlock value) and say so in its audit. Booted with dracut and
# initramfs-tools (10, 10b), and in recovery mode (14). TDX_UNLOCK_TEST_WAIVE_RTMR3=1 (setup.sh)
# must make each fail.

# swapped_root_make OUT: the host's own LUKS2 root (no token, the enrolled root's UUID) carrying
# the agent, its configuration and the enrolled header (sparse beyond the header: only the token
# and keyslots matter for asking). Made once per run.
swapped_root_make() {
	local out=$1 extras=$QEMU_WORK/swap-extras
	[ -s "$out" ] && return
	root_extras_make "$extras"
	cp --sparse=always "$ROOT_IMG" "$extras/tdx-test/enrolled-header.img"
	truncate -s 16M "$extras/tdx-test/enrolled-header.img"
	truncate -s "$(stat -c %s "$ROOT_IMG")" "$extras/tdx-test/enrolled-header.img"
	"$REPO/scripts/make-test-root.sh" --extra "$extras" "$RECOVERY_PASSFILE" "$out" >/dev/null ||
		die "swapped root image"
	cryptsetup luksUUID -q --uuid "$ROOT_UUID" "$out" || die "cannot give the swapped root the enrolled UUID"
}

scenario_10() {
	local swap=$QEMU_WORK/swapped-root.img
	start_scenario 10 "disk swap: a host-made LUKS2 root without a token -> its code is refused by keyd"
	swapped_root_make "$swap"
	disk_swap_boot scenario10 "$INITRD_DRACUT" "$(root_cmdline dracut)" "$swap" no-token
	finish "disk swap (dracut)"
	start_scenario 10 "disk swap, initramfs-tools"
	disk_swap_boot scenario10-itools "$INITRD_ITOOLS" "$(root_cmdline itools)" "$swap" no-token
	cur_n=10b finish "disk swap (initramfs-tools)"
}

# Scenario 14: scenario 10 in recovery mode. The host boots its swapped root with
# rd.tdx_unlock.recovery=1 on the command line (in a real TD that changes RTMR2, so no normal
# policy matches the boot; the test's simulated quotes do not model RTMR2 from the command line,
# so here the refusal comes from RTMR3, where the agent recorded "recovery" before anything else).
# The agent tries no release, the guard records "fallback" and asks, the host types its
# passphrase, its root runs and asks keyd with the agent's attestation: refused, and keyd's audit
# line says why. TDX_UNLOCK_TEST_WAIVE_RTMR3=1 must make it fail.
scenario_14() {
	local swap=$QEMU_WORK/swapped-root.img
	start_scenario 14 "disk swap in recovery mode (rd.tdx_unlock.recovery=1) -> its code is refused by keyd"
	swapped_root_make "$swap"
	disk_swap_boot scenario14 "$INITRD_DRACUT" "$(root_cmdline dracut) rd.tdx_unlock.recovery=1" \
		"$swap" recovery
	check "the agent ran in recovery mode and tried no release" \
		log_has "${AGENT_LINE_RX}unlock: recovery mode \(rd.tdx_unlock.recovery=1\): no release is tried"
	check "the runtime log records the guard's fallback" \
		log_has "TDX-UNLOCK-TEST: ask-keyd: runtime log: .*tdx-unlock fallback $ROOT_UUID"
	finish "disk swap in recovery mode (dracut)"
}

# disk_swap_boot NAME INITRD CMDLINE DISK EVENT: EVENT is what the agent must have recorded
# in the runtime log (no-token: it found no token; recovery: a recovery boot).
disk_swap_boot() {
	cur=$1
	boot_with_keyd "$cur" "$2" "$3 tdx_unlock_test.ask_keyd=1" "$RECOVERY_PASSFILE" "$4" || return
	check "the boot finished before the timeout" [ "$(event timed_out)" = 0 ]
	check "no shell prompt appeared on the serial console" is_unset "$(event shell)"
	check "the host typed its passphrase at the prompt" [ "$(event prompts_answered)" -ge 1 ]
	check "the host's root ran" log_has "TDX-UNLOCK-TEST: real root mounted"
	check "the runtime log records the agent's '$5'" \
		log_has "TDX-UNLOCK-TEST: ask-keyd: runtime log: .*tdx-unlock $5"
	check_asked_keyd_refused 0
}
