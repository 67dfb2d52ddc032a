#!/bin/bash
# Prepares a Debian 12 chroot with initramfs-tools and cryptsetup-initramfs, for building the
# scenario-7 initramfs: the host uses dracut, and the two cannot be installed side by side.
# Only deb.debian.org is contacted; the chroot is cached in $ITOOLS_ROOT (tests/qemu/work/itools-root).
#
# usage: initramfs-tools-root.sh [MIRROR]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

mirror=${1:-http://deb.debian.org/debian}
root=$ITOOLS_ROOT
[ -f "$root/.complete" ] && exit 0
mkdir -p "$(dirname "$root")"
exec {lock}>"$root.lock"
flock -w 1800 "$lock" || die "another debootstrap of $root is still running"
[ -f "$root/.complete" ] && exit 0
command -v debootstrap >/dev/null || die "debootstrap is required (deps/debian-packages.txt)"
rm -rf "$root"
mkdir -p "$QEMU_WORK"
say "== debootstrap bookworm with initramfs-tools into $root (cached afterwards)"
# The agent's shared libraries are included so a dynamically linked agent also works in there.
timeout 1800 debootstrap --variant=minbase \
	--include=initramfs-tools,cryptsetup-initramfs,busybox,kmod,zstd,libcryptsetup12,libcurl4,libjson-c5,libssl3 \
	bookworm "$root" "$mirror" >"$QEMU_WORK/debootstrap.log" 2>&1 ||
	die "debootstrap failed, see $QEMU_WORK/debootstrap.log"
touch "$root/.complete"
say "== initramfs-tools chroot ready"
