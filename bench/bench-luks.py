#!/usr/bin/env python3
"""Benchmark of the LUKS side of an unlock, on a LUKS2 image file.

Figures (median of N runs, wall time of the whole process, and its peak RSS):
  check            header copy into a sealed memfd + allow-list validation
  check+open       the same + HKDF + opening the PBKDF2-1000 keyslot (no device-mapper)
  argon2id open    reference: `cryptsetup open --test-passphrase` of the recovery keyslot
                   (argon2id, 64 MiB, --iter-time 100), what a human passphrase costs
Usage: bench-luks.py TDX_UNLOCK_BIN [RUNS]
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time


def run(cmd):
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    dt = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode})")
    return dt, usage.ru_maxrss  # KiB, this child only


def measure(name, cmd, runs):
    times = []
    rss = 0
    for _ in range(runs):
        dt, peak = run(cmd)
        times.append(dt)
        rss = max(rss, peak)
    print(f"{name:16s} median {statistics.median(times) * 1000:7.1f} ms  "
          f"min {min(times) * 1000:7.1f} ms  peak RSS {rss / 1024:.1f} MiB  ({runs} runs)")


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    binary = os.path.abspath(sys.argv[1])
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    with tempfile.TemporaryDirectory(prefix="bench-luks.") as d:
        img, rec, sec = (os.path.join(d, n) for n in ("disk.img", "recovery.key", "secret"))
        with open(rec, "wb") as f:
            f.write(b"recovery passphrase")
        with open(sec, "wb") as f:
            f.write(os.urandom(32))
        os.chmod(sec, 0o600)
        with open(img, "wb") as f:
            f.truncate(32 << 20)
        subprocess.run(["cryptsetup", "luksFormat", "-q", "--type", "luks2", "--pbkdf",
                        "argon2id", "--pbkdf-memory", "65536", "--iter-time", "100",
                        "--key-file", rec, img], check=True)
        subprocess.run([binary, "enroll", img, "--resource", "default/disk/root",
                        "--secret-file", sec, "--key-file", rec], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(f"bench-luks: {binary} on a 32 MiB LUKS2 image")
        measure("check", [binary, "check", img], runs)
        measure("check+open", [binary, "check", img, "--secret-file", sec], runs)
        measure("argon2id open", ["cryptsetup", "open", "--test-passphrase", "--key-slot", "0",
                                  "--key-file", rec, img], runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
