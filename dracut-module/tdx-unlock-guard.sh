#!/bin/sh
# tdx-unlock guard (initrd): ExecStartPre of every systemd-cryptsetup@ unit. Before
# systemd-cryptsetup may prompt for a passphrase or open anything, the device's LUKS2 header must
# pass tdx-unlock's allow-list (`tdx-unlock check-header`): a host-written header with a
# cipher_null segment and a malformed digest opens with ANY passphrase under libcryptsetup 2.6
# (CVE-2025-59054), so the prompt would mount the host's plaintext as root. A refusal, or a device
# that cannot be identified, fails the unit (no prompt) and powers the TD off.
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
# A refused header means the disk was tampered with: power off now, never emergency.target (a shell
# or a wait on a console the host controls; docs/threat-model.md).
stop_boot() {
	/usr/lib/tdx-unlock/tdx-unlock-poweroff "guard refused $name"
}
refuse() {
	say "refusing to unlock ${dev:-$name}: $*"
	stop_boot
	exit 1
}

[ -n "$unit" ] && [ -n "$name" ] || refuse "guard called without a unit and volume name"
[ -x "$bin" ] || refuse "$bin is missing from the initrd"
# Already active: the agent activated it from the header copy it validated, and systemd-cryptsetup
# opens nothing for an active mapping. Reading the disk again would check bytes nobody will use.
if dmsetup info "$name" >/dev/null 2>&1; then
	echo "tdx-unlock: $name is already active; nothing to check" >&2
	exit 0
fi

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
