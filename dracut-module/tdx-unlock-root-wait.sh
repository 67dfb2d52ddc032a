#!/bin/sh
# tdx-unlock (initrd): ExecStart of tdx-unlock-root-wait.service, which starts once every
# encrypted volume is set up (After=cryptsetup.target). It waits for the root file system's
# device -- sysroot.mount's What=, else initrd-root-fs.target -- by joining the start job systemd
# already has for it. The unit's TimeoutStartSec bounds the wait and its FailureAction powers the
# TD off: a root that never becomes ready (a disk whose data decrypts to garbage after a host
# changed it, a root device that never appears) ends the boot instead of leaving it waiting
# forever (dracut gives the root device no job timeout by default; docs/boot.md).

what=$(systemctl show -P What sysroot.mount 2>/dev/null)
case $what in
/dev/*) unit=$(systemd-escape --path --suffix=device "$what") ;;
*) unit=initrd-root-fs.target ;;
esac
bound=$(systemctl show -P TimeoutStartUSec tdx-unlock-root-wait.service 2>/dev/null)
echo "<5>tdx-unlock: waiting up to ${bound:-?} for the root (${what:-$unit}); then power off" \
	>/dev/kmsg 2>/dev/null
exec systemctl start --no-ask-password "$unit"
