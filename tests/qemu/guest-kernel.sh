#!/bin/sh
# Puts Debian's current amd64 kernel (linux-image-amd64's dependency) into a cache folder for the
# boot tests, by `apt-get download` and `dpkg-deb -x`: nothing is installed on the host, whose
# /boot and initramfs stay as they are. Prints "VMLINUZ MODDIR KVER" on stdout.
# Environment: GUEST_KERNEL_CACHE (default tests/qemu/work/guest-kernel).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cache=${GUEST_KERNEL_CACHE:-$here/work/guest-kernel}
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock -w 600 9 || { echo "guest-kernel: cache stayed locked for 10 minutes" >&2; exit 1; }

pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n1)
[ -n "$pkg" ] || { echo "guest-kernel: apt knows no linux-image-amd64 (apt-get update?)" >&2; exit 1; }
kver=${pkg#linux-image-}
root=$cache/$kver
if [ ! -f "$root/.complete" ]; then
	rm -rf "$root" "$cache/dl"
	mkdir -p "$cache/dl"
	tries=0
	until (cd "$cache/dl" && apt-get download -q "$pkg" >&2); do
		tries=$((tries + 1))
		[ "$tries" -lt 3 ] || { echo "guest-kernel: apt-get download $pkg failed" >&2; exit 1; }
		sleep 5
	done
	dpkg-deb -x "$cache"/dl/"$pkg"_*.deb "$root"
	# depmod data for the extracted tree (dracut and modprobe read modules.dep).
	depmod -b "$root" "$kver"
	rm -rf "$cache/dl"
	touch "$root/.complete"
fi
[ -r "$root/boot/vmlinuz-$kver" ] || { echo "guest-kernel: no vmlinuz in $pkg" >&2; exit 1; }
echo "$root/boot/vmlinuz-$kver $root/lib/modules/$kver $kver"
