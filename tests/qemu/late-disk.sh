# shellcheck shell=bash
# Scenario 12 of the QEMU boots (sourced by run.sh): the enrolled root disk appears seconds AFTER
# the agent's unit started (hot-plugged over QEMU's monitor: drive_add + device_add of a
# virtio-blk-pci). Asserted: the unit waited for it (dracut: tdx-unlock-wait-devices;
# initramfs-tools: the local-top guard's bounded wait), the agent unlocked it, no prompt, the real
# root came up.
#
# TDX_UNLOCK_TEST_NO_DEVICE_WAIT=1 (test only) boots the dracut case with a module whose unit has
# no device wait: the agent runs before the disk exists, so the boot falls back to the prompt and
# the scenario must FAIL.

# hotplug_after NAME RX DELAY DISK: in the background of a boot, waits (at most 300 s) until the
# serial log of NAME matches RX, then DELAY seconds, then plugs DISK in over the monitor socket.
hotplug_after() {
	local log=$QEMU_WORK/$1.log rx=$2 delay=$3 disk=$4 mon=$QEMU_WORK/$1.qmp
	for _ in $(seq 600); do
		grep -qE -- "$rx" "$log" 2>/dev/null && break
		sleep 0.5
	done
	sleep "$delay"
	python3 - "$mon" "$disk" <<-'PY'
		import json, socket, sys
		s = socket.socket(socket.AF_UNIX)
		s.settimeout(10)
		s.connect(sys.argv[1])
		f = s.makefile("rw")
		def reply():
		    while True:
		        msg = json.loads(f.readline())
		        if "return" in msg or "error" in msg:
		            return msg
		reply_greeting = json.loads(f.readline())
		def run(cmd, args=None):
		    f.write(json.dumps({"execute": cmd, "arguments": args or {}}) + "\n")
		    f.flush()
		    r = reply()
		    print(cmd, (args or {}).get("command-line", args), "->", json.dumps(r))
		    return r
		run("qmp_capabilities")
		run("human-monitor-command",
		    {"command-line": "drive_add 0 if=none,id=late,format=raw,snapshot=on,file=" + sys.argv[2]})
		r = run("device_add", {"driver": "virtio-blk-pci", "drive": "late", "id": "latedisk", "serial": "tdxlate"})
		sys.exit(1 if "error" in r else 0)
	PY
}

# line_before NAME RX1 RX2: the first line matching RX1 comes before the first matching RX2.
line_before() {
	awk -v a="$2" -v b="$3" '
		ia == 0 && $0 ~ a { ia = NR }
		ib == 0 && $0 ~ b { ib = NR }
		END { exit !(ia > 0 && ib > 0 && ia < ib) }' "$QEMU_WORK/$1.log"
}

# late_disk_boot NAME INITRD CMDLINE WAIT_RX
late_disk_boot() {
	local name=$1 hp
	# shellcheck disable=SC2034 # cur: the running scenario, read by run.sh's checks
	cur=$name
	keyd_start good || return
	rm -f "$QEMU_WORK/$name.qmp" "$QEMU_WORK/$name.log"
	# The root disk is not there at all when the VM starts; 5 s after the agent's unit started it is.
	hotplug_after "$name" "Starting tdx-unlock|Begin: tdx-unlock|tdx-unlock: waiting up to" 5 "$ROOT_IMG" \
		>"$QEMU_WORK/$name.hotplug" 2>&1 &
	hp=$!
	QEMU_QMP=$QEMU_WORK/$name.qmp boot "$name" "$2" "$3" "$RECOVERY_PASSFILE"
	kill "$hp" 2>/dev/null
	wait "$hp" 2>/dev/null
	keyd_stop
	check "the disk was hot-plugged (QMP device_add returned)" grep -q '^device_add .*"return"' "$QEMU_WORK/$name.hotplug"
	check "the agent's unit started before the disk appeared" \
		line_before "$name" "Starting tdx-unlock|tdx-unlock: waiting up to" "\\[vda\\]"
	check "the unit waited for it" log_has "$4"
	check_automatic
}

# no_device_wait DIR: the unit without the device wait (TDX_UNLOCK_TEST_NO_DEVICE_WAIT=1 only).
no_device_wait() {
	sed -i '/^ExecStartPre=.*tdx-unlock-wait-devices/d' "$1/tdx-unlock.service"
}

scenario_12() {
	local initrd=$INITRD_DRACUT
	start_scenario 12 "root disk hot-plugged 5 s after the agent's unit started -> still unlocked"
	if [ "${TDX_UNLOCK_TEST_NO_DEVICE_WAIT:-0}" = 1 ]; then
		say "   TDX_UNLOCK_TEST_NO_DEVICE_WAIT=1: dracut unit WITHOUT the device wait (this scenario must fail)"
		initrd=$QEMU_WORK/initrd-dracut-nowait.img
		build_dracut_variant nowait "$initrd" no_device_wait
	fi
	late_disk_boot scenario12 "$initrd" "$(root_cmdline dracut)" "tdx-unlock: waiting up to [0-9]+s for"
	check "the agent unlocked it" log_has "$AGENT_SUCCESS_RX"
	finish "late disk unlocked (dracut)"
	[ "${TDX_UNLOCK_TEST_NO_DEVICE_WAIT:-0}" = 1 ] && return
	start_scenario 12 "root disk hot-plugged late, initramfs-tools"
	if [ -z "${INITRD_ITOOLS:-}" ]; then
		INITRD_ITOOLS=$QEMU_WORK/initrd-itools.img
		build_itools_initrd "$INITRD_ITOOLS" "$AGENT_BIN" "$QEMU_WORK/agent-conf"
	fi
	ROOT_MAPPER=$ITOOLS_ROOT_NAME late_disk_boot scenario12-itools "$INITRD_ITOOLS" \
		"$(root_cmdline itools)" "tdx-unlock: devices unlocked"
	cur_n=12b finish "late disk unlocked (initramfs-tools)"
}
