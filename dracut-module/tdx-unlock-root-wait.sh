#!/bin/sh
# tdx-unlock (initrd): ExecStart of tdx-unlock-root-wait.service, which starts once every
# encrypted volume is set up (After=cryptsetup.target). It waits for the root file system's
# device -- sysroot.mount's What=, else initrd-root-fs.target -- by joining the start job systemd
# already has for it. The unit's TimeoutStartSec bounds the wait and its FailureAction powers the
# TD off: a root that never becomes ready (a disk whose data decrypts to garbage after a host
# changed it, a root device that never appears) ends the boot instead of leaving it waiting
# forever (dracut gives the root device no job timeout by default; docs/boot.md).
#
# No `systemctl show` before the wait (each one costs ~0.5 s under emulation, and the root may
# come up meanwhile): What= is read from the generator's sysroot.mount (systemd-fstab-generator
# or dracut's rootfs-generator write it from root=), and the bound from the unit's environment.

what=
gen=/run/systemd/generator/sysroot.mount
if [ -r "$gen" ]; then
	while IFS='=' read -r key value; do
		[ "$key" = What ] && what=$value
	done <"$gen"
fi
# systemctl turns a /dev path into its .device unit itself (as systemd-escape --path would).
case $what in
/dev/*) unit=$what ;;
*) unit=initrd-root-fs.target what= ;;
esac
echo "<5>tdx-unlock: waiting up to ${TDX_UNLOCK_ROOT_TIMEOUT:-?}s for the root (${what:-$unit}); then power off" \
	>/dev/kmsg 2>/dev/null
systemctl start --no-ask-password "$unit" && exit 0
# The start job ended without success. The switch to the real root cancels it when the root came
# up while this script was still starting (the unit conflicts with initrd-switch-root.target): the
# root mounted on /sysroot is success. Anything else is a root that never became ready: fail, and
# the unit's FailureAction powers off.
while read -r _ mountpoint _; do
	[ "$mountpoint" = /sysroot ] && exit 0
done </proc/self/mounts
exit 1
