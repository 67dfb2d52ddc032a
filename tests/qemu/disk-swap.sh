# shellcheck shell=bash
# Scenario 10 of the QEMU boots (sourced by run.sh): disk swap. The host replaces the enrolled root
# by a LUKS2 root of its own (scripts/make-test-root.sh, no tdx-unlock token, the enrolled root's
# UUID so the measured command line still names it) and types its passphrase at the prompt. The
# agent finds no token and records that in RTMR3 before any prompt; the host's root then runs, and
# its code (tests/qemu/ask-keyd.sh with a copy of the enrolled header, which the host has) asks keyd
# for the root's secret with the agent's own attestation from that TD: keyd must refuse it (RTMR3 is
# no longer at its pre-unlock value) and say so in its audit. Booted with dracut and
# initramfs-tools. TDX_UNLOCK_TEST_WAIVE_RTMR3=1 (setup.sh) must make it fail.

scenario_10() {
	local swap=$QEMU_WORK/swapped-root.img extras=$QEMU_WORK/swap-extras
	start_scenario 10 "disk swap: a host-made LUKS2 root without a token -> its code is refused by keyd"
	# The host's root carries the agent, its configuration and the enrolled header (sparse beyond
	# the header: only the token and keyslots matter for asking).
	root_extras_make "$extras"
	cp --sparse=always "$ROOT_IMG" "$extras/tdx-test/enrolled-header.img"
	truncate -s 16M "$extras/tdx-test/enrolled-header.img"
	truncate -s "$(stat -c %s "$ROOT_IMG")" "$extras/tdx-test/enrolled-header.img"
	"$REPO/scripts/make-test-root.sh" --extra "$extras" "$RECOVERY_PASSFILE" "$swap" >/dev/null ||
		die "swapped root image"
	cryptsetup luksUUID -q --uuid "$ROOT_UUID" "$swap" || die "cannot give the swapped root the enrolled UUID"
	disk_swap_boot scenario10 "$INITRD_DRACUT" "$(root_cmdline dracut)" "$swap"
	finish "disk swap (dracut)"
	start_scenario 10 "disk swap, initramfs-tools"
	disk_swap_boot scenario10-itools "$INITRD_ITOOLS" "$(root_cmdline itools)" "$swap"
	cur_n=10b finish "disk swap (initramfs-tools)"
}

disk_swap_boot() {
	cur=$1
	boot_with_keyd "$cur" "$2" "$3 tdx_unlock_test.ask_keyd=1" "$RECOVERY_PASSFILE" "$4" || return
	check "the boot finished before the timeout" [ "$(event timed_out)" = 0 ]
	check "no shell prompt appeared on the serial console" is_unset "$(event shell)"
	check "the host typed its passphrase at the prompt" [ "$(event prompts_answered)" -ge 1 ]
	check "the host's root ran" log_has "TDX-UNLOCK-TEST: real root mounted"
	check "the runtime log records that the agent found no token" \
		log_has "TDX-UNLOCK-TEST: ask-keyd: runtime log: .*tdx-unlock no-token"
	check_asked_keyd_refused 0
}
