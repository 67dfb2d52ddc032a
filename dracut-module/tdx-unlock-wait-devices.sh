#!/bin/sh
# tdx-unlock (initrd): ExecStartPre of tdx-unlock.service. Waits, bounded, for the block devices
# this boot's systemd-cryptsetup@ units are bound to: the BindsTo= lines of the units
# systemd-cryptsetup-generator wrote to /run/systemd/generator from the initrd's crypttab,
# rd.luks.uuid= and rd.luks.name= (so nothing here parses those again),
# so a disk that appears late is still unlocked by the agent instead of going to the fallback.
# rd.tdx_unlock.device_timeout=SECONDS (default 30, at most 60). Never fails: a device that
# did not come is the agent's and systemd-cryptsetup's business.

say() {
	# kmsg: on the console and in the journal, like the guard.
	echo "<5>tdx-unlock: $*" >/dev/kmsg 2>/dev/null || echo "tdx-unlock: $*"
}

timeout=30
read -r cmdline </proc/cmdline
for arg in $cmdline; do
	case $arg in
	rd.tdx_unlock.device_timeout=*) timeout=${arg#*=} ;;
	esac
done
case $timeout in '' | *[!0-9]*) timeout=30 ;; esac
[ "$timeout" -le 60 ] || timeout=60

# unescape_path NAME: the device path of a .device unit name without its suffix, as
# `systemd-escape --unescape --path` prints it. Shell builtins only: this runs while udev loads
# the drivers, and under emulation every program started here (sed, systemd-escape) costs
# hundreds of milliseconds of the one CPU that the boot is waiting on.
unescape_path() {
	rest=$1 path=
	while [ -n "$rest" ]; do
		case $rest in
		\\x[0-9a-fA-F][0-9a-fA-F]*)
			hex=${rest#??}
			rest=${hex#??}
			hex=${hex%"$rest"}
			case $hex in
			2d | 2D) path=$path- ;;
			*)
				# shellcheck disable=SC2059 # the format is the octal escape of two hex digits
				path=$path$(printf "\\$(printf %03o "0x$hex")")
				;;
			esac
			;;
		-*)
			path=$path/
			rest=${rest#-}
			;;
		*)
			path=$path${rest%"${rest#?}"}
			rest=${rest#?}
			;;
		esac
	done
	printf '/%s' "${path#/}"
}

devices=
for unit in /run/systemd/generator/systemd-cryptsetup@*.service; do
	[ -r "$unit" ] || continue
	while read -r line; do
		case $line in BindsTo=*) ;; *) continue ;; esac
		for dep in ${line#BindsTo=}; do
			case $dep in
			*.device) devices="$devices $(unescape_path "${dep%.device}")" ;;
			esac
		done
	done <"$unit"
done
if [ -z "${devices# }" ]; then
	say "no systemd-cryptsetup unit is bound to a device; nothing to wait for"
	exit 0
fi
# absent DEVICE...: those that are not block devices (yet), each after a space.
absent() {
	for dev; do
		[ -b "$dev" ] || printf ' %s' "$dev"
	done
}

# shellcheck disable=SC2086 # a word list
missing=$(absent $devices)
if [ -z "$missing" ]; then
	say "devices present:$devices"
	exit 0
fi
say "waiting up to ${timeout}s for$missing"
# shellcheck disable=SC2086 # a word list
udevadm wait --timeout="$timeout" $missing 2>/dev/null
# shellcheck disable=SC2086 # a word list
still=$(absent $missing)
if [ -z "$still" ]; then
	say "all devices present"
else
	say "not present after ${timeout}s:$still"
fi
exit 0
