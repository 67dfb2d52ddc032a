#!/bin/sh
# Stateless replicas behind a real load balancer: three tdx-keyd replicas sharing one root key
# behind Debian's HAProxy (started here, loopback, TCP mode, round-robin, no affinity). Every
# step of a release goes to another replica; a load run survives one replica killed with -9
# (no failed release beyond the client's retries); the killed replica restarts and serves again.
# PROXY protocol v2 from HAProxy (send-proxy-v2): two clients behind it get separate /auth limits;
# a header from an unlisted address, or none from the balancer, is refused and audited.
# Usage: BUILD=build tests/integration/keyd-fleet.sh
set -u
BUILD=${BUILD:-build}
T=$(mktemp -d /tmp/keyd-fleet.XXXXXX)
# shellcheck disable=SC2034 # read by keyd-env.sh
KEYD_REQUEST_TIMEOUT_MS=5000
# All clients come from 127.0.0.1 (through HAProxy too): no per-address /auth limit here.
# shellcheck disable=SC2034 # read by keyd-env.sh
KEYD_AUTH_RATE=1000000
# shellcheck disable=SC2034
KEYD_AUTH_BURST=1000000
# shellcheck source=tests/integration/keyd-env.sh
. "$(dirname "$0")/keyd-env.sh"
# shellcheck source=tests/integration/keyd-fleet-env.sh
. "$(dirname "$0")/keyd-fleet-env.sh"
CLIENT="$BUILD/kbs-test-client"
fail=0

