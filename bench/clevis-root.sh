#!/bin/bash
# The clevis + tang anchor of `make bench-boot` (docs/bench.md): a Debian 12 chroot with Debian's
# clevis, clevis-luks, clevis-dracut (which pulls dracut) and tang. They are never installed on the
# host: dracut would replace the host's initramfs-tools. The mirror is the machine's own (its apt
# sources' bookworm entry, deps/debsrc-from-sources.sh), as for tests/qemu/initramfs-tools-root.sh.
# Cached in $CLEVIS_ROOT (default $BUILD/bench-boot/clevis-root); rebuilt when the package list
# changes.
#
# usage: bench/clevis-root.sh
set -euo pipefail
# shellcheck source=tests/qemu/lib.sh
. "$(dirname "$0")/../tests/qemu/lib.sh"

CLEVIS_ROOT=${CLEVIS_ROOT:-$BUILD/bench-boot/clevis-root}
# dracut's modules of the test initramfs need systemd(-sysv), udev, dbus, cryptsetup, dmsetup.
packages=clevis,clevis-luks,clevis-systemd,clevis-dracut,tang,dracut,dracut-network,systemd,udev
packages=$packages,systemd-sysv,dbus,cryptsetup-bin,dmsetup,kmod,zstd,curl,jose
bookworm_chroot "$CLEVIS_ROOT" "$packages" "clevis, clevis-dracut and tang"
