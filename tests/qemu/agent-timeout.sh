# shellcheck shell=bash
# Scenario 13 of the QEMU boots (sourced by run.sh): the agent fails by being killed. keyd's
# address answers TCP but never says a word (a host stalling the network), and the test initramfs's
# tdx-unlock.service has TimeoutStartSec=5 (below the ~10 s the agent spends on three stalled rounds; the shipped unit
# keeps its timeout above the budget), so systemd kills the agent mid-run, as it would kill one
# that hung. A release the agent got but never recorded must not be followed by a prompt:
# FailureAction=poweroff-force. Asserted on the production command line: no prompt, no shell, the
# VM powered off, no root.
# 13b, initramfs-tools (no unit, no timeout): the test init-top (itools-tsm-sim) SIGKILLs the agent
# 1 s into its run (tdx_unlock_test.kill_agent=1), as an OOM kill or a crash would; local-top must
# power off on the killed agent's exit status (137), not go on to the guard and its prompt.
#
# TDX_UNLOCK_TEST_NO_FAILURE_ACTION=1 (test only) builds the same unit without FailureAction, and
# an initramfs-tools local-top that goes on to the guard after a killed agent: both boots then go
# on to the prompt and the scenario must FAIL.

# stall_server_start: a server on a free loopback port that accepts every connection and never
# answers (bounded: 300 s); sets STALL_PORT and STALL_PID.
stall_server_start() {
	STALL_PORT=$(free_port)
	timeout 300 python3 - "$STALL_PORT" <<-'PY' &
		import socket, sys, time
		s = socket.socket()
		s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		s.bind(("127.0.0.1", int(sys.argv[1])))
		s.listen(16)
		held = []
		while True:
		    c, _ = s.accept()
		    held.append(c)
	PY
	STALL_PID=$!
}
stall_server_stop() {
	kill "$STALL_PID" 2>/dev/null
	wait "$STALL_PID" 2>/dev/null
}

# The assertions both boots share: killed mid-run, then power-off with no prompt and no root.
check_killed_powered_off() {
	check "the agent started" is_set "$(event agent_started)"
	check "no passphrase prompt appeared" is_unset "$(event prompt)"
	check "no root was mounted" log_lacks "TDX-UNLOCK-TEST: real root mounted"
	check "the VM ended before the timeout" [ "$(event timed_out)" = 0 ]
	check_powered_off_no_shell
}

# unit_timeout_5s DIR: the unit's timeout shortened to 5 s; with TDX_UNLOCK_TEST_NO_FAILURE_ACTION=1
# also without its FailureAction.
unit_timeout_5s() {
	sed -i 's/^TimeoutStartSec=.*/TimeoutStartSec=5/' "$1/tdx-unlock.service"
	grep -q '^TimeoutStartSec=5$' "$1/tdx-unlock.service" || die "cannot shorten the unit's timeout"
	if [ "${TDX_UNLOCK_TEST_NO_FAILURE_ACTION:-0}" = 1 ]; then
		say "   TDX_UNLOCK_TEST_NO_FAILURE_ACTION=1: unit WITHOUT FailureAction (this scenario must fail)"
		sed -i '/^FailureAction=/d' "$1/tdx-unlock.service"
	fi
}

scenario_13() {
	local initrd=$QEMU_WORK/initrd-dracut-timeout.img
	start_scenario 13 "agent killed by its unit's timeout (stalled server) -> power-off, no prompt"
	build_dracut_variant timeout "$initrd" unit_timeout_5s
	stall_server_start
	KEYD_PORT=$STALL_PORT boot "$cur" "$initrd" "$(root_cmdline dracut)" "$RECOVERY_PASSFILE" "$ROOT_IMG"
	stall_server_stop
	check "systemd killed the agent at the unit's timeout" log_has "tdx-unlock.service.*(timed out|Failed with result 'timeout')|Failed to start tdx-unlock"
	# The unit starts at udev's coldplug and its device wait counts against the 5 s: the agent
	# itself must have been running (past its route wait) when the timeout struck.
	check "the agent itself was running when it was killed" log_has "tdx-unlock\[[0-9]+\]: unlock: "
	check_killed_powered_off
	finish "agent killed by the unit timeout -> power-off"
	scenario_13b
}

scenario_13b() {
	local initrd=${INITRD_ITOOLS:-} localtop=$QEMU_WORK/local-top-no-failure-action
	start_scenario 13 "agent killed mid-run (initramfs-tools) -> power-off, no prompt"
	cur=scenario13-itools
	if [ -z "$initrd" ]; then
		initrd=$QEMU_WORK/initrd-itools.img
		build_itools_initrd "$initrd" "$AGENT_BIN" "$QEMU_WORK/agent-conf"
		INITRD_ITOOLS=$initrd
	fi
	if [ "${TDX_UNLOCK_TEST_NO_FAILURE_ACTION:-0}" = 1 ]; then
		say "   TDX_UNLOCK_TEST_NO_FAILURE_ACTION=1: local-top goes on after a killed agent (this scenario must fail)"
		# shellcheck disable=SC2016 # a literal $rc in the pattern
		sed '/the agent failed (exit \$rc)/,/;;/ s/^\ttdx_unlock_poweroff$/\t: test knob: no power-off/' \
			"${ITOOLS_DIR:-$REPO/hook}/scripts/local-top/tdx-unlock" >"$localtop"
		grep -q 'test knob: no power-off' "$localtop" || die "cannot switch local-top's power-off off"
		initrd=$QEMU_WORK/initrd-itools-nofailure.img
		ITOOLS_LOCALTOP_SCRIPT=$localtop build_itools_initrd "$initrd" "$AGENT_BIN" "$QEMU_WORK/agent-conf"
	fi
	stall_server_start
	KEYD_PORT=$STALL_PORT boot "$cur" "$initrd" "$(root_cmdline itools) tdx_unlock_test.kill_agent=1" \
		"$RECOVERY_PASSFILE" "$ROOT_IMG"
	stall_server_stop
	check "the agent was killed mid-run (SIGKILL)" log_has "TDX-UNLOCK-TEST: killed the agent"
	check "it was killed before it recorded any outcome in RTMR3" log_lacks "tdx-unlock: rtmr: RTMR3 extended"
	check "local-top's shell is exempt from the OOM killer (oom_score_adj -1000)" \
		log_has "TDX-UNLOCK-TEST: local-top shell oom_score_adj=-1000"
	check "local-top saw the killed agent and refused to go on" \
		log_has "tdx-unlock: the agent failed \(exit 137\); no prompt without a recorded outcome"
	check_killed_powered_off
	cur_n=13b finish "agent killed mid-run -> power-off (initramfs-tools)"
}
