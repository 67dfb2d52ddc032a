# shellcheck shell=bash
# Scenario 11 of the QEMU boots (sourced by run.sh): the root disk is served over NBD by Debian's
# nbdkit (tests/qemu/nbd-flip.py, started here on 127.0.0.1) and changes its bytes between two
# reads: the enrolled, valid LUKS2 image first; once the serial console shows NBD_FLIP_RX (default:
# the agent validated the header copy), the same disk with a cipher_null header and the host's own
# plaintext root (scenario 9's image). keyd is down, so the boot goes to the passphrase, where any
# second read of the header by the opener would "open" the plaintext with the typed passphrase
# (CVE-2025-59054). The agent opens only its validated copy, on the device it opened once.
# Asserted, with dracut (11) and then initramfs-tools (11b): the flip happened before the
# passphrase was typed and hostile bytes were read after it; the agent itself asked and opened
# from its copy; the host's plaintext root never ran, no root was mounted and the initramfs never
# switched root; the VM powered off well before the test's bound (NBD_FLIP_TIMEOUT), no shell.
# The data decrypts to garbage: dracut's root device never becomes ready, and the module's
# tdx-unlock-root-wait.service powers off once its bound has passed after the volumes were set up
# (60 s by default; the test initramfs has 30 s: TDX_UNLOCK_ROOT_TIMEOUT in lib.sh); initramfs-tools
# finds no file system on the root and its panic powers off.
# TDX_UNLOCK_TEST_NO_ROOT_WAIT=1 (test only) builds the dracut initramfs without the root wait:
# that boot then waits until the test's bound and scenario 11 must fail.

NBD_FLIP_RX=${NBD_FLIP_RX:-tdx-unlock token for keyslot}

# The host flipped the disk (flag file written) before the serial console typed the passphrase.
flip_before_prompt() {
	local flipped typed
	# shellcheck disable=SC2154 # cur: the running scenario, set by run.sh
	flipped=$(grep -nE -- "$NBD_FLIP_RX" "$QEMU_WORK/$cur.log" | head -1 | cut -d: -f1)
	typed=$(grep -n "serial-console: typing the passphrase" "$QEMU_WORK/$cur.log" | head -1 | cut -d: -f1)
	[ -n "$flipped" ] && [ -n "$typed" ] && [ "$flipped" -lt "$typed" ]
}

# nbd_flip_boot NAME INITRD CMDLINE MAPPING: one boot from the flipping NBD disk, and the checks
# both initramfs kinds share.
nbd_flip_boot() {
	local name=$1 initrd=$2 cmdline=$3 mapping=$4 port nbd watcher
	local flag=$QEMU_WORK/$name.flip reads=$QEMU_WORK/$name.reads
	cur=$name
	HOSTILE_ROOT_IMG=$QEMU_WORK/hostile-root.img
	[ -s "$HOSTILE_ROOT_IMG" ] || hostile_root_make "$HOSTILE_ROOT_IMG"
	rm -f "$flag" "$reads" "$QEMU_WORK/$name.log"
	port=$(free_port)
	nbdkit -r -f -i 127.0.0.1 -p "$port" python "$REPO/tests/qemu/nbd-flip.py" good="$ROOT_IMG" \
		bad="$HOSTILE_ROOT_IMG" flag="$flag" log="$reads" >"$QEMU_WORK/nbdkit-$name.log" 2>&1 &
	nbd=$!
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
		sleep 0.1
	done
	# The host flips the disk the moment the console says the check passed (bounded: 300 s).
	(
		for _ in $(seq 3000); do
			grep -qE -- "$NBD_FLIP_RX" "$QEMU_WORK/$name.log" 2>/dev/null && touch "$flag" && exit 0
			sleep 0.1
		done
	) &
	watcher=$!
	# The boot reaches the prompt within a minute here (TCG, under load); the power-off must follow
	# within the root wait's 30 s. A mountable plaintext would have come seconds after the prompt.
	BOOT_TIMEOUT=${NBD_FLIP_TIMEOUT:-150} KEYD_PORT=$(free_port) boot "$name" "$initrd" \
		"$cmdline" "$RECOVERY_PASSFILE" "nbd:127.0.0.1:$port"
	kill "$watcher" "$nbd" 2>/dev/null
	wait "$watcher" "$nbd" 2>/dev/null
	check "nbdkit served the valid image first" grep -q " good$" "$reads"
	check "the disk flipped (the console showed /$NBD_FLIP_RX/)" [ -e "$flag" ]
	check "hostile bytes were read after the flip" grep -q " bad$" "$reads"
	check "the flip came before the passphrase was typed" flip_before_prompt
	check "the agent itself asked for the passphrase" log_has "tdx-unlock.*asking for the passphrase of $mapping"
	check "the agent opened its validated header copy" \
		log_has "unlocked as /dev/mapper/$mapping with the passphrase .*validated header copy"
	check "the host's plaintext root never ran" log_lacks "$HOSTILE_ROOT_MARKER"
	check "no root was mounted" log_lacks "TDX-UNLOCK-TEST: real root mounted"
	check "the initramfs never switched to a root" log_lacks "Reached target initrd-root-fs|Switching root"
	check "the boot ended before the test's bound (${NBD_FLIP_TIMEOUT:-150} s)" [ "$(event timed_out)" = 0 ]
	check_powered_off_no_shell
	if [ -e "$flag" ]; then
		say "   the disk flipped at the console line /$NBD_FLIP_RX/; $(grep -c ' bad$' "$reads") reads of hostile bytes followed; VM ended at $(event elapsed) s"
	else
		say "   the console never showed /$NBD_FLIP_RX/: the disk never flipped"
	fi
}

