#!/bin/bash
# The installed initramfs-tools hook (make install) fails -- and so fails update-initramfs --
# when the agent or its configuration is missing, and with both present puts them into the
# initramfs (configuration private to root, initramfs.conf left out). It runs against a
# stand-in hook-functions (copy_exec, manual_add_modules, auto_add_modules), mounted over
# /usr/share/initramfs-tools in a private mount namespace: the host is not touched.
# Usage: check-hook.sh HOOK AGENT_BIN   (HOOK in an initramfs-tools tree: ../scripts beside it)
# shellcheck source=tests/pkg/env.sh
. "$(dirname "$0")/env.sh"
HOOK=$1 AGENT=$2
if [ "$(id -u)" -ne 0 ] || ! unshare -m true 2>/dev/null; then
	echo "check-hook: skipped (needs root for a private mount namespace)"
	exit 0
fi
pkg_scratch

mkdir -p "$T/itools" "$T/conf"
cat >"$T/itools/hook-functions" <<'FN'
copy_exec() { mkdir -p "$DESTDIR/$(dirname "$2")" && cp "$1" "$DESTDIR/$2"; }
manual_add_modules() { echo "$@" >>"$DESTDIR/.modules"; }
auto_add_modules() { echo "auto:$*" >>"$DESTDIR/.modules"; }
FN
echo '{"servers":[{"url":"https://127.0.0.1:1","pins":["'"$(printf '%064d' 0)"'"]}]}' >"$T/conf/agent.conf"
echo 'TDX_UNLOCK_BIN=/nowhere' >"$T/conf/initramfs.conf"
chmod 0644 "$T/conf/agent.conf"

# run_hook NAME AGENT CONFDIR: runs the hook as mkinitramfs does (its boot scripts, installed
# beside it, already copied); output in $T/NAME.log.
run_hook() {
	rm -rf "$T/initramfs-$1" && mkdir -p "$T/initramfs-$1"
	cp -a "$(dirname "$HOOK")/../scripts" "$T/initramfs-$1/"
	# shellcheck disable=SC2016 # expanded by the inner sh
	unshare -m sh -c 'mount -t tmpfs tmpfs /usr/share/initramfs-tools &&
		cp "$0/hook-functions" /usr/share/initramfs-tools/ && exec "$@"' "$T/itools" \
		env -u TDX_UNLOCK_BIN -u TDX_UNLOCK_CONFDIR DESTDIR="$T/initramfs-$1" verbose=n \
		TDX_UNLOCK_BIN="$2" TDX_UNLOCK_CONFDIR="$3" sh "$HOOK" >"$T/$1.log" 2>&1
}

if run_hook good "$AGENT" "$T/conf"; then
	d=$T/initramfs-good
	if [ -x "$d/usr/sbin/tdx-unlock" ] && cmp -s "$AGENT" "$d/usr/sbin/tdx-unlock" &&
		[ "$(stat -c %a "$d/etc/tdx-unlock/agent.conf")" = 600 ] &&
		[ ! -e "$d/etc/tdx-unlock/initramfs.conf" ] && grep -q dm_crypt "$d/.modules"; then
		ok "agent and configuration present: exit 0; agent, agent.conf (0600), dm_crypt in the initramfs"
	else
		bad "the hook succeeded but the initramfs lacks something: $(cd "$d" && find . | tr '\n' ' ')"
	fi
else
	bad "agent and configuration present, yet the hook failed: $(cat "$T/good.log")"
fi

expect_fail() { # NAME AGENT CONFDIR WHAT-THE-MESSAGE-SAYS
	if run_hook "$1" "$2" "$3"; then
		bad "$1: the hook exited 0, update-initramfs would succeed: $(cat "$T/$1.log")"
	elif grep -q "^E: tdx-unlock: .*$4" "$T/$1.log"; then
		ok "$1: the hook fails: $(head -1 "$T/$1.log")"
	else
		bad "$1: the hook failed without naming the problem: $(cat "$T/$1.log")"
	fi
}
expect_fail no-agent "$T/no/tdx-unlock" "$T/conf" "agent '$T/no/tdx-unlock' not found"
chmod 0644 "$T/conf/agent.conf"
cp "$AGENT" "$T/agent-noexec" && chmod 0644 "$T/agent-noexec"
expect_fail agent-not-executable "$T/agent-noexec" "$T/conf" "not executable"
expect_fail no-confdir "$AGENT" "$T/no-conf" "configuration directory '$T/no-conf' not found"
mkdir -p "$T/conf-empty"
expect_fail no-agent-conf "$AGENT" "$T/conf-empty" "'$T/conf-empty/agent.conf' not found"

# local-top's power-off must never return to the boot: a hostile host may simply ignore the TD's
# ACPI power-off (reboot(2) then returns in the caller) and local-top would go on to cryptroot's
# prompt. The function runs with poweroff/sync/sleep stubbed and the sysrq file replaced.
localtop=$(dirname "$HOOK")/../scripts/local-top/tdx-unlock
fn=$(sed -n '/^tdx_unlock_poweroff() {$/,/^}$/p' "$localtop" | sed "s|/proc/sysrq-trigger|$T/sysrq|")
if ! printf '%s\n' "$fn" | grep -q "$T/sysrq"; then
	bad "local-top: tdx_unlock_poweroff() not found (or writes no sysrq) in $localtop"
else
	# shellcheck disable=SC2016 # expanded by the inner sh
	timeout 3 sh -c 'd=$1; sync() { :; }; poweroff() { echo "poweroff $*" >>"$d/calls"; }
		sleep() { command sleep 0.1; }
		eval "$2"; tdx_unlock_poweroff; echo returned >>"$d/calls"' sh "$T" "$fn" 2>/dev/null
	rc=$?
	if [ "$rc" -ne 124 ] || grep -q returned "$T/calls"; then
		bad "local-top: the power-off returned to the boot (exit $rc) when the host ignored it"
	elif ! grep -qx "poweroff -f" "$T/calls" || [ "$(cat "$T/sysrq" 2>/dev/null)" != o ]; then
		bad "local-top: the power-off neither called poweroff -f nor wrote sysrq o"
	else
		ok "local-top: an ignored power-off never returns to the boot (poweroff -f, sysrq o, then waits)"
	fi
fi

pkg_done
