#!/bin/sh
# make bench (target bench-keyd-fleet): tdx-keyd's own CPU per release beside the crypto lower
# bound of a release from `openssl speed` in the same run; releases/s while an /auth flood runs,
# as a fraction of the unflooded figure; a boot storm of 1,000 simulated agents through HAProxy
# to two replicas. Loopback only; the clients share the machine's cores with keyd.
set -u
BUILD=${BUILD:-build}
S=${KEYD_BENCH_SECONDS:-5}
T=$(mktemp -d /tmp/keyd-fleet-bench.XXXXXX)
# shellcheck disable=SC2034 # read by keyd-env.sh
KEYD_REQUEST_TIMEOUT_MS=30000
# Legitimate clients (127.0.0.1) stay under this per-address limit; the flood (127.0.0.2) not.
# shellcheck disable=SC2034
KEYD_AUTH_RATE=2000
# shellcheck disable=SC2034
KEYD_AUTH_BURST=2000
TESTS=tests/integration
INTEGRATION_DIR=$TESTS
# shellcheck source=tests/integration/keyd-env.sh
. "$TESTS/keyd-env.sh"
# shellcheck source=tests/integration/keyd-fleet-env.sh
. "$TESTS/keyd-fleet-env.sh"
trap 'keyd_stop; fleet_stop; rm -rf "$T"' EXIT INT TERM
rc=0

keyd_env_setup || exit 1
keyd_start || exit 1
tck=$(getconf CLK_TCK)
keyd_cpu() { awk '{print $14 + $15}' "/proc/$KEYD_PID/stat"; }
bench() {
	"$BUILD/kbs-bench" --url "$1" --ca "$T/tls.crt" --sim "$T/sim" \
		--expect "$T/expected.secret" "$@"
}
rate_of() { sed -n 's/.* \([0-9][0-9]*\) releases\/s .*/\1/p' "$1"; }
releases_of() { sed -n 's/.*(\([0-9]*\) releases in.*/\1/p' "$1"; }

echo "== keyd: CPU per release against the crypto it cannot avoid ($(nproc) CPUs)"
openssl speed -seconds 1 ecdsap256 ecdhp256 ecdhx25519 2>/dev/null >"$T/speed"
sign=$(awk '/ecdsa \(nistp256\)/ {print $(NF-1)}' "$T/speed")
verify=$(awk '/ecdsa \(nistp256\)/ {print $NF}' "$T/speed")
ecdh=$(awk '/ecdh \(nistp256\)/ {print $NF}' "$T/speed")
x25519=$(awk '/ecdh \(X25519\)/ {print $NF}' "$T/speed")
# Per release keyd must: TLS 1.3 handshake = X25519 key generation and shared secret (2 X25519
# operations) + one ECDSA P-256 signature (CertificateVerify); attest = 2 ECDSA P-256
# verifications (quote, QE report; the PCK chain and collateral are cached); resource = a JWE to
# the TEE key: an ephemeral P-256 key (a fixed-base multiplication, counted as a signature) + one
# P-256 ECDH. Hashes, HMACs, AES-GCM of a few hundred bytes are left out (microseconds).
bound=$(awk -v s="$sign" -v v="$verify" -v e="$ecdh" -v x="$x25519" \
	'BEGIN {printf "%.4f", 1000 * (2 / v + 2 / s + 1 / e + 2 / x)}')
echo "openssl speed (one core): P-256 sign $sign/s, verify $verify/s, ECDH $ecdh/s; X25519 $x25519/s"
echo "crypto lower bound per release = 2/verify + 2/sign + 1/ecdh(P-256) + 2/x25519 = $bound ms:"
echo "  TLS 1.3 handshake: X25519 key generation and shared secret (2/x25519), CertificateVerify (1/sign);"
echo "  attest: quote and QE report signature verifications (2/verify);"
echo "  resource: JWE ephemeral P-256 key (1/sign) and ECDH (1/ecdh); hashes, HKDF, HMACs, AES-GCM not counted"
# The TLS floor: a server that only accepts, does keyd's TLS handshake, reads one request and
# writes one reply (bench/tls-floor.c), kept busy by four `openssl s_time` clients (one client
# at a time leaves it idle between connections, which costs it ~25% more per connection). With
# a connection per release, keyd cannot go below this plus the release's other crypto.
"$BUILD/tls-floor" "$T/tls.crt" "$T/tls.key" "$T/floor.port" 2>"$T/floor.err" &
FLOOR_PID=$!
wait_started tls-floor "$FLOOR_PID" "$T/floor.err" -s "$T/floor.port" || rc=1
fb=$(awk '{print $14 + $15}' "/proc/$FLOOR_PID/stat")
stime_pids=""
for i in 1 2 3 4; do
	openssl s_time -connect "127.0.0.1:$(cat "$T/floor.port")" -new -www / -time "$S" \
		>"$T/floor.$i.out" 2>&1 &
	stime_pids="$stime_pids $!"
