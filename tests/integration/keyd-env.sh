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
	# shellcheck disable=SC2034 # the verdict the sourcing script keeps and reads
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
	while ! test "$4" "$5"; do
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

# pid_stop PID: ends a process this shell started (nothing when PID is empty) and reaps it.
pid_stop() {
	[ -n "$1" ] || return 0
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

keyd_stop() {
	pid_stop "$KEYD_PID"
	KEYD_PID=""
}

# keyd_pck_ca DIR CN SERIAL CRL_NUMBER CRL_DER CHAIN: a PCK CA named "CN/O=Test" under the test
# root ($T/sim), for collateral beside quotegen's own PCK CA: its empty CRL with that number
# (hex, e.g. 05) into CRL_DER, and "CA, root" into CHAIN. On failure, prints the end of its log.
keyd_pck_ca() {
	mkdir -p "$1"
	printf '[ca]\ndefault_ca = d\n[d]\ndatabase = %s/index\ncrlnumber = %s/crlnumber\ndefault_md = sha256\ndefault_crl_days = 30\n' \
		"$1" "$1" >"$1/ca.cnf"
	: >"$1/index"
	echo "$4" >"$1/crlnumber"
	printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' >"$1/ext"
	{ openssl ecparam -name prime256v1 -genkey -noout -out "$1/ca.key" &&
		openssl req -new -key "$1/ca.key" -subj "/CN=$2/O=Test" -out "$1/ca.csr" &&
		openssl x509 -req -in "$1/ca.csr" -CA "$T/sim/root_ca.pem" -CAkey "$T/sim/root_ca_key.pem" \
			-set_serial "$3" -days 30 -extfile "$1/ext" -out "$1/ca.pem" &&
		openssl ca -batch -config "$1/ca.cnf" -gencrl -keyfile "$1/ca.key" -cert "$1/ca.pem" -out "$1/crl.pem" &&
		openssl crl -in "$1/crl.pem" -outform DER -out "$5" &&
		cat "$1/ca.pem" "$T/sim/root_ca.pem" >"$6"; } >"$1/log" 2>&1 || {
		tail -3 "$1/log"
		return 1
	}
}

# keyd_fake_pccs DIR: a loopback PCCS serving DIR (keyd-fake-pccs.py; its requests go to
# $T/pccs.log), PCCS_PID its process, and $T/keyd-pccs.json = $T/keyd.json with its pccs_url.
keyd_fake_pccs() {
	python3 "${INTEGRATION_DIR:-$(dirname "$0")}/keyd-fake-pccs.py" "$1" "$T/pccs.port" "$T/pccs.log" &
	PCCS_PID=$!
	wait_started PCCS "$PCCS_PID" "$T/pccs.log" -s "$T/pccs.port" || return 1
	sed "s#\"audit_file\"#\"pccs_url\": \"http://127.0.0.1:$(cat "$T/pccs.port")\", \"audit_file\"#" \
		"$T/keyd.json" >"$T/keyd-pccs.json"
}

