#!/bin/bash
# tdx-keyd's unit, as the tdx-keyd package installs it, under systemd as PID 1 (issue 11):
# systemd-nspawn boots a container whose /usr is the host's (read-only, an overlay takes the
# package's files), with its own /etc and /var and only a loopback network. `dpkg -i` installs
# the package in it (postinst: sysusers, tmpfiles, enable); then systemd boots and the test
# checks: the unit starts at boot (Type=notify, READY=1 once it listens: a request right after
# `systemctl start` returns is answered), reload (RELOADING=1 ... READY=1, same PID), a broken
# policy on reload is refused and shows in `journalctl -p err` with priority 3 and no
# duplicated ident, stop, and the restart after kill -9.
# Usage: check-keyd-unit.sh TDX_KEYD_DEB   (env BUILD; needs root and systemd-container)
# shellcheck source=tests/pkg/env.sh
. "$(dirname "$0")/env.sh"
# shellcheck source=tests/integration/keyd-conf.sh
. "$(dirname "$0")/../integration/keyd-conf.sh"
DEB=$(realpath "$1")
BUILD=${BUILD:-build}
QUOTEGEN=$BUILD/tdx-quotegen
KEYD_HOST=$BUILD/tdx-keyd
if [ "$(id -u)" -ne 0 ] || ! command -v systemd-nspawn >/dev/null; then
	echo "check-keyd-unit: skipped (needs root and systemd-nspawn from systemd-container)"
	exit 0
fi
W=$(realpath -m "$BUILD/keyd-unit")
ROOT=$W/root
NSPAWN_PID='' PID1=''
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
		kill -TERM "$NSPAWN_PID" 2>/dev/null # nspawn asks the container's systemd to halt
		for _ in $(seq 50); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.2; done
		# Still there: killing the container's PID 1 ends its whole PID namespace.
		[ -n "$PID1" ] && kill -KILL "$PID1" 2>/dev/null
		kill -KILL "$NSPAWN_PID" 2>/dev/null
	fi
}
trap cleanup EXIT

# A fresh root each run (a few MB; /usr is the host's): merged-/usr links, a minimal /etc, the
# host's dpkg database so that the package's dependencies count as installed.
rm -rf "$W" && mkdir -p "$ROOT"/{etc,var/lib,var/log,var/cache,run,tmp,root,usr} "$W/usr-upper" "$W/work"
for l in bin sbin lib lib64; do ln -s "usr/$l" "$ROOT/$l"; done
cp /etc/os-release "$ROOT/etc/"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$ROOT/etc/passwd"
printf 'root:x:0:\n' >"$ROOT/etc/group"
: >"$ROOT/etc/shadow" && : >"$ROOT/etc/gshadow" && chmod 0600 "$ROOT/etc/shadow" "$ROOT/etc/gshadow"
systemd-machine-id-setup --root="$ROOT" >/dev/null 2>&1 || echo 0123456789abcdef0123456789abcdef >"$ROOT/etc/machine-id"
cp -a /var/lib/dpkg "$ROOT/var/lib/dpkg"
: >"$ROOT/var/lib/dpkg/statoverride" # its users and groups are the host's, not this /etc's
cp "$DEB" "$ROOT/root/"

nspawn() {
	systemd-nspawn -q -D "$ROOT" --register=no --keep-unit --private-network \
		--overlay=/usr:"$W/usr-upper":/usr "$@"
}

# 1. install the package, as an administrator would (no systemd running yet: enable only)
if nspawn dpkg --no-triggers -i "/root/$(basename "$DEB")" >"$W/dpkg.log" 2>&1 </dev/null; then
	ok "dpkg -i $(basename "$DEB") in the container"
else
	bad "dpkg -i failed: $(tail -10 "$W/dpkg.log")"
	exit 1
fi
gid=$(awk -F: '$1 == "tdx-keyd" { print $3 }' "$ROOT/etc/group")
if grep -q '^tdx-keyd:' "$ROOT/etc/passwd" &&
	[ "$(stat -c '%a %u %g' "$ROOT/etc/tdx-keyd")" = "750 0 $gid" ] &&
	[ -L "$ROOT/etc/systemd/system/multi-user.target.wants/tdx-keyd.service" ]; then
	ok "postinst: user tdx-keyd (sysusers), /etc/tdx-keyd 0750 root:tdx-keyd (tmpfiles), unit enabled"
