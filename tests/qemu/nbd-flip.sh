# shellcheck shell=bash
# Scenario 11 of the QEMU boots (sourced by run.sh): the root disk is served over NBD by Debian's
# nbdkit (tests/qemu/nbd-flip.py, started here on 127.0.0.1) and changes its bytes between two
# reads: the enrolled, valid LUKS2 image first; once the serial console shows NBD_FLIP_RX (default:
# the agent validated the header copy), the same disk with a cipher_null header and the host's own
# plaintext root (scenario 9's image). keyd is down, so the boot goes to the passphrase, where any
# second read of the header by the opener would "open" the plaintext with the typed passphrase
# (CVE-2025-59054). The agent opens only its validated copy, on the device it opened once.
# Asserted: the flip happened before the passphrase was typed and hostile bytes were read after
# it; the agent itself asked and opened from its copy; the host's plaintext root never ran, no
# root was mounted and the initramfs never switched root (the data decrypts to garbage: it waits
# for a root device that never becomes ready, until the test's NBD_FLIP_TIMEOUT), no shell.

NBD_FLIP_RX=${NBD_FLIP_RX:-tdx-unlock token for keyslot}

# The host flipped the disk (flag file written) before the serial console typed the passphrase.
flip_before_prompt() {
	local flipped typed
	# shellcheck disable=SC2154 # cur: the running scenario, set by run.sh
	flipped=$(grep -nE -- "$NBD_FLIP_RX" "$QEMU_WORK/$cur.log" | head -1 | cut -d: -f1)
	typed=$(grep -n "serial-console: typing the passphrase" "$QEMU_WORK/$cur.log" | head -1 | cut -d: -f1)
	[ -n "$flipped" ] && [ -n "$typed" ] && [ "$flipped" -lt "$typed" ]
}

scenario_11() {
	local port flag=$QEMU_WORK/scenario11.flip reads=$QEMU_WORK/scenario11.reads nbd watcher
	start_scenario 11 "root over NBD: valid header first, cipher_null header after the agent validated it -> plaintext never mounted"
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
	# The root mapping then decrypts to garbage, which systemd never marks ready: the initramfs
	# waits for its root device (no shell, nothing mounted) until the test stops it. The boot
	# reaches the prompt well within this bound; a mountable plaintext would come seconds later.
	BOOT_TIMEOUT=${NBD_FLIP_TIMEOUT:-180} KEYD_PORT=$(free_port) boot "$cur" "$INITRD_DRACUT" \
		"$(root_cmdline dracut)" "$RECOVERY_PASSFILE" "nbd:127.0.0.1:$port"
	kill "$watcher" "$nbd" 2>/dev/null
	wait "$watcher" "$nbd" 2>/dev/null
	check "nbdkit served the valid image first" grep -q " good$" "$reads"
	check "the disk flipped (the console showed /$NBD_FLIP_RX/)" [ -e "$flag" ]
	check "hostile bytes were read after the flip" grep -q " bad$" "$reads"
	check "the flip came before the passphrase was typed" flip_before_prompt
	check "the agent itself asked for the passphrase" log_has "tdx-unlock.*asking for the passphrase of luks-$ROOT_UUID"
	check "the agent opened its validated header copy" \
		log_has "unlocked as /dev/mapper/luks-$ROOT_UUID with the passphrase .*validated header copy"
	check "the host's plaintext root never ran" log_lacks "$HOSTILE_ROOT_MARKER"
	check "no root was mounted" log_lacks "TDX-UNLOCK-TEST: real root mounted"
	check "the initramfs never switched to a root" log_lacks "Reached target initrd-root-fs|Switching root"
	check "no shell prompt appeared on the serial console" is_unset "$(event shell)"
	if [ "$(event timed_out)" = 1 ]; then
		say "   the boot waited for its (garbage) root device until the test stopped it"
	fi
	if [ -e "$flag" ]; then
		say "   the disk flipped at the console line /$NBD_FLIP_RX/; $(grep -c ' bad$' "$reads") reads of hostile bytes followed"
	else
		say "   the console never showed /$NBD_FLIP_RX/: the disk never flipped"
	fi
	finish "NBD second-read flip (dracut)"
}
