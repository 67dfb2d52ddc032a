#!/bin/sh
# tdx-unlock (initrd): the end of every path that would otherwise give a shell or a prompt it must
# not give (docs/threat-model.md, "No shell"). The console belongs to the host: a shell there could
# read a volume key the agent activated (dmsetup table --showkeys) or open a disk by hand.
#
# usage: tdx-unlock-poweroff WHY
echo "<2>tdx-unlock: ${1:-stop}: no shell in this initramfs; powering off" >/dev/kmsg 2>/dev/null ||
	echo "tdx-unlock: ${1:-stop}: no shell in this initramfs; powering off" >&2
# --force: no unit ordering to wait for; a second --force, or the kernel, if the manager is gone.
systemctl --no-block --force poweroff 2>/dev/null ||
	systemctl --force --force poweroff 2>/dev/null ||
	echo o >/proc/sysrq-trigger
exit 1
