#!/bin/sh
# Sourced by the keyd integration tests and the benchmark: builds a throw-away keyd setup in $T
# (test quote hierarchy, TLS key and self-signed certificate, root key, policy, collateral
# cache, config) and provides keyd_start / keyd_stop. Loopback only.
# Needs: BUILD (the build directory), T (an empty scratch directory).

KEYD="$BUILD/tdx-keyd"
QUOTEGEN="$BUILD/tdx-quotegen"
RESOURCE="default/disk/root"
KEYD_PID=""

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
	"$QUOTEGEN" ca --out "$T/sim" >/dev/null
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
	cat >"$T/keyd.json" <<EOC
{
  "listen": { "address": "127.0.0.1", "port": 0 },
  "tls": { "certificate": "tls.crt", "private_key": "tls.key" },
  "test_root_ca": "sim/root_ca.pem",
  "policy_dir": "policies",
  "collateral_dir": "collateral",
  "root_key_file": "root.key",
  "audit_file": "audit.log",
  "limits": { "request_timeout_ms": ${KEYD_REQUEST_TIMEOUT_MS:-2000},
              "session_lifetime_s": ${KEYD_SESSION_LIFETIME_S:-300},
              "max_sessions": ${KEYD_MAX_SESSIONS:-100000},
              "max_connections": ${KEYD_MAX_CONNECTIONS:-4096},
              "auth_rate_per_s": ${KEYD_AUTH_RATE:-50}, "auth_burst": ${KEYD_AUTH_BURST:-200},
              "auth_audit_interval_s": 1 }
}
EOC
	"$KEYD" derive-secret --config "$T/keyd.json" --resource "$RESOURCE" \
		--out "$T/expected.secret" 2>/dev/null
}

# Starts keyd in the background and waits (bounded) for its port.
keyd_start() {
	rm -f "$T/port"
	TDX_KEYD_TEST_PORT_FILE="$T/port" "$KEYD" serve --config "${KEYD_CONFIG:-$T/keyd.json}" \
		2>>"$T/keyd.stderr" &
	KEYD_PID=$!
	i=0
	while [ ! -s "$T/port" ]; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$KEYD_PID" 2>/dev/null; then
			echo "keyd did not start:" >&2
			tail -5 "$T/keyd.stderr" >&2
			return 1
		fi
		sleep 0.1
	done
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
