#!/bin/sh
# tdx-unlock guard (initrd): ExecStartPre of every systemd-cryptsetup@ unit. Before
# systemd-cryptsetup may prompt for a passphrase or open anything, the device's LUKS2 header must
# pass tdx-unlock's allow-list (`tdx-unlock guard`): a host-written header with a
# cipher_null segment and a malformed digest opens with ANY passphrase under libcryptsetup 2.6
# (CVE-2025-59054), so the prompt would mount the host's plaintext as root. A refusal, or a device
# that cannot be identified, fails the unit (no prompt) and powers the TD off.
#
# usage: tdx-unlock-guard UNIT NAME   (from the drop-in: %n %I)
# The devices checked: the one in the unit's own ExecStart (what systemd-cryptsetup will open)
# and the one NAME maps to (the agent's name resolution); all must pass.

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

{ [ -n "$unit" ] && [ -n "$name" ]; } || refuse "guard called without a unit and volume name"
[ -x "$bin" ] || refuse "$bin is missing from the initrd"

# What systemd-cryptsetup itself was told to open, into dev:
# argv[]=/usr/lib/systemd/systemd-cryptsetup attach NAME DEVICE KEY OPTIONS ; ...
# Parsed by the shell itself: under emulation every fork and exec on this path costs (two seds
# and their subshells).
unit_device() {
	dev=
	show=$(systemctl show -p ExecStart --value "$unit" 2>/dev/null)
	while IFS= read -r line; do
		rest=${line##*"argv[]="}
		[ "$rest" != "$line" ] || continue
		rest=${rest#* } # the program
		case $rest in
		"attach "*" "*) ;;
		*) continue ;;
		esac
		rest=${rest#attach }
		rest=${rest#* } # NAME
		dev=${rest%%[ ;]*}
		return 0
	done <<EOF
$show
EOF
}

# The check, the name resolution and the fallback event are the agent's (`tdx-unlock guard`,
# docs/agent.md): nothing for an active mapping; else every device must pass the allow-list and
# RTMR3 must record the fallback before the prompt. Any non-zero exit powers off.
unit_device
out=$("$bin" guard ${dev:+--device "$dev"} "$name" 2>&1)
rc=$?
[ -n "$out" ] && printf '%s\n' "$out" >&2
[ "$rc" = 0 ] && exit 0
# sed only: the initrd has no grep, head or tail of its own for this.
reason=$(printf '%s\n' "$out" | sed -n '/refused/{p;q}')
[ -n "$reason" ] || reason=$(printf '%s\n' "$out" | sed -n '$p')
refuse "tdx-unlock guard exit $rc: ${reason#<[0-7]>}"