# shellcheck disable=SC2317 # called through the trap
cleanup() {
	fleet_stop
	keyd_stop
	[ -n "${HAPROXY2_PID:-}" ] && kill "$HAPROXY2_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

step() { echo "== keyd fleet: $*"; }

if ! command -v "${HAPROXY:-haproxy}" >/dev/null 2>&1; then
	echo "FAIL: haproxy not installed (deps/debian-packages.txt lists it)"
	exit 1
fi

keyd_env_setup || { echo "FAIL: setup"; exit 1; }
fleet_ports

client() {
	"$CLIENT" --url "https://127.0.0.1:$PH" --ca "$T/tls.crt" --sim "$T/sim" \
		--audit "$T/audit-1.log" --expect-secret "$T/expected.secret" "$@"
}

step "start 3 replicas (one root key) and HAProxy (TCP, round-robin, no affinity)"
for i in 1 2 3; do replica_start $i || exit 1; done
haproxy_start 3 || { echo "FAIL: haproxy did not start"; exit 1; }

step "every step of a release on a new connection: any replica serves any step"
client fleet-split=9 || bad "releases through the balancer"
python3 - "$T" <<'PY' || bad "the steps of a session did not spread over the replicas"
import json, sys
where = {}  # session -> {event: replica}
served = {1: set(), 2: set(), 3: set()}
for i in (1, 2, 3):
    for line in open("%s/audit-%d.log" % (sys.argv[1], i)):
        rec = json.loads(line)
        if rec["verdict"] == "allow" and rec["event"] in ("attest", "resource"):
            where.setdefault(rec["session"], {})[rec["event"]] = i
            served[i].add(rec["event"])
released = [s for s, e in where.items() if "resource" in e]
moved = [s for s in released if where[s].get("attest") != where[s]["resource"]]
print("  %d sessions released; %d attested on one replica and released by another" %
      (len(released), len(moved)))
print("  replica 1 served %s, 2 %s, 3 %s" % tuple(sorted(served[i]) for i in (1, 2, 3)))
assert len(released) >= 9 and len(moved) >= 3
assert all(served[i] for i in (1, 2, 3)), "a replica served nothing"
PY

step "kill -9 one replica during a load run: no failed release beyond the client's retries"
client fleet-load=8:4 >"$T/load.out" 2>&1 &
LOAD_PID=$!
sleep 3
kill -9 "$PID2"
wait "$PID2" 2>/dev/null
wait "$LOAD_PID" || bad "releases failed while a replica died"
cat "$T/load.out"
grep -q "0 failed releases" "$T/load.out" || bad "failed releases in the load run"

step "rolling restart: the killed replica comes back on its port and serves again"
before=$(wc -l <"$T/audit-2.log")
replica_start 2 || bad "replica 2 did not restart"
sleep 1 # HAProxy's health check sees it up (rise 2 x 300 ms)
client fleet-split=6 || bad "releases after the restart"
[ "$(wc -l <"$T/audit-2.log")" -gt "$before" ] || bad "the restarted replica serves nothing"

step "PROXY protocol v2 (HAProxy send-proxy-v2 from 127.0.0.9): per-client /auth limits behind the balancer"
python3 - "$T/keyd.json" "$T/keyd-proxy.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["listen"]["port"] = 0
c["audit_file"] = "audit-proxy.log"
c["limits"].update(auth_rate_per_s=1, auth_burst=3)
c["proxy_protocol"] = {"from": ["127.0.0.9"]}
json.dump(c, open(sys.argv[2], "w"))
PY
KEYD_CONFIG="$T/keyd-proxy.json" keyd_start || bad "keyd with proxy_protocol did not start"
PX=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$T/haproxy-proxy.cfg" <<EOC
global
    maxconn 256
defaults
    mode tcp
    timeout connect 1s
    timeout client 10s
    timeout server 10s
frontend kbs
    bind 127.0.0.1:$PX
    default_backend keyd
backend keyd
    server k1 127.0.0.1:$PORT send-proxy-v2 source 127.0.0.9
EOC
"${HAPROXY:-haproxy}" -db -f "$T/haproxy-proxy.cfg" >"$T/haproxy-proxy.log" 2>&1 &
HAPROXY2_PID=$!
wait_port "$PX" || bad "the PROXY-protocol HAProxy did not start"
PCLIENT="$(dirname "$0")/keyd-proxy-client.py"
"$CLIENT" --url "https://127.0.0.1:$PX" --ca "$T/tls.crt" --sim "$T/sim" \
	--audit "$T/audit-proxy.log" --expect-secret "$T/expected.secret" valid >"$T/proxy-valid.out" 2>&1 ||
	bad "no release through HAProxy with send-proxy-v2"
grep -q '"event":"resource".*"peer":"127.0.0.1:[0-9]* via 127.0.0.9:[0-9]*"' "$T/audit-proxy.log" ||
	bad "the release's audit line does not name the client behind the balancer"
a=$(python3 "$PCLIENT" "$PX" 127.0.0.2 8)
b=$(python3 "$PCLIENT" "$PX" 127.0.0.3 2)
echo "  client 127.0.0.2, 8 x /auth through HAProxy: $a"
echo "  client 127.0.0.3, 2 x /auth right after:      $b"
case $a in 200\ 200\ 200*429*) ;; *) bad "client 127.0.0.2 was not limited after its burst of 3" ;; esac
[ "$b" = "200 200" ] || bad "client 127.0.0.3 was limited by 127.0.0.2's flood (the balancer's address counted, not the client's)"
hdr=0d0a0d0a000d0a515549540a2111000c0a0909097f00000104d201bb # v2 PROXY TCP4 10.9.9.9:1234
r=$(python3 "$PCLIENT" "$PORT" 127.0.0.4 1 "$hdr")
[ "$r" = refused ] || bad "a PROXY header from 127.0.0.4 (not a listed balancer) was accepted: $r"
r=$(python3 "$PCLIENT" "$PORT" 127.0.0.9 1)
[ "$r" = refused ] || bad "a connection from the balancer's address without a PROXY header was accepted: $r"
r=$(python3 "$PCLIENT" "$PORT" 127.0.0.4 1)
[ "$r" = 200 ] || bad "a direct client (no header, not a balancer) was not served: $r"
r=$(python3 "$PCLIENT" "$P1" 127.0.0.4 1 "$hdr")
[ "$r" = refused ] || bad "keyd without proxy_protocol accepted a PROXY header: $r"
sleep 1.5 # the aggregated auth records (auth_audit_interval_s 1)
grep -q '"peer":"127.0.0.4:[0-9]*".*not in proxy_protocol.from: refused' "$T/audit-proxy.log" ||
	bad "the refused PROXY header from 127.0.0.4 is not audited"
grep -q '"peer":"127.0.0.9:[0-9]*".*does not start with a PROXY v2 header' "$T/audit-proxy.log" ||
	bad "the balancer's connection without a header is not audited"
grep -q '"event":"auth","peer":"127.0.0.2".*rate-limited' "$T/audit-proxy.log" ||
	bad "no aggregated auth record rate-limiting 127.0.0.2"
grep -q '"event":"10.9.9.9\|"peer":"10.9.9.9' "$T/audit-proxy.log" &&
	bad "the address in a refused PROXY header reached the audit log as a client"
keyd_stop

for i in 1 2 3; do
	python3 -c 'import json, sys
[json.loads(l) for l in open(sys.argv[1])]' "$T/audit-$i.log" || bad "audit log $i damaged"
done
[ $fail = 0 ] && echo "keyd fleet: all passed"
exit $fail
