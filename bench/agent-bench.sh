#!/bin/sh
# Agent benchmark on loopback: `tdx-unlock unlock --test-passphrase` against tdx-keyd with the
# quote simulator, AGENT_BENCH_RUNS times (default 20). Prints the wall time from process start
# to exit and the agent's own start-to-secret time, both with quote generation subtracted (the
# host's quoting service dominates a real boot and is not the agent's cost), the quote time apart,
# and the peak RSS (ru_maxrss of the agent process). "Passphrase ready" is when the secret has
# been received and decrypted (the HKDF that follows takes microseconds); opening the keyslot
# after it is libcryptsetup's work, dominated by the volume-key digest's PBKDF2 (its iteration
# count was fixed by luksFormat, not by tdx-unlock).
# Each run is a fresh emulated boot (tdx-tsm-sim SIGHUP: RTMR3 back to its boot value, the
# runtime event log emptied), all in the scratch directory: keyd releases once per boot.
# Usage: BUILD=build bench/agent-bench.sh
set -u
BUILD=${BUILD:-build}
T=$(mktemp -d /tmp/agent-bench.XXXXXX)
INTEGRATION_DIR=$(dirname "$0")/../tests/integration
# shellcheck source=tests/integration/agent-env.sh
. "$INTEGRATION_DIR/agent-env.sh"
umask 077

trap agent_cleanup EXIT INT TERM

agent_env_setup >/dev/null 2>&1 || { echo "FAIL: setup"; exit 1; }
keyd_start || exit 1
write_agent_conf "$T/agent.conf" "$URL" "$PIN"

python3 - "$AGENT" "$T" "${AGENT_BENCH_RUNS:-20}" "$TSM_SIM_PID" "$TSM" <<'EOF'
import os, re, signal, statistics, subprocess, sys, time
agent, t, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
sim_pid, tsm = int(sys.argv[4]), sys.argv[5]

def sim_reboot():
    """A new emulated boot (tdx-tsm-sim SIGHUP): one release per boot."""
    def boots():
        try:
            return open(f"{tsm}/boots").read()
        except FileNotFoundError:
            return "0"
    before = boots()
    os.kill(sim_pid, signal.SIGHUP)
    for _ in range(200):
        if boots() != before:
            return
        time.sleep(0.01)
    sys.exit("FAIL: tdx-tsm-sim did not reboot")

with open(f"{t}/cmdline") as f:
    os.environ["TDX_UNLOCK_TEST_CMDLINE"] = f.read()
cmd = [agent, "unlock", "--config", f"{t}/agent.conf",
       "--test-passphrase", "-v", "--log-target", "stderr", f"{t}/disk.img"]
wall, secret, quote, header, opened, rss = [], [], [], [], [], []
for i in range(runs + 1):
    sim_reboot()
    with open(f"{t}/bench.log", "w") as log:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
        _, status, ru = os.wait4(p.pid, 0)
        ms = (time.perf_counter() - t0) * 1000
    text = open(f"{t}/bench.log").read()
    m = re.search(r"timing: secret received at (\d+) ms, keyslot opened at (\d+) ms, "
                  r"quotes took (\d+) ms, headers (\d+) ms", text)
    if os.waitstatus_to_exitcode(status) != 0 or not m:
        print("FAIL: agent run failed:\n" + text[-2000:])
        sys.exit(1)
    if i == 0:
        continue  # warm-up: page cache, keyd's first session
    q = int(m.group(3))
    wall.append(ms - q)
    secret.append(int(m.group(1)) - q)
    quote.append(q)
    header.append(int(m.group(4)))
    opened.append(int(m.group(2)) - int(m.group(1)))
    rss.append(ru.ru_maxrss)

def line(name, v, unit):
    v = sorted(v)
    p90 = v[min(len(v) - 1, int(round(0.9 * (len(v) - 1))))]
    print(f"  {name:<52} median {statistics.median(v):7.1f} {unit}  p90 {p90:7.1f} {unit}"
          f"  min {v[0]:7.1f} {unit}")

print(f"agent bench: {runs} runs of `tdx-unlock unlock --test-passphrase` (1 disk, loopback keyd, "
      f"TLS + auth + attest + resource, simulator quote)")
line("process start -> exit, quote excluded", wall, "ms")
line("unlock start -> passphrase ready, quote excluded", secret, "ms")
line("  of which LUKS2 header copy + validation", header, "ms")
line("passphrase ready -> keyslot opened (libcryptsetup)", opened, "ms")
line("quote generation (simulator, excluded above)", quote, "ms")
line("peak RSS", [r / 1024 for r in rss], "MiB")
EOF