# no_root_wait DIR: the module copy without the root wait (TDX_UNLOCK_TEST_NO_ROOT_WAIT=1 only).
no_root_wait() {
	sed -i '/add-wants initrd.target tdx-unlock-root-wait.service/d' "$1/module-setup.sh"
}

scenario_11() {
	local initrd=$INITRD_DRACUT
	start_scenario 11 "root over NBD: valid header first, cipher_null header after the agent validated it -> plaintext never mounted, power-off"
	if [ "${TDX_UNLOCK_TEST_NO_ROOT_WAIT:-0}" = 1 ]; then
		say "   TDX_UNLOCK_TEST_NO_ROOT_WAIT=1: dracut initramfs WITHOUT the root wait (this scenario must fail)"
		initrd=$QEMU_WORK/initrd-dracut-norootwait.img
		build_dracut_variant norootwait "$initrd" no_root_wait
	fi
	nbd_flip_boot scenario11 "$initrd" "$(root_cmdline dracut)" "luks-$ROOT_UUID"
	check "the root wait gave up and powered off" \
		log_has "tdx-unlock: waiting up to .* for the root" &&
		check "  ... its unit failed" log_has "Failed to start tdx-unlock.*bounded wait for the root device"
	finish "NBD second-read flip (dracut)"
	[ "${TDX_UNLOCK_TEST_NO_ROOT_WAIT:-0}" = 1 ] && return
	start_scenario 11 "root over NBD flips after the agent validated it, initramfs-tools"
	if [ -z "${INITRD_ITOOLS:-}" ]; then
		INITRD_ITOOLS=$QEMU_WORK/initrd-itools.img
		build_itools_initrd "$INITRD_ITOOLS" "$AGENT_BIN" "$QEMU_WORK/agent-conf"
	fi
	nbd_flip_boot scenario11-itools "$INITRD_ITOOLS" "$(root_cmdline itools)" "$ITOOLS_ROOT_NAME"
	# The guard after the agent: the active mapping is the root header's own crypt mapping on the
	# root's block device (sysfs dm uuid and slave), so it counts; nothing else would.
	check "the guard found the agent's mapping to be the root's own (sysfs: dm uuid, slave)" \
		log_has "guard: $ITOOLS_ROOT_NAME is already active as the mapping of /dev/disk/by-uuid/$ROOT_UUID "
	cur_n=11b finish "NBD second-read flip (initramfs-tools)"
}
