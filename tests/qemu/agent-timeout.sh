# shellcheck shell=bash
# Scenario 13 of the QEMU boots (sourced by run.sh): the agent fails by being killed. keyd's
# address answers TCP but never says a word (a host stalling the network), and the test initramfs's
# tdx-unlock.service has TimeoutStartSec=5 (below the ~10 s the agent spends on three stalled rounds; the shipped unit
# keeps its timeout above the budget), so systemd kills the agent mid-run, as it would kill one
# that hung. A release the agent got but never recorded must not be followed by a prompt:
# FailureAction=poweroff-force. Asserted on the production command line: no prompt, no shell, the
# VM powered off, no root.
#
# TDX_UNLOCK_TEST_NO_FAILURE_ACTION=1 (test only) builds the same unit without FailureAction: the
# boot then goes on to the prompt and the scenario must FAIL.

scenario_13() {
	local mod=$QEMU_WORK/dracut-module-timeout initrd=$QEMU_WORK/initrd-dracut-timeout.img port stall
	start_scenario 13 "agent killed by its unit's timeout (stalled server) -> power-off, no prompt"
	rm -rf "$mod"
	cp -a "$REPO/dracut-module" "$mod"
	sed -i 's/^TimeoutStartSec=.*/TimeoutStartSec=5/' "$mod/tdx-unlock.service"
	grep -q '^TimeoutStartSec=5$' "$mod/tdx-unlock.service" || die "cannot shorten the unit's timeout"
	if [ "${TDX_UNLOCK_TEST_NO_FAILURE_ACTION:-0}" = 1 ]; then
		say "   TDX_UNLOCK_TEST_NO_FAILURE_ACTION=1: unit WITHOUT FailureAction (this scenario must fail)"
		sed -i '/^FailureAction=/d' "$mod/tdx-unlock.service"
	fi
	DRACUT_MODULE_DIR=$mod build_dracut_initrd "$initrd" "$AGENT_BIN" "$QEMU_WORK/agent-conf"
	# A server that accepts every connection and never answers (bounded: 300 s).
	port=$(free_port)
	timeout 300 python3 - "$port" <<-'PY' &
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
	stall=$!
	KEYD_PORT=$port boot "$cur" "$initrd" "$(root_cmdline dracut)" "$RECOVERY_PASSFILE" "$ROOT_IMG"
	kill "$stall" 2>/dev/null
	wait "$stall" 2>/dev/null
	check "the agent started" is_set "$(event agent_started)"
	check "systemd killed the agent at the unit's timeout" log_has "tdx-unlock.service.*(timed out|Failed with result 'timeout')|Failed to start tdx-unlock"
	check "no passphrase prompt appeared" is_unset "$(event prompt)"
	check "no root was mounted" log_lacks "TDX-UNLOCK-TEST: real root mounted"
	check "the VM ended before the timeout" [ "$(event timed_out)" = 0 ]
	check_powered_off_no_shell
	finish "agent killed by the unit timeout -> power-off"
}
