#!/bin/bash
# Prepares a Debian 12 chroot with initramfs-tools and cryptsetup-initramfs, for building the
# scenario-7 initramfs: the host uses dracut, and the two cannot be installed side by side.
# The mirror is the machine's own (its apt sources' Debian bookworm entry, via
# deps/debsrc-from-sources.sh); the chroot is cached in $ITOOLS_ROOT (tests/qemu/work/itools-root).
#
# usage: initramfs-tools-root.sh [MIRROR]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# The first URI of a stanza whose suites include plain "bookworm" (not -security/-updates).
mirror=${1:-$(APT_SOURCES_DIR=${APT_SOURCES_DIR:-/etc/apt} sh "$REPO/deps/debsrc-from-sources.sh" |
	awk '/^URIs:/ { uri = $2 } /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") { print uri; exit } }')}
[ -n "$mirror" ] || die "no Debian bookworm entry in the machine's apt sources to debootstrap from"
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
