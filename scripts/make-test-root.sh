#!/bin/bash
# Builds a small LUKS2-encrypted root (or data) disk image for the boot tests, without device-mapper:
# a busybox tree is written into ext4 with mkfs.ext4 -d, then encrypted offline in place.
#
# usage: make-test-root.sh [--data] [--size MiB] [--label L] [--extra DIR] PASSPHRASE_FILE OUT.img
#   --data   a data disk: a marker file instead of an init (mounted by the root's init if unlocked)
#   --extra  DIR's contents are copied into the root; its init runs DIR's tdx-test/ask-keyd (a
#            program in the real root asking keyd, tests/qemu/ask-keyd.sh) when the kernel command
#            line says tdx_unlock_test.ask_keyd=1
# Prints the LUKS UUID on stdout. The recovery passphrase keyslot uses argon2id with a fixed, small
# cost (t=4, 64 MiB) so a 1 GiB guest can open it; the host's calibration would pick ~1 GiB.
set -euo pipefail

die() { echo "make-test-root: $*" >&2; exit 1; }

kind=root
size_mib=48
label=tdxroot
extra=
while [ $# -gt 0 ]; do
	case $1 in
	--data) kind=data; label=tdxdata; shift ;;
	--size) size_mib=$2; shift 2 ;;
	--label) label=$2; shift 2 ;;
	--extra) extra=$2; shift 2 ;;
	--) shift; break ;;
	-*) die "unknown option '$1'" ;;
	*) break ;;
	esac
done
[ $# -eq 2 ] || die "usage: make-test-root.sh [--data] [--size MiB] [--label L] [--extra DIR] PASSPHRASE_FILE OUT.img"
[ -z "$extra" ] || [ -d "$extra" ] || die "--extra '$extra' is not a directory"
passfile=$1
out=$2
[ -r "$passfile" ] || die "passphrase file '$passfile' is not readable"
case $size_mib in '' | *[!0-9]*) die "--size must be a number of MiB, got '$size_mib'" ;; esac
for tool in mkfs.ext4 cryptsetup busybox; do
	command -v "$tool" >/dev/null || die "'$tool' is required"
done

tree=$(mktemp -d "${TMPDIR:-/tmp}/tdx-root.XXXXXX")
trap 'rm -rf "$tree"' EXIT

# Copies an ELF binary with the shared libraries it needs (Debian's busybox is dynamic).
copy_with_libs() {
	local bin=$1 dest=$2 lib
	install -D -m 0755 "$bin" "$tree$dest"
	for lib in $(ldd "$bin" | awk '/=>/ { print $3 } /^\t\// { print $1 }'); do
		[ -e "$tree$lib" ] || install -D -m 0755 "$lib" "$tree$lib"
	done
}

make_root_tree() {
	mkdir -p "$tree"/{bin,sbin,dev,proc,sys,run,tmp,mnt,etc,usr/lib,root}
	copy_with_libs "$(command -v busybox)" /bin/busybox
	local applet
	for applet in sh mount umount cat ls echo sleep poweroff awk grep sync mkdir; do
		ln -s busybox "$tree/bin/$applet"
	done
	# systemd refuses to switch into a root without os-release.
	cat >"$tree/usr/lib/os-release" <<-'EOF'
		NAME="tdx-unlock test root"
		ID=tdx-unlock-test
		PRETTY_NAME="tdx-unlock test root"
	EOF
	ln -s ../usr/lib/os-release "$tree/etc/os-release"
	# The init reports what the boot tests assert on, then powers the VM off.
	cat >"$tree/sbin/init" <<-'EOF'
		#!/bin/sh
		export PATH=/bin:/sbin
		mount -t proc proc /proc 2>/dev/null
		mount -t sysfs sysfs /sys 2>/dev/null
		mount -t devtmpfs devtmpfs /dev 2>/dev/null
		read -r up _ </proc/uptime
		echo "TDX-UNLOCK-TEST: real root mounted at uptime ${up}s"
		echo "TDX-UNLOCK-TEST: root is $(awk '$2 == "/" { print $1 }' /proc/mounts)"
		for dm in /sys/block/dm-*; do
			[ -e "$dm/dm/name" ] || continue
			echo "TDX-UNLOCK-TEST: dm $(cat "$dm/dm/name") $(cat "$dm/dm/uuid")"
			name=$(cat "$dm/dm/name")
			case $name in
			*data*) ;;
			*) [ "$(awk '$2 == "/" { print $1 }' /proc/mounts)" = "/dev/mapper/$name" ] && continue ;;
			esac
			if mount -o ro "/dev/mapper/$name" /mnt 2>/dev/null; then
				[ -f /mnt/TDX-DATA-MARKER ] && echo "TDX-UNLOCK-TEST: data disk $name readable: $(cat /mnt/TDX-DATA-MARKER)"
				umount /mnt
			fi
		done
		if [ -x /tdx-test/ask-keyd ] && grep -q 'tdx_unlock_test.ask_keyd=1' /proc/cmdline; then
			/tdx-test/ask-keyd
		fi
		echo "TDX-UNLOCK-TEST: done"
		sync
		poweroff -f
	EOF
	chmod 0755 "$tree/sbin/init"
}

make_data_tree() {
	echo "data-disk-contents-ok" >"$tree/TDX-DATA-MARKER"
}

if [ "$kind" = root ]; then make_root_tree; else make_data_tree; fi
[ -z "$extra" ] || cp -a "$extra/." "$tree/"

# The filesystem leaves 32 MiB free at the end of the file: reencrypt moves the data forward by that
# much to make room for the LUKS2 header (in-place encryption, no device-mapper needed).
rm -f "$out"
truncate -s "$((size_mib))M" "$out"
mkfs.ext4 -q -F -L "$label" -d "$tree" "$out" >/dev/null
truncate -s "$((size_mib + 32))M" "$out"
cryptsetup reencrypt --encrypt --type luks2 --batch-mode --reduce-device-size 32M \
	--label "$label" --pbkdf argon2id --pbkdf-memory 65536 --pbkdf-force-iterations 4 \
	--pbkdf-parallel 1 --key-file "$passfile" "$out" >/dev/null
cryptsetup luksUUID "$out"
