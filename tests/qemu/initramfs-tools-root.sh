#!/bin/bash
# Prepares a Debian 12 chroot with initramfs-tools and cryptsetup-initramfs, for building the
# scenario-7 initramfs: the host uses dracut, and the two cannot be installed side by side.
# The mirror is the machine's own (its apt sources' Debian bookworm entry, via
# deps/debsrc-from-sources.sh, through bookworm_chroot in lib.sh); the chroot is cached in
# $ITOOLS_ROOT (tests/qemu/work/itools-root).
#
# usage: initramfs-tools-root.sh [MIRROR]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ -n "${1:-}" ]; then BOOKWORM_MIRROR=$1; fi
# The agent's shared libraries are included so a dynamically linked agent also works in there.
bookworm_chroot "$ITOOLS_ROOT" \
	initramfs-tools,cryptsetup-initramfs,busybox,kmod,zstd,libcryptsetup12,libcurl4,libjson-c5,libssl3 \
	initramfs-tools
