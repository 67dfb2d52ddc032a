#!/bin/bash
# Prepares a Debian 12 chroot with dracut and plymouth, for building the plymouth scenario's
# initramfs: plymouth is never installed on the host (it changes how the host boots). The mirror
# is the machine's own (its apt sources' Debian bookworm entry, via deps/debsrc-from-sources.sh);
# the chroot is cached in $PLYMOUTH_ROOT (tests/qemu/work/plymouth-root).
#
# usage: plymouth-root.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PLYMOUTH_ROOT=${PLYMOUTH_ROOT:-$REPO/tests/qemu/work/plymouth-root}
# plymouth depends on "initramfs-tools | linux-initramfs-tool": debootstrap would pick
# initramfs-tools, which conflicts with dracut, so plymouth comes afterwards through apt.
packages=dracut,dracut-network,systemd,systemd-sysv,udev,dbus,cryptsetup-bin,dmsetup,kmod,zstd,procps,iproute2
# In a private mount namespace: nothing stays mounted on the host.
plymouth_from_apt() {
	# shellcheck disable=SC2016 # expanded by the inner bash
	unshare -m --propagation private bash -euc '
		mount -t proc proc "$1/proc"
		chroot "$1" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
			timeout 900 apt-get install -y --no-install-recommends plymouth
	' _ "$1"
}
bookworm_chroot "$PLYMOUTH_ROOT" "$packages" "dracut and plymouth" plymouth_from_apt