else
	bad "postinst did not create the user, the directory or the enable link: $(grep tdx-keyd "$ROOT/etc/passwd"; ls -la "$ROOT/etc/tdx-keyd")"
fi

# 2. configure it: TLS key, root key (0600, owned by tdx-keyd), one policy, loopback port
C=$ROOT/etc/tdx-keyd
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
	-keyout "$C/tls.key" -out "$C/tls.crt" 2>/dev/null
head -c 32 /dev/urandom >"$C/root.key"
{ "$QUOTEGEN" ca --out "$W/sim" >/dev/null &&
	"$QUOTEGEN" quote --ca "$W/sim" --out "$W/q" >/dev/null &&
	"$KEYD_HOST" policy-from-quote --quote "$W/q" --id unit-test >"$C/policies/unit-test.json"; } ||
	bad "could not make a policy"
keyd_conf_write "$C/keyd.json" 8443 tls.crt tls.key policies /var/cache/tdx-keyd root.key \
	/var/log/tdx-keyd/audit.log <<<'  "workers": 1'
uid=$(awk -F: '$1 == "tdx-keyd" { print $3 }' "$ROOT/etc/passwd")
chown "$uid" "$C/root.key" "$C/tls.key" && chmod 0600 "$C/root.key" "$C/tls.key"
chmod 0640 "$C/keyd.json" "$C/tls.crt" "$C/policies/unit-test.json"
chgrp "$gid" "$C/keyd.json" "$C/tls.crt" "$C/policies/unit-test.json"

# 3. boot
systemd-nspawn -q -D "$ROOT" --register=no --keep-unit --private-network \
	--overlay=/usr:"$W/usr-upper":/usr -b --console=pipe </dev/null >"$W/console.log" 2>&1 &
NSPAWN_PID=$!
for _ in $(seq 100); do
	# the container's PID 1: nspawn's child named systemd
	for p in $(pgrep -P "$NSPAWN_PID"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = systemd ] && PID1=$p && break
	done
	[ -n "$PID1" ] && break
	sleep 0.2
done
[ -n "$PID1" ] || { bad "the container's systemd did not start: $(tail -5 "$W/console.log")"; exit 1; }
in_ct() { timeout 60 nsenter -t "$PID1" -a "$@"; }
# Until its bus is up, systemctl cannot reach it; then --wait returns once the boot is done.
state=
for _ in $(seq 60); do
	state=$(in_ct systemctl is-system-running --wait 2>/dev/null) && break
	case $state in running | degraded) break ;; esac
	sleep 0.5
done
case $state in running | degraded) ;; *) bad "the container did not finish booting: '$state'" ;; esac
ok "systemd $(in_ct systemctl --version | head -1 | cut -d' ' -f2) as PID 1 in the container: $state"
show() { in_ct systemctl show -p "$1" --value tdx-keyd; }
# KBS auth request from inside the container: the HTTP status, 000 when nothing listens.
auth() {
	in_ct curl -sk -o /dev/null -w '%{http_code}' --max-time 5 -H 'Content-Type: application/json' \
		-d '{"version":"0.4.0","tee":"tdx","extra-params":""}' https://127.0.0.1:8443/kbs/v0/auth
}

if [ "$(show ActiveState)" = active ] && [ "$(show Type)" = notify ] && [ "$(auth)" = 200 ]; then
	ok "started at boot: active, Type=notify, answers /kbs/v0/auth (MainPID $(show MainPID))"
else
	bad "not running after boot: $(show ActiveState)/$(show SubState), Type=$(show Type): $(in_ct journalctl -u tdx-keyd --no-pager | tail -8)"
fi

# start: READY=1 only once it listens, so a request right after `systemctl start` is answered
in_ct systemctl stop tdx-keyd
if [ "$(show ActiveState)" = inactive ] && [ "$(show Result)" = success ] && [ "$(auth)" = 000 ] &&
	in_ct journalctl -u tdx-keyd --no-pager | grep -q 'stopping'; then
	ok "stop: inactive, Result=success, port closed, 'stopping' in the journal"