done
# shellcheck disable=SC2086 # a list of process ids
wait $stime_pids
fa=$(awk '{print $14 + $15}' "/proc/$FLOOR_PID/stat")
kill "$FLOOR_PID"
wait "$FLOOR_PID" 2>/dev/null
floor=$(cat "$T"/floor.?.out | awk -v t=$((fa - fb)) -v hz="$tck" \
	'/connections in .* real seconds/ {n += $1} END {if (n) printf "%.4f", t * 1000 / hz / n}')
hs=$(awk -v s="$sign" -v x="$x25519" 'BEGIN {printf "%.4f", 1000 * (1 / s + 2 / x)}')
[ -n "$floor" ] || { echo "TLS floor not measured: $(tail -2 "$T/floor.1.out" "$T/floor.err")"; rc=1; }
awk -v f="${floor:-0}" -v h="$hs" -v b="$bound" 'BEGIN {
	printf "TLS floor (bench/tls-floor.c: accept, handshake, one request and reply, close; 4 clients): %.3f ms per connection = %.2f x the handshake'"'"'s crypto (%.3f ms)\n", f, f / h, h
	printf "  floor + the release'"'"'s other crypto (%.3f ms) = %.3f ms = %.2f x the bound: the least a release can cost here\n", b - h, f + b - h, (f + b - h) / b }'
before=$(keyd_cpu)
bench "$URL" --clients 16 --seconds "$S" | tee "$T/plain.out" || rc=1
after=$(keyd_cpu)
plain=$(rate_of "$T/plain.out")
awk -v t=$((after - before)) -v r="$(releases_of "$T/plain.out")" -v hz="$tck" -v b="$bound" \
	-v f="${floor:-0}" -v h="$hs" -v load="$(cut -d' ' -f1-3 /proc/loadavg)" \
	'BEGIN {c = t * 1000 / hz / r; printf "keyd CPU %.3f ms per release = %.2f x the crypto bound (goal <= 2); load average %s\n", c, c / b, load
	printf "  keyd beyond the TLS floor and the release'"'"'s crypto: %.3f ms (HTTP, event loop, JSON, sessions, audit, the verifier'"'"'s own work)\n", c - f - (b - h) }'

echo "== keyd: legitimate releases while an /auth flood runs (two keep-alive connections from 127.0.0.2)"
"$BUILD/kbs-test-client" --url "$URL" --ca "$T/tls.crt" --sim "$T/sim" --audit "$T/audit.log" \
	"flood-only=$((S + 2))" >"$T/flood.out" 2>&1 &
FLOOD_PID=$!
sleep 1
bench "$URL" --clients 16 --seconds "$S" | tee "$T/flooded.out" || rc=1
wait "$FLOOD_PID"
grep "flood from" "$T/flood.out"
flooded=$(rate_of "$T/flooded.out")
# Unflooded again right after: the baseline is the mean of the runs before and after, so that
# the other jobs on the machine move both sides alike.
bench "$URL" --clients 16 --seconds "$S" | tee "$T/plain2.out" || rc=1
plain2=$(rate_of "$T/plain2.out")
awk -v f="$flooded" -v p="$plain" -v q="$plain2" \
	'BEGIN {printf "releases/s under the flood: %d of %d unflooded (mean of %d before, %d after) = %.2f (goal >= 0.5)\n", f, (p + q) / 2, p, q, 2 * f / (p + q)}'
keyd_stop

echo "== keyd: boot storm, 1,000 agents at once through HAProxy (TCP, round-robin) to 2 replicas"
fleet_ports
if ! replica_start 1 || ! replica_start 2 || ! haproxy_start 2; then
	echo "fleet did not start"
	exit 1
fi
bench "https://127.0.0.1:$PH" --clients 1000 --once --seconds 120 | tee "$T/storm.out" || rc=1
grep -q "(1000 releases in .* 0 failed)" "$T/storm.out" || { echo "boot storm: not 1000 releases"; rc=1; }
echo "machine load during the run: $(cut -d' ' -f1-3 /proc/loadavg) (other jobs share these cores)"
exit $rc
