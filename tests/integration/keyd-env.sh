#!/bin/sh
# Sourced by the keyd integration tests and the benchmark: builds a throw-away keyd setup in $T
# (test quote hierarchy, TLS key and self-signed certificate, root key, policy, collateral
# cache, config) and provides keyd_start / keyd_stop. Loopback only.
# Needs: BUILD (the build directory), T (an empty scratch directory).

KEYD="$BUILD/tdx-keyd"
QUOTEGEN="$BUILD/tdx-quotegen"
RESOURCE="default/disk/root"
KEYD_PID=""
# shellcheck source=tests/integration/keyd-conf.sh
. "${INTEGRATION_DIR:-$(dirname "$0")}/keyd-conf.sh"

# Reporting for the scripts that source this: bad also shows the last lines of $BAD_LOG when that
# file exists, and sets fail=1.
ok() { echo "ok: $*"; }
bad() {
	echo "FAIL: $*"
	[ -n "${BAD_LOG:-}" ] && [ -f "$BAD_LOG" ] && sed 's/^/    | /' "$BAD_LOG" | tail -15
	# shellcheck disable=SC2034 # the sourcing script's exit status
	fail=1
}
# A file's bytes as lowercase hex, for the memory scans.
hex() { od -An -tx1 -v "$1" | tr -d ' \n'; }

# keyd_scratch NAME: a scratch directory $T, removed at exit with keyd stopped, and fail=0.
keyd_scratch() {
	T=$(mktemp -d "/tmp/$1.XXXXXX")
	fail=0
	trap 'keyd_stop; rm -rf "$T"' EXIT INT TERM
}

keyd_env_setup() {
	mkdir -p "$T/policies" "$T/collateral"
	# KEYD_SIM_CA_OPTS: extra `tdx-quotegen ca` options for the test platform (e.g. its PCK CA).
	# shellcheck disable=SC2086 # word splitting intended
	"$QUOTEGEN" ca --out "$T/sim" ${KEYD_SIM_CA_OPTS:-} >/dev/null
	"$QUOTEGEN" ca --out "$T/othersim" >/dev/null
	# The cache directory layout: <collateral_dir>/<fmspc hex>/{tcb_info.json,...}.
	mkdir -p "$T/collateral/00906ed50000"
	cp "$T/sim/tcb_info.json" "$T/sim/qe_identity.json" "$T/sim/pck_crl.der" \
		"$T/sim/root_crl.der" "$T/sim/tcb_signing_chain.pem" "$T/sim/pck_crl_chain.pem" \
		"$T/collateral/00906ed50000/"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
		-subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
		-keyout "$T/tls.key" -out "$T/tls.crt" 2>/dev/null
	head -c 32 /dev/urandom >"$T/root.key"
	chmod 600 "$T/root.key"
	"$QUOTEGEN" quote --ca "$T/sim" --out "$T/ref.quote" >/dev/null
	"$KEYD" policy-from-quote --quote "$T/ref.quote" --id test-image \
		--resource "$RESOURCE" >"$T/policies/test-image.json"
	keyd_conf_write "$T/keyd.json" 0 tls.crt tls.key policies collateral root.key audit.log <<EOC
  "test_root_ca": "sim/root_ca.pem",
  "limits": { "request_timeout_ms": ${KEYD_REQUEST_TIMEOUT_MS:-2000},
              "session_lifetime_s": ${KEYD_SESSION_LIFETIME_S:-300},
              "max_sessions": ${KEYD_MAX_SESSIONS:-100000},
              "max_connections": ${KEYD_MAX_CONNECTIONS:-4096},
              "auth_rate_per_s": ${KEYD_AUTH_RATE:-50}, "auth_burst": ${KEYD_AUTH_BURST:-200},
              "auth_audit_interval_s": 1 }
EOC
	"$KEYD" derive-secret --config "$T/keyd.json" --resource "$RESOURCE" \
		--out "$T/expected.secret" 2>/dev/null
}

# wait_started NAME PID LOG TEST FILE: waits (10 s at most) until `[ TEST FILE ]` holds while PID
# lives; else says NAME did not start, with the end of its LOG.
wait_started() {
	i=0
	while [ ! "$4" "$5" ]; do
		i=$((i + 1))
		if [ $i -gt 200 ] || ! kill -0 "$2" 2>/dev/null; then
			echo "$1 did not start:" >&2
			tail -5 "$3" >&2
			return 1
		fi
		sleep 0.05
	done
}

# Starts keyd in the background and waits (bounded) for its port.
keyd_start() {
	rm -f "$T/port"
	TDX_KEYD_TEST_PORT_FILE="$T/port" "$KEYD" serve --config "${KEYD_CONFIG:-$T/keyd.json}" \
		2>>"$T/keyd.stderr" &
	KEYD_PID=$!
	wait_started keyd "$KEYD_PID" "$T/keyd.stderr" -s "$T/port" || return 1
	PORT=$(cat "$T/port")
	# shellcheck disable=SC2034 # used by the scripts that source this file
	URL="https://127.0.0.1:$PORT"
}

keyd_stop() {
	if [ -n "$KEYD_PID" ]; then
		kill "$KEYD_PID" 2>/dev/null
		wait "$KEYD_PID" 2>/dev/null
		KEYD_PID=""
	fi
}
