#!/bin/bash
# End-to-end boots of tdx-unlock in QEMU (issue 5, docs/boot.md): a Debian kernel, an initramfs
# built by dracut (scenario 7: initramfs-tools) with the agent, and a LUKS2 root; tdx-keyd on
# 127.0.0.1 trusting the test quote root, reached by the guest through a per-connection guestfwd
# relay. Every boot is bounded; each scenario asserts from the serial log that the real root was
# mounted, and prints its kernel-start-to-unlock time.
#
# usage: tests/qemu/run.sh [--demo] [--bench] [SCENARIO...]   (default: 1-15)
#   1 automatic unlock, then a second release asked from the real root is refused (RTMR3)
#                                        5 root and data disks both unlocked automatically
#   2 keyd stopped -> prompt             6 data disk header rewritten with cipher_null -> refused
#   3 policy mismatch -> prompt          7 scenario 1 with an initramfs-tools initramfs
#   4 wrong server key (pin) -> prompt   8 no network card at all -> bounded wait -> prompt
#                                        (7 also: a second release from the real root is refused)
#   9 hostile root (cipher_null + digest bug, plaintext data) -> guard refuses, no prompt, power-off
#  10 disk swap: host-made root without a token, host's passphrase at the prompt; its root asks
#     keyd with the agent's attestation -> refused (RTMR3), both initramfs kinds
#  11 root over NBD flips to a cipher_null header after the agent validated it -> the agent opens
#     only its validated copy: the host's plaintext never mounted, power-off (11b: initramfs-tools)
#  12 root disk hot-plugged 5 s after the agent's unit started -> still unlocked (both initramfs kinds)
#  13 agent killed by its unit's timeout (stalled server) -> power-off, no prompt; 13b the agent
#     SIGKILLed mid-run under initramfs-tools -> power-off, no prompt
#  14 scenario 10 in recovery mode (rd.tdx_unlock.recovery=1, dracut) -> refused likewise
#  15 plymouth in the initramfs (built in a chroot), keyd stopped -> the agent's prompt through
#     plymouth -> passphrase
# Environment: BUILD (binaries), QEMU_WORK (work dir), BOOT_TIMEOUT (s per boot), QEMU_ACCEL.
set -uo pipefail
# shellcheck source=tests/qemu/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/qemu/setup.sh
. "$(dirname "$0")/setup.sh"
# shellcheck source=tests/qemu/hostile-root.sh
. "$(dirname "$0")/hostile-root.sh"
# shellcheck source=tests/qemu/late-disk.sh
. "$(dirname "$0")/late-disk.sh"
# shellcheck source=tests/qemu/nbd-flip.sh
. "$(dirname "$0")/nbd-flip.sh"
# shellcheck source=tests/qemu/agent-timeout.sh
. "$(dirname "$0")/agent-timeout.sh"
# shellcheck source=tests/qemu/disk-swap.sh
. "$(dirname "$0")/disk-swap.sh"
# shellcheck source=tests/qemu/plymouth.sh
. "$(dirname "$0")/plymouth.sh"

demo=0
bench=0
scenarios=()
while [ $# -gt 0 ]; do
	case $1 in
	--demo) demo=1 ;;
	--bench) bench=1 ;;
	[1-9] | 1[0-5]) scenarios+=("$1") ;;
	*) die "unknown argument '$1' (see the usage at the top of $0)" ;;
	esac
	shift
