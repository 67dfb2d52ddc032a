#!/bin/sh
# make bench: full attested releases per second against tdx-keyd on loopback (TLS handshake +
# auth + attest + resource per session) at 1, 16 and 256 concurrent clients, keyd's peak RSS,
# and the `openssl speed` ECDSA P-256 figures of the same machine in the same run.
set -u
BUILD=${BUILD:-build}
SECONDS_PER_RUN=${KEYD_BENCH_SECONDS:-5}
T=$(mktemp -d /tmp/keyd-bench.XXXXXX)
KEYD_REQUEST_TIMEOUT_MS=30000
. "$(dirname "$0")/keyd-env.sh"
trap 'keyd_stop; rm -rf "$T"' EXIT INT TERM

keyd_env_setup || exit 1
keyd_start || exit 1
echo "== keyd benchmark ($(nproc) CPUs, client and server on the same machine)"
openssl speed -seconds 2 ecdsap256 2>/dev/null | grep -E "^ *256 bits ecdsa" |
	awk '{printf "openssl speed ecdsap256: %s sign/s, %s verify/s (one core)\n", $(NF-1), $NF}'
rc=0
for n in 1 16 256; do
	"$BUILD/kbs-bench" --url "$URL" --ca "$T/tls.crt" --sim "$T/sim" --clients $n \
		--seconds "$SECONDS_PER_RUN" || rc=1
done
echo "keyd peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$KEYD_PID/status)"
exit $rc
