#!/bin/sh
# tdx-unlock guard (initrd): ExecStartPre of every systemd-cryptsetup@ unit. Before
# systemd-cryptsetup may prompt for a passphrase or open anything, the device's LUKS2 header must
# pass tdx-unlock's allow-list (`tdx-unlock check-header`): a host-written header with a
# cipher_null segment and a malformed digest opens with ANY passphrase under libcryptsetup 2.6
# (CVE-2025-59054), so the prompt would mount the host's plaintext as root. A refusal, or a device
# that cannot be identified, fails the unit (no prompt) and sends the initrd to emergency.target.
#
# usage: tdx-unlock-guard UNIT NAME   (from the drop-in: %n %I)
# The devices checked: the one in the unit's own ExecStart (what systemd-cryptsetup will open)
# and the one NAME maps to (/etc/crypttab, rd.luks.name=UUID=NAME, luks-<UUID>); all must pass.

unit=$1
name=$2
bin=/usr/sbin/tdx-unlock

say() {
	# The console shows kmsg at crit level whatever the loglevel; stderr goes to the journal.
	echo "<2>tdx-unlock: $*" >/dev/kmsg 2>/dev/null
	echo "tdx-unlock: $*" >&2
}
# A refused header means the disk was tampered with: stop the initrd now rather than wait minutes
# for a root that cannot come. dracut-systemd's emergency.service honours rd.emergency=; an initrd
# without it gets the same choice here (default: halt, never a shell).
stop_boot() {
	# shellcheck disable=SC2013,SC3043
	local action=halt arg
	if [ -e /usr/lib/systemd/system/emergency.service ] ||
		[ -e /etc/systemd/system/emergency.service ]; then
		systemctl --no-block --job-mode=replace-irreversibly start emergency.target && return
	fi
	for arg in $(cat /proc/cmdline); do
		case $arg in
		rd.emergency=reboot | rd.emergency=poweroff | rd.emergency=halt) action=${arg#*=} ;;
		esac
	done
	say "stopping the boot ($action.target)"
	systemctl --no-block --job-mode=replace-irreversibly start "$action.target"
}
refuse() {
	say "refusing to unlock ${dev:-$name}: $*"
	stop_boot
	exit 1
}

[ -n "$unit" ] && [ -n "$name" ] || refuse "guard called without a unit and volume name"
[ -x "$bin" ] || refuse "$bin is missing from the initrd"

# source (UUID=, PARTUUID=, LABEL=, PATH) -> device path
source_path() {
	case $1 in
	UUID=*) echo "/dev/disk/by-uuid/${1#UUID=}" ;;
	PARTUUID=*) echo "/dev/disk/by-partuuid/${1#PARTUUID=}" ;;
	LABEL=*) echo "/dev/disk/by-label/${1#LABEL=}" ;;
	/*) echo "$1" ;;
	esac
}

# What systemd-cryptsetup itself was told to open:
# argv[]=/usr/lib/systemd/systemd-cryptsetup attach NAME DEVICE KEY OPTIONS ; ...
unit_device() {
	systemctl show -p ExecStart --value "$unit" 2>/dev/null |
		sed -n 's/.*argv\[\]=[^ ]* attach [^ ]* \([^ ;]*\).*/\1/p' | head -n 1
}

# What NAME maps to: crypttab in the initrd, then rd.luks.name=, then luks-<UUID>.
name_device() {
	# shellcheck disable=SC2034 # key and options are not needed
	if [ -r /etc/crypttab ]; then
		while read -r n src _; do
			case $n in '' | '#'*) continue ;; esac
			if [ "$n" = "$name" ]; then
				source_path "$src"
				return
			fi
		done </etc/crypttab
	fi
	for arg in $(cat /proc/cmdline); do
		case $arg in
		rd.luks.name=*=* | luks.name=*=*)
			arg=${arg#*luks.name=}
			if [ "${arg#*=}" = "$name" ]; then
				echo "/dev/disk/by-uuid/${arg%%=*}"
				return
			fi
			;;
		esac
	done
	case $name in
	luks-*) echo "/dev/disk/by-uuid/${name#luks-}" ;;
	esac
}

checked=
for dev in "$(unit_device)" "$(name_device)"; do
	[ -n "$dev" ] || continue
	real=$(readlink -f "$dev" 2>/dev/null) || real=
	[ -n "$real" ] && [ -b "$real" ] || refuse "device $dev not found"
	case " $checked " in *" $real "*) continue ;; esac
	out=$("$bin" check-header "$real" 2>/dev/null)
	rc=$?
	out=${out#"$real: "}
	[ "$rc" = 0 ] || refuse "${out#refused: }"
	# Notice level: on the console too, so a boot log shows the guard ran.
	echo "<5>tdx-unlock: $dev ($name): LUKS2 header passes the allow-list" >/dev/kmsg 2>/dev/null ||
		echo "tdx-unlock: $dev ($name): LUKS2 header passes the allow-list"
	checked="$checked $real"
done
dev=
[ -n "$checked" ] || refuse "cannot tell which device it is (no crypttab entry, rd.luks.name= or luks-<UUID> name, and no device in $unit)"
exit 0