done
[ ${#scenarios[@]} -gt 0 ] || scenarios=(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15)

results=()
failed=0

# check NAME CONDITION-DESCRIPTION COMMAND...: one assertion of the current scenario.
check() {
	local what=$1
	shift
	if "$@"; then
		return 0
	fi
	say "   FAIL: $what"
	scenario_ok=0
	return 1
}
log_has() { grep -qE -- "$1" "$QEMU_WORK/$cur.log"; }
log_lacks() { ! grep -qE -- "$1" "$QEMU_WORK/$cur.log"; }
event() { summary_get "$cur" "$1"; }
is_set() { [ -n "$1" ]; }
is_unset() { [ -z "$1" ]; }

# The assertions every boot shares: it finished in time and the real root is the LUKS2 device
# (ROOT_MAPPER: its mapping name, luks-<UUID> unless the scenario sets a crypttab name).
check_reached_root() {
	local mapper=${ROOT_MAPPER:-luks-$ROOT_UUID}
	check "the boot finished before the timeout" [ "$(event timed_out)" = 0 ]
	check "the real root was mounted (TDX-UNLOCK-TEST marker)" log_has "TDX-UNLOCK-TEST: real root mounted"
	check "the root is /dev/mapper/$mapper" log_has "TDX-UNLOCK-TEST: root is /dev/mapper/$mapper\$"
	check "the root mapping belongs to LUKS UUID $ROOT_UUID" \
		log_has "TDX-UNLOCK-TEST: dm $mapper CRYPT-LUKS2-${ROOT_UUID//-/}-"
}
# The boot ended in a power-off (not a reboot, not the timeout) and no shell was ever offered.
check_powered_off_no_shell() {
	check "the VM powered off (kernel: reboot: Power down)" is_set "$(event power_down)"
	check "no shell prompt appeared on the serial console" is_unset "$(event shell)"
}
check_automatic() {
	check "no passphrase prompt appeared" is_unset "$(event prompt)"
	check_reached_root
}
check_prompted() {
	check "the passphrase prompt appeared" is_set "$(event prompt)"
	check "the passphrase was typed over the serial console" [ "$(event prompts_answered)" -ge 1 ]
	check_reached_root
}

# finish DESCRIPTION: prints the scenario's verdict and timings.
finish() {
	local unlock root prompt line agent_start agent_end
	agent_start=$(event agent_started)
	agent_end=$(event agent_finished)
	unlock=$(event cryptsetup_done)
	root=$(event root_mounted)
	prompt=$(event prompt)
	line="kernel start -> unlock ${unlock:-?} s, -> real root ${root:-?} s"
	line="$line (agent ran ${agent_start:-?} -> ${agent_end:-?} s"
	[ -n "$prompt" ] && line="$line, prompt at $prompt s"
	line="$line)"
	if [ "$scenario_ok" = 1 ]; then
		results+=("PASS  scenario $cur_n: $1: $line")
	else
		results+=("FAIL  scenario $cur_n: $1: $line (log: $QEMU_WORK/$cur.log)")
		failed=1
	fi
	say "${results[-1]}"
}

start_scenario() {
	cur_n=$1
	cur=scenario$1
	scenario_ok=1
	say "== scenario $1: $2"
}

# A program in the real root (tests/qemu/ask-keyd.sh) asked keyd with the agent's attestation, after
# the boot's outcome was recorded in RTMR3, and keyd refused it on RTMR3, releasing nothing to it.
# RELEASES: how many releases keyd's audit may hold in all (the agent's own, if any).
check_asked_keyd_refused() {
	local releases=$1 n
	check "the real root's program asked keyd with the boot's runtime log (RTMR3 emulation survived switch-root)" \
		log_has "TDX-UNLOCK-TEST: ask-keyd: runtime log: "
	check "the real root's program got no secret (refused, exit 5)" log_has "TDX-UNLOCK-TEST: ask-keyd exit 5"
	check "tdx-keyd refused it with an RTMR3 mismatch in its audit line" \
		keyd_audit_has "\"event\":\"resource\".*\"resource\":\"$ROOT_RESOURCE\".*\"reason\":\"[^\"]*RTMR3[^\"]*mismatch"
	check "tdx-keyd replayed both logs of the real root's request (CCEL and the runtime log)" \
		keyd_audit_has '"event":"attest".*"reason":"attested \(event logs replayed: CCEL AAEL\)'
	check "its RTMR3 refusal names what the replayed runtime log recorded" \
		keyd_audit_has "\"event\":\"resource\".*RTMR3 mismatch \\(runtime log replayed at attest: [0-9]+ events?, last 'tdx-unlock [a-z-]+ "
	n=$(grep -c "$KEYD_RELEASE_RX" "$KEYD_AUDIT" 2>/dev/null)
	check "tdx-keyd released $releases time(s) in this boot, not more (audit: ${n:-0})" [ "${n:-0}" = "$releases" ]
}

scenario_1() {
	start_scenario 1 "automatic unlock (dracut); then a second release from the real root is refused"
	boot_with_keyd "$cur" "$INITRD_DRACUT" "$(root_cmdline dracut) tdx_unlock_test.ask_keyd=1" \
		"$RECOVERY_PASSFILE" "$ROOT_IMG" || return
	check_automatic
	check "the agent reported success" log_has "$AGENT_SUCCESS_RX"
	check "tdx-keyd replayed the agent's CCEL against its quote" \
		keyd_audit_has '"event":"attest".*attested \(event logs replayed: CCEL'
	check "the runtime log records the agent's release" \
		log_has "TDX-UNLOCK-TEST: ask-keyd: runtime log: .*tdx-unlock released $ROOT_UUID"
	check_asked_keyd_refused 1
	finish "automatic unlock, second release refused"
}

scenario_2() {
	start_scenario 2 "tdx-keyd stopped -> prompt -> recovery passphrase"
	KEYD_PORT=$(free_port) boot "$cur" "$INITRD_DRACUT" "$(root_cmdline dracut)" \
		"$RECOVERY_PASSFILE" "$ROOT_IMG"
	check_prompted
	check "the agent found the server unreachable" log_has "$AGENT_UNREACHABLE_RX"
	check "the agent gave up within its configured time (${AGENT_TOTAL_TIMEOUT}s + 5s)" \
		awk -v a="$(event agent_started)" -v p="$(event prompt)" -v t="$AGENT_TOTAL_TIMEOUT" \
		'BEGIN { exit !(a != "" && p != "" && p - a <= t + 5) }'
	finish "server down, passphrase fallback"
}

scenario_3() {
	start_scenario 3 "policy mismatch -> refused -> prompt -> recovery passphrase"
	keyd_start wrong-policy || return
	boot "$cur" "$INITRD_DRACUT" "$(root_cmdline dracut)" "$RECOVERY_PASSFILE" "$ROOT_IMG"
	keyd_stop
	check_prompted
	check "tdx-keyd refused with a policy reason in its audit log" keyd_audit_has "$KEYD_POLICY_DENY_RX"
	finish "policy mismatch, passphrase fallback"
}

scenario_4() {
	start_scenario 4 "server key does not match the pin -> refused -> prompt -> passphrase"
	keyd_start wrong-cert || return
	boot "$cur" "$INITRD_DRACUT" "$(root_cmdline dracut)" "$RECOVERY_PASSFILE" "$ROOT_IMG"
	keyd_stop
	check_prompted
	check "the agent refused the server's key" log_has "$AGENT_PIN_FAIL_RX"
	check "tdx-keyd released nothing" keyd_audit_lacks "$KEYD_RELEASE_RX"
	finish "wrong server key, passphrase fallback"
}

scenario_5() {
	start_scenario 5 "root (named by rd.luks.name=) and data disks both unlocked automatically"
	boot_with_keyd "$cur" "$INITRD_DRACUT" "$(root_cmdline dracut-named)" "$RECOVERY_PASSFILE" \
		"$ROOT_IMG" "$DATA_IMG" || return
	ROOT_MAPPER=$DRACUT_ROOT_NAME check_automatic
	check "the agent named the root mapping by rd.luks.name= itself (no rename)" \
		log_has "$AGENT_LINE_RX/dev/vda: unlocked as /dev/mapper/$DRACUT_ROOT_NAME "
	check "the rename fallback had nothing to do" log_lacks "is now $DRACUT_ROOT_NAME"
	check "the data disk was unlocked as luks-$DATA_UUID" log_has "TDX-UNLOCK-TEST: dm luks-$DATA_UUID "
	check "the data disk's filesystem is readable" log_has "TDX-UNLOCK-TEST: data disk luks-$DATA_UUID readable"
	finish "two disks"
}

scenario_6() {
	start_scenario 6 "data disk header rewritten with a cipher_null segment -> refused"
	boot_with_keyd "$cur" "$INITRD_DRACUT" "$(root_cmdline dracut)" "$RECOVERY_PASSFILE" \
		"$ROOT_IMG" "$HOSTILE_IMG" || return
	check_automatic
	check "the hostile disk was never activated" log_lacks "TDX-UNLOCK-TEST: dm luks-$HOSTILE_UUID"
	check "the agent refused the hostile header" log_has "$AGENT_HEADER_REFUSED_RX"
	check "the hostile disk's secret was never even requested" \
		keyd_audit_lacks "\"resource\":\"$DATA_RESOURCE\""
	check "while the root's was released" keyd_audit_has "\"resource\":\"$ROOT_RESOURCE\".*$KEYD_RELEASE_RX"
	finish "hostile header refused"
}

scenario_8() {
	start_scenario 8 "no network at all -> bounded wait -> prompt -> recovery passphrase"
	QEMU_NO_NET=1 boot "$cur" "$INITRD_DRACUT" "$(root_cmdline dracut)" "$RECOVERY_PASSFILE" "$ROOT_IMG"
	check_prompted
	check "the agent found the server unreachable" log_has "$AGENT_UNREACHABLE_RX"
	# wait-online's own default would be 120 s: the module bounds it (30 s) and the agent (20 s).
	check "the prompt came within 30 s + the agent's ${AGENT_TOTAL_TIMEOUT} s (+15 s) of the network wait" \
		awk -v a="$(event network_wait)" -v p="$(event prompt)" -v t="$AGENT_TOTAL_TIMEOUT" \
		'BEGIN { exit !(a != "" && p != "" && p - a <= 30 + t + 15) }'
	finish "no network, bounded wait, passphrase fallback"
}

scenario_7() {
	start_scenario 7 "automatic unlock (initramfs-tools); then a second release from the real root is refused"
	boot_with_keyd "$cur" "$INITRD_ITOOLS" "$(root_cmdline itools) tdx_unlock_test.ask_keyd=1" \
		"$RECOVERY_PASSFILE" "$ROOT_IMG" || return
	ROOT_MAPPER=$ITOOLS_ROOT_NAME check_automatic
	check "the agent reported success" log_has "tdx-unlock: devices unlocked"
	check "the agent named the mapping by cryptopts= itself (no rename)" \
		log_has "tdx-unlock: /dev/vda: unlocked as /dev/mapper/$ITOOLS_ROOT_NAME "
	check "the rename fallback had nothing to do" log_lacks "is now $ITOOLS_ROOT_NAME"
	check "the runtime log records the agent's release" \
		log_has "TDX-UNLOCK-TEST: ask-keyd: runtime log: .*tdx-unlock released $ROOT_UUID"
	check_asked_keyd_refused 1
	finish "automatic unlock, second release refused (initramfs-tools)"
}

# All of it in one function, parsed before it runs: editing this file during a run is harmless.
main() {
	suite_start=$(date +%s)
	setup_all "${scenarios[@]}"
	for n in "${scenarios[@]}"; do
		"scenario_$n"
	done
	keyd_stop

	say ""
	say "== QEMU boot tests ($(qemu_accel), $(($(date +%s) - suite_start)) s in total)"
	for r in "${results[@]}"; do say "$r"; done
	if [ "$demo" = 1 ] && [ "$failed" = 0 ]; then
		cur=scenario1
		say ""
		say "The VM's LUKS2 root disk was unlocked by tdx-keyd, with no passphrase, $(event cryptsetup_done) s after the kernel started ($(qemu_accel | tr '[:lower:]' '[:upper:]'); the agent itself took $(awk -v a="$(event agent_started)" -v b="$(event agent_finished)" 'BEGIN { printf "%.1f", b - a }') s)."
	fi
	if [ "$bench" = 1 ]; then
		cur=scenario1
		printf 'bench: qemu scenario 1 kernel start -> unlock: %s s (%s)\n' "$(event cryptsetup_done)" "$(qemu_accel)"
		printf 'bench: qemu scenario 1 kernel start -> real root: %s s\n' "$(event root_mounted)"
		# The agent's own figures, the quote (the host's share) apart from the rest.
		printf 'bench: qemu scenario 1 agent %s\n' \
			"$(grep -o 'timing: all unlocked after .*' "$QEMU_WORK/scenario1.log" | tail -1 | tr -d '\r')"
		# Same dracut run without the module, and without the network stack it brings in.
		build_dracut_initrd "$QEMU_WORK/initrd-nomodule.img"
		build_dracut_initrd "$QEMU_WORK/initrd-nonet.img" "" "" "${DRACUT_MODULES/systemd-networkd/}"
		with=$(stat -c %s "$INITRD_DRACUT")
		without=$(stat -c %s "$QEMU_WORK/initrd-nomodule.img")
		nonet=$(stat -c %s "$QEMU_WORK/initrd-nonet.img")
		printf 'bench: dracut initramfs (zstd) with the module %d B, without %d B: the module adds %d B (%s MiB)\n' \
			"$with" "$without" "$((with - without))" "$(awk -v b=$((with - without)) 'BEGIN { printf "%.2f", b / 1048576 }')"
		printf 'bench: with the initramfs network stack it needs (systemd-networkd): adds %d B (%s MiB)\n' \
			"$((with - nonet))" "$(awk -v b=$((with - nonet)) 'BEGIN { printf "%.2f", b / 1048576 }')"
	fi
	exit "$failed"
}
# Run when executed, not when sourced. Being one compound command, it is parsed whole before main
# runs; and shellcheck sees the script may go on, so the scenario_N that main calls by name count
# as reachable.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	main
fi
