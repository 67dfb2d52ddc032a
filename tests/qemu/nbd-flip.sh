# shellcheck shell=bash
# Scenario 11 of the QEMU boots (sourced by run.sh): the root disk is served over NBD by Debian's
# nbdkit (tests/qemu/nbd-flip.py, started here on 127.0.0.1) and changes its bytes between two
# reads: the enrolled, valid LUKS2 image first; once the serial console shows FLIP_RX (default: the
# header check before the prompt passed), the same disk with a cipher_null header and the host's
# own plaintext root (scenario 9's image). keyd is down, so the boot goes to the fallback, where a
# second read of the header by the opener would "open" the plaintext with the host's passphrase
# (CVE-2025-59054). Asserted: the host's plaintext root never ran, no shell, the VM ended.

NBD_FLIP_RX=${NBD_FLIP_RX:-passes the allow-list}

scenario_11() {
	local port flag=$QEMU_WORK/scenario11.flip reads=$QEMU_WORK/scenario11.reads nbd watcher
	start_scenario 11 "root over NBD: valid header first, cipher_null header after the check -> plaintext never mounted"
	HOSTILE_ROOT_IMG=$QEMU_WORK/hostile-root.img
	[ -s "$HOSTILE_ROOT_IMG" ] || hostile_root_make "$HOSTILE_ROOT_IMG"
	rm -f "$flag" "$reads" "$QEMU_WORK/$cur.log"
	port=$(free_port)
	nbdkit -r -f -i 127.0.0.1 -p "$port" python "$REPO/tests/qemu/nbd-flip.py" good="$ROOT_IMG" \
		bad="$HOSTILE_ROOT_IMG" flag="$flag" log="$reads" >"$QEMU_WORK/nbdkit-$cur.log" 2>&1 &
	nbd=$!
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
		sleep 0.1
	done
	# The host flips the disk the moment the console says the check passed (bounded: 300 s).
	(
		for _ in $(seq 3000); do
			grep -qE -- "$NBD_FLIP_RX" "$QEMU_WORK/$cur.log" 2>/dev/null && touch "$flag" && exit 0
			sleep 0.1
		done
	) &
	watcher=$!
	KEYD_PORT=$(free_port) boot "$cur" "$INITRD_DRACUT" "$(root_cmdline dracut)" "$RECOVERY_PASSFILE" \
		"nbd:127.0.0.1:$port"
	kill "$watcher" "$nbd" 2>/dev/null
	wait "$watcher" "$nbd" 2>/dev/null
	check "nbdkit served the valid image first" grep -q " good$" "$reads"
	check "the VM ended before the timeout" [ "$(event timed_out)" = 0 ]
	check "the host's plaintext root never ran" log_lacks "$HOSTILE_ROOT_MARKER"
	check "no root was mounted" log_lacks "TDX-UNLOCK-TEST: real root mounted"
	check "no shell prompt appeared on the serial console" is_unset "$(event shell)"
	if [ -e "$flag" ]; then
		say "   the disk flipped at the console line /$NBD_FLIP_RX/; $(grep -c ' bad$' "$reads") reads of hostile bytes followed"
	else
		say "   the console never showed /$NBD_FLIP_RX/: the disk never flipped"
	fi
	finish "NBD second-read flip (dracut)"
}
