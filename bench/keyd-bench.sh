#!/bin/sh
# make bench: full attested releases per second against tdx-keyd on loopback (TLS handshake +
# auth + attest + resource per session) at 1, 16 and 256 concurrent clients, keyd's peak RSS,
# and the `openssl speed` ECDSA P-256 figures of the same machine in the same run.
set -u
BUILD=${BUILD:-build}
SECONDS_PER_RUN=${KEYD_BENCH_SECONDS:-5}
T=$(mktemp -d /tmp/keyd-bench.XXXXXX)
KEYD_REQUEST_TIMEOUT_MS=30000
# All clients come from 127.0.0.1 (through HAProxy too): no per-address /auth limit here.
# shellcheck disable=SC2034 # read by keyd-env.sh
KEYD_AUTH_RATE=1000000
# shellcheck disable=SC2034
KEYD_AUTH_BURST=1000000
INTEGRATION_DIR=$(dirname "$0")/../tests/integration
# shellcheck source=tests/integration/keyd-env.sh
. "$INTEGRATION_DIR/keyd-env.sh"
trap 'keyd_stop; rm -rf "$T"' EXIT INT TERM

keyd_env_setup || exit 1
keyd_start || exit 1
echo "== keyd benchmark ($(nproc) CPUs, client and server on the same machine)"
# Per release keyd verifies two ECDSA signatures (quote, QE report; chains and collateral are
# cached), signs one (TLS) and does three P-256 ECDH/keygen operations (TLS, JWE).
openssl speed -seconds 2 ecdsap256 2>/dev/null | grep -E "^ *256 bits ecdsa" |
	awk -v n="$(nproc)" '{printf "openssl speed ecdsap256: %s sign/s, %s verify/s (one core); ", $(NF-1), $NF;
		printf "bound of the 2 quote verifications alone on %d cores: %d releases/s\n", n, n * $NF / 2}'
tck=$(getconf CLK_TCK)
keyd_cpu() { awk '{print $14 + $15}' "/proc/$KEYD_PID/stat"; }
rc=0
# The load generator is an event loop per core with one SSL_CTX (see bench/kbs-bench.c).
# Closed loop first (N clients, each starting its next release when the last one ends: at 256
# clients the latency is 256 / throughput by Little's law, whatever keyd does); then open loop
# (releases start at a fixed rate, at most 256 in flight, latency from the scheduled start): at
# the goal's 2,000/s, and at half the rate measured with 16 clients. The last run uses the
# agent's own client library (libcurl, a thread per session) instead.
rate16=0
for run in 1 16 256 256:--rate=2000 256:--rate=half 16:--curl; do
	n=${run%%:*}
	mode=""
	[ "$run" = "$n" ] || mode=${run#*:}
	[ "$mode" = "--rate=half" ] && mode="--rate=$((rate16 / 2))"
	[ "$mode" = "--rate=0" ] && continue
	before=$(keyd_cpu)
	"$BUILD/kbs-bench" --url "$URL" --ca "$T/tls.crt" --sim "$T/sim" --clients "$n" \
		--expect "$T/expected.secret" --seconds "$SECONDS_PER_RUN" ${mode:+"$mode"} |
		tee "$T/bench.out" || rc=1
	[ "$run" = 16 ] && rate16=$(awk 'NR == 1 {printf "%d", $3}' "$T/bench.out")
	after=$(keyd_cpu)
	releases=$(sed -n 's/.*(\([0-9]*\) releases in.*/\1/p' "$T/bench.out")
	[ -n "$releases" ] && [ "$releases" -gt 0 ] &&
		awk -v t=$((after - before)) -v r="$releases" -v hz="$tck" \
			'BEGIN {printf "  keyd CPU %.2f ms per release\n", t * 1000 / hz / r}'
done
echo "machine load during the run: $(cut -d' ' -f1-3 /proc/loadavg) (other jobs share these cores)"
echo "keyd peak RSS: $(awk '/VmHWM/ {print $2, $3}' "/proc/$KEYD_PID/status")"
exit $rc
