#!/bin/sh
# Sourced by the agent's loopback tests and benchmark: on top of keyd-env.sh (test quote
# hierarchy, TLS key, root key, policy, collateral, keyd_start/keyd_stop) it makes a LUKS2 image
# enrolled with the secret keyd derives for $RESOURCE, writes agent configurations, and runs
# tdx-tsm-sim, the test-only emulation of configfs-tsm and RTMR3 the agent is pointed at through
# TDX_UNLOCK_TEST_TSM_REPORT_DIR / TDX_UNLOCK_TEST_RTMR_PATH. Needs: BUILD, T (an empty scratch directory);
# INTEGRATION_DIR (default: the sourcing script's directory) is where keyd-env.sh is.

AGENT="${TDX_UNLOCK_BIN:-$BUILD/tdx-unlock}"
TSM_SIM="$BUILD/tdx-tsm-sim"
TSM_SIM_PID=""
. "${INTEGRATION_DIR:-$(dirname "$0")}/keyd-env.sh"

# At exit (trap agent_cleanup EXIT INT TERM): keyd and tdx-tsm-sim stopped, the scratch directory
# removed.
# shellcheck disable=SC2317 # called through the trap
agent_cleanup() {
	keyd_stop
	tsm_sim_stop
	rm -rf "$T"
}

# tsm_sim_reboot: a new emulated boot of the running tdx-tsm-sim (SIGHUP; cheaper than a restart).
tsm_sim_reboot() {
	before=$(cat "$TSM/boots" 2>/dev/null || echo 0)
	kill -HUP "$TSM_SIM_PID" || return 1
	i=0
	while [ "$(cat "$TSM/boots" 2>/dev/null || echo 0)" = "$before" ]; do
		i=$((i + 1))
		[ $i -gt 100 ] && return 1
		sleep 0.02
	done
}

tsm_sim_stop() {
	pid_stop "$TSM_SIM_PID"
	TSM_SIM_PID=""
}

# tsm_sim_boot [QUOTESIM_DIR]: a fresh emulated TD boot (TSM_SIM_ARGS: more tdx-tsm-sim options) (RTMR3 at its pre-unlock value) in
# $TSM (default $T/tsm); $TSM/extensions lists the digests RTMR3 was extended with, $TSM/rtmr3
# its value; the agent's runtime event log goes to $TSM/rtmr3.log.
# shellcheck disable=SC2120 # the CA directory is optional; agent-unlock.sh passes one
tsm_sim_boot() {
	TSM=${TSM:-$T/tsm}
	tsm_sim_stop
	rm -rf "$TSM"
	# shellcheck disable=SC2086 # TSM_SIM_ARGS: words
	"$TSM_SIM" --ca "${1:-$T/sim}" --dir "$TSM" ${TSM_SIM_ARGS:-} 2>>"$T/tsm-sim.log" &
	TSM_SIM_PID=$!
	wait_started tdx-tsm-sim "$TSM_SIM_PID" "$T/tsm-sim.log" -e "$TSM/ready" || return 1
	export TDX_UNLOCK_TEST_TSM_REPORT_DIR="$TSM/report"
	export TDX_UNLOCK_TEST_RTMR_PATH="$TSM/rtmr3:sha384"
	export TDX_UNLOCK_TEST_AAEL="$TSM/rtmr3.log"
}

# SHA-256 of the SPKI of a PEM certificate, as a pin.
spki_pin() {
	openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform der |
		openssl dgst -sha256 -binary | od -An -tx1 -v | tr -d ' \n'
}