else
	bad "stop: $(show ActiveState) Result=$(show Result)"
fi
n_ok=0
for i in 1 2 3; do
	in_ct systemctl start tdx-keyd && [ "$(auth)" = 200 ] && n_ok=$((n_ok + 1))
	[ $i -lt 3 ] && in_ct systemctl stop tdx-keyd
done
if [ $n_ok = 3 ]; then
	ok "start: a request right after 'systemctl start' returns is answered (3 of 3)"
else
	bad "start: only $n_ok of 3 requests right after 'systemctl start' were answered"
fi

# reload: same process, RELOADING=1 then READY=1, policies re-read
pid=$(show MainPID)
cp "$C/policies/unit-test.json" "$W/second.json"
sed 's/"unit-test"/"unit-test-2"/; s#"default/disk/root"#"default/disk/second"#' "$W/second.json" >"$C/policies/second.json"
chmod 0644 "$C/policies/second.json"
if in_ct systemctl reload tdx-keyd && [ "$(show MainPID)" = "$pid" ] && [ "$(show ActiveState)" = active ] &&
	in_ct journalctl -u tdx-keyd --no-pager | grep -q 'reloaded, 2 policies in force'; then
	ok "reload: same PID $pid, active, 'reloaded, 2 policies in force'"
else
	bad "reload: PID $pid -> $(show MainPID), $(show ActiveState): $(in_ct journalctl -u tdx-keyd --no-pager | tail -4)"
fi

# a broken policy: the reload is refused, the old set stays, journalctl -p err shows it
echo '{"id": "broken", "resources": ["x/y/z"], "measurements": [{"mrtd": "00"}]}' >"$C/policies/broken.json"
chmod 0644 "$C/policies/broken.json"
in_ct systemctl reload tdx-keyd
sleep 0.5
errs=$(in_ct journalctl -u tdx-keyd -p err -o json --no-pager |
	python3 -c 'import json,sys
for l in sys.stdin:
    e = json.loads(l)
    print(e.get("PRIORITY"), e.get("SYSLOG_IDENTIFIER"), e.get("MESSAGE"))')
if grep -q '^3 tdx-keyd .*reload failed' <<<"$errs" && grep -q '^3 tdx-keyd .*broken.json' <<<"$errs" &&
	! grep -Eq '^3 tdx-keyd (tdx-keyd:|<[0-9]>)' <<<"$errs" && [ "$(show ActiveState)" = active ] &&
	[ "$(auth)" = 200 ]; then
	ok "a broken policy on reload: refused, still serving; journalctl -p err: $(grep -m1 broken.json <<<"$errs")"
else
	bad "journalctl -p err -u tdx-keyd after a broken reload: ${errs:-nothing}"
fi
infos=$(in_ct journalctl -u tdx-keyd -p info -o json --no-pager | python3 -c 'import json,sys
for l in sys.stdin:
    e = json.loads(l)
    if "listening on" in e.get("MESSAGE", ""): print(e.get("PRIORITY"), e.get("MESSAGE"))' | tail -1)
if [[ $infos == 6\ keyd:\ listening* ]]; then
	ok "informational lines carry priority 6: $infos"
else
	bad "the 'listening' line: '$infos'"
fi
rm -f "$C/policies/broken.json"

# kill -9: Restart=on-failure brings it back under a new PID
pid=$(show MainPID)
restarts=$(show NRestarts)
in_ct kill -9 "$pid"
newpid=
for _ in $(seq 50); do
	sleep 0.2
	p=$(show MainPID)
	if [ "$p" != 0 ] && [ "$p" != "$pid" ] && [ "$(show ActiveState)" = active ]; then newpid=$p && break; fi
done
if [ -n "$newpid" ] && [ "$(show NRestarts)" = $((restarts + 1)) ] && [ "$(auth)" = 200 ]; then
	ok "kill -9 $pid: restarted as PID $newpid (NRestarts $(show NRestarts)), answering again"
else
	bad "after kill -9: MainPID $(show MainPID), $(show ActiveState), NRestarts $(show NRestarts)"
fi

pkg_done
