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
stamp="debootstrap bookworm minbase $packages; apt plymouth"
root=$PLYMOUTH_ROOT
[ "$(cat "$root/.complete" 2>/dev/null)" = "$stamp" ] && exit 0
mirror=$(APT_SOURCES_DIR=${APT_SOURCES_DIR:-/etc/apt} sh "$REPO/deps/debsrc-from-sources.sh" |
	awk '/^URIs:/ { uri = $2 } /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") { print uri; exit } }')
[ -n "$mirror" ] || die "no Debian bookworm entry in the machine's apt sources to debootstrap from"
command -v debootstrap >/dev/null || die "debootstrap is required (deps/debian-packages.txt)"
mkdir -p "$(dirname "$root")"
exec {lock}>"$root.lock"
flock -w 1800 "$lock" || die "another debootstrap of $root is still running"
[ "$(cat "$root/.complete" 2>/dev/null)" = "$stamp" ] && exit 0
rm -rf "$root"
say "== debootstrap bookworm with dracut and plymouth into $root (cached afterwards)"
timeout 1800 debootstrap --variant=minbase --include="$packages" bookworm "$root" "$mirror" \
	>"$root.debootstrap.log" 2>&1 || die "debootstrap failed, see $root.debootstrap.log"
# In a private mount namespace: nothing stays mounted on the host.
# shellcheck disable=SC2016 # expanded by the inner bash
unshare -m --propagation private bash -euc '
	mount -t proc proc "$1/proc"
	chroot "$1" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
		timeout 900 apt-get install -y --no-install-recommends plymouth
' _ "$root" >>"$root.debootstrap.log" 2>&1 || die "apt-get install plymouth failed, see $root.debootstrap.log"
echo "$stamp" >"$root/.complete"
say "== plymouth chroot ready"
