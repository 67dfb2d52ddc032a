#!/bin/sh
# Sourced after keyd-env.sh (and keyd_env_setup) by the fleet test and benchmark: up to three
# keyd replicas sharing $T/keyd.json (each with its own port and audit file) behind Debian's
# HAProxy (loopback, TCP mode, round-robin, no affinity).
# Provides: fleet_ports (P1 P2 P3 PH), replica_start I, haproxy_start N, fleet_stop.

FLEET_PIDS=""
PID2=""
HAPROXY_PID=""

# Free loopback ports: one per replica and one for HAProxy.
fleet_ports() {
	# shellcheck disable=SC2046 # word splitting wanted
	set -- $(python3 -c 'import socket
s = [socket.socket() for _ in range(4)]
for x in s: x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))')
	P1=$1 P2=$2 P3=$3 PH=$4
}

# Replica I: the shared configuration with its own port and audit file.
replica_start() {
	i=$1
	case $i in 1) port=$P1 ;; 2) port=$P2 ;; *) port=$P3 ;; esac
	sed -e "s/\"port\": 0/\"port\": $port/" -e "s/\"audit.log\"/\"audit-$i.log\"/" \
		"$T/keyd.json" >"$T/keyd-$i.json"
	rm -f "$T/port-$i"
	TDX_KEYD_TEST_PORT_FILE="$T/port-$i" "$KEYD" serve --config "$T/keyd-$i.json" \
		2>>"$T/keyd-$i.stderr" &
	# shellcheck disable=SC2034 # the sourcing script kills replica 2
	[ "$i" = 2 ] && PID2=$!
	FLEET_PIDS="$FLEET_PIDS $!"
	n=0
	while [ ! -s "$T/port-$i" ]; do
		n=$((n + 1))
		if [ $n -gt 100 ]; then
			echo "replica $i did not start:" >&2
			tail -5 "$T/keyd-$i.stderr" >&2
			return 1
		fi
		sleep 0.1
	done
}

wait_port() {
	python3 - "$1" <<'PY'
import socket, sys, time
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
PY
}

# HAProxy on $PH over replicas 1..N. TCP health check (connect only: no TLS handshake, so no
# audit line per check); a dead replica's connection attempts are retried on another one.
haproxy_start() {
	{
		cat <<EOC
global
    maxconn 4096
    nbthread 1
defaults
    mode tcp
    timeout connect 1s
    timeout client 60s
    timeout server 60s
    retries 3
    option redispatch
frontend kbs
    bind 127.0.0.1:$PH
    default_backend keyd
backend keyd
    balance roundrobin
    default-server check inter 300ms fall 1 rise 2
    server k1 127.0.0.1:$P1
EOC
		[ "$1" -ge 2 ] && echo "    server k2 127.0.0.1:$P2"
		[ "$1" -ge 3 ] && echo "    server k3 127.0.0.1:$P3"
	} >"$T/haproxy.cfg"
	"${HAPROXY:-haproxy}" -c -q -f "$T/haproxy.cfg" || return 1
	"${HAPROXY:-haproxy}" -db -f "$T/haproxy.cfg" >"$T/haproxy.log" 2>&1 &
	HAPROXY_PID=$!
	wait_port "$PH" || { cat "$T/haproxy.log" >&2; return 1; }
	sleep 1 # the first health checks
}

fleet_stop() {
	for p in $FLEET_PIDS $HAPROXY_PID; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	FLEET_PIDS=""
	HAPROXY_PID=""
}
