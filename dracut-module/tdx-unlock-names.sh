#!/bin/sh
# tdx-unlock (initrd): systemd-cryptsetup expects the crypttab name or rd.luks.name=UUID=NAME.
# The agent activates under that name itself (docs/agent.md, "Mapping names"); this is the
# fallback for a mapping it left as luks-<UUID> (an older agent, or a name it refused): renamed,
# so the systemd-cryptsetup@NAME units find their devices already active instead of prompting.

names() {
	if [ -r /etc/crypttab ]; then
		# name source [key [options]]
		grep -v '^[[:space:]]*#' /etc/crypttab
	fi
	for arg in $(cat /proc/cmdline); do
		case $arg in
		rd.luks.name=*=* | luks.name=*=*)
			arg=${arg#*luks.name=}
			echo "${arg#*=} UUID=${arg%%=*}"
			;;
		esac
	done
}

names | while read -r name source _; do
	[ -n "$name" ] && [ -n "$source" ] || continue
	case $source in
	UUID=*) uuid=${source#UUID=} ;;
	*)
		case $source in
		PARTUUID=*) source=/dev/disk/by-partuuid/${source#PARTUUID=} ;;
		LABEL=*) source=/dev/disk/by-label/${source#LABEL=} ;;
		esac
		# The LUKS UUID is the name of the by-uuid link that points at the same device.
		real=$(readlink -f "$source") || continue
		uuid=
		for link in /dev/disk/by-uuid/*; do
			[ "$(readlink -f "$link")" = "$real" ] && uuid=${link##*/}
		done
		;;
	esac
	uuid=${uuid#luks-}
	[ -n "$uuid" ] && [ "$name" != "luks-$uuid" ] || continue
	if [ -b "/dev/mapper/luks-$uuid" ] && [ ! -e "/dev/mapper/$name" ]; then
		dmsetup rename "luks-$uuid" "$name" && echo "tdx-unlock: luks-$uuid is now $name (crypttab)"
	fi
done
exit 0
