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
root=$CLEVIS_ROOT
stamp="debootstrap bookworm minbase $packages"
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
say "== debootstrap bookworm with clevis, clevis-dracut and tang into $root (cached afterwards)"
timeout 1800 debootstrap --variant=minbase --include="$packages" bookworm "$root" "$mirror" \
	>"$root.debootstrap.log" 2>&1 || die "debootstrap failed, see $root.debootstrap.log"
echo "$stamp" >"$root/.complete"
say "== clevis chroot ready"
