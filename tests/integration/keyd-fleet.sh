#!/bin/sh
# Stateless replicas behind a real load balancer: three tdx-keyd replicas sharing one root key
# behind Debian's HAProxy (started here, loopback, TCP mode, round-robin, no affinity). Every
# step of a release goes to another replica; a load run survives one replica killed with -9
# (no failed release beyond the client's retries); the killed replica restarts and serves again.
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

for i in 1 2 3; do
	python3 -c 'import json, sys
[json.loads(l) for l in open(sys.argv[1])]' "$T/audit-$i.log" || bad "audit log $i damaged"
done
[ $fail = 0 ] && echo "keyd fleet: all passed"
exit $fail