# A LUKS2 image with a recovery passphrase (Argon2id, as a real image) and, with a secret file,
# the tdx-unlock keyslot + token enrolled by the agent's own enroll command.
make_image() { # IMAGE [SECRET_FILE [RESOURCE]]
	truncate -s 20M "$1"
	cryptsetup luksFormat -q --type luks2 --pbkdf argon2id --pbkdf-memory 32768 \
		--iter-time 50 --key-file "$T/recovery.key" "$1" || return 1
	if [ -n "${2:-}" ]; then
		"$AGENT" enroll "$1" --resource "${3:-$RESOURCE}" --secret-file "$2" \
			--key-file "$T/recovery.key" >/dev/null || return 1
	fi
}

# Agent configuration: write_agent_conf FILE URL PIN [URL PIN]... (total budget etc. from env).
write_agent_conf() {
	f=$1
	shift
	servers=""
	while [ $# -ge 2 ]; do
		[ -n "$servers" ] && servers="$servers,"
		servers="$servers{\"url\":\"$1\",\"pins\":[\"$2\"]}"
		shift 2
	done
	cat >"$f" <<EOC
{
  "servers": [$servers],
  "connect_timeout_ms": ${AGENT_CONNECT_MS:-500},
  "request_timeout_ms": ${AGENT_REQUEST_MS:-5000},
  "total_timeout_s": ${AGENT_TOTAL_S:-20},
  "attempts": ${AGENT_ATTEMPTS:-3},
  "backoff_initial_ms": 100,
  "backoff_max_ms": 400
}
EOC
}

# The keyslot passphrase of IMAGE's tdx-unlock token for SECRET_FILE, derived independently of the
# C code (RFC 5869 HKDF-SHA256 in Python), written to OUT.
independent_passphrase() { # IMAGE SECRET_FILE OUT
	python3 - "$1" "$2" "$3" <<'EOF'
import base64, hashlib, hmac, json, subprocess, sys
img, secret_file, out = sys.argv[1:4]
md = json.loads(subprocess.run(["cryptsetup", "luksDump", "--dump-json-metadata", img],
                               check=True, capture_output=True, text=True).stdout)
tok = [t for t in md["tokens"].values() if t["type"] == "tdx-unlock"][0]
uuid = subprocess.run(["cryptsetup", "luksUUID", img], check=True, capture_output=True,
                      text=True).stdout.strip().lower()
prk = hmac.new(base64.b64decode(tok["salt"]), open(secret_file, "rb").read(), hashlib.sha256).digest()
info = b"tdx-unlock/v1" + uuid.encode() + tok["keyslots"][0].encode()
open(out, "wb").write(hmac.new(prk, info + b"\x01", hashlib.sha256).digest())
EOF
}

# A loopback port nothing listens on (bound, then released).
dead_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

agent_env_setup() {
	keyd_env_setup || return 1
	# A plain boot starts with RTMR3 zero (the agent's event log then replays to it exactly);
	# the policy is made from a quote of that boot.
	"$QUOTEGEN" defaults --ca "$T/sim" \
		--rtmr3 "$(printf '0%.0s' $(seq 96))" >/dev/null || return 1
	"$QUOTEGEN" quote --ca "$T/sim" --out "$T/ref.quote" >/dev/null || return 1
	"$KEYD" policy-from-quote --quote "$T/ref.quote" --id test-image \
		--resource "$RESOURCE" >"$T/policies/test-image.json" || return 1
	printf 'recovery passphrase' >"$T/recovery.key"
	: >"$T/cmdline"
	# The agent reads this instead of the host's /proc/cmdline (docs/testing.md).
	export TDX_UNLOCK_TEST_CMDLINE=
	# shellcheck disable=SC2034 # PIN, OTHER_PIN: for the scripts that source this file
	PIN=$(spki_pin "$T/tls.crt")
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
		-subj "/CN=other" -keyout "$T/other.key" -out "$T/other.crt" 2>/dev/null
	# shellcheck disable=SC2034 # (see PIN)
	OTHER_PIN=$(spki_pin "$T/other.crt")
	make_image "$T/disk.img" "$T/expected.secret" || return 1
	# shellcheck disable=SC2119 # the default CA directory
	tsm_sim_boot
}
