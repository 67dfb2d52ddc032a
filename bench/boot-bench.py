#!/usr/bin/env python3
"""Helpers of bench/boot-bench.sh (make bench-boot, docs/bench.md).

  boot-bench.py relay LISTEN_PORT_FILE TARGET_PORT CONN_LOG
      A loopback TCP relay 127.0.0.1:<ephemeral> -> 127.0.0.1:TARGET_PORT that appends the
      CLOCK_MONOTONIC time of every accepted connection to CONN_LOG, so the bench knows when the
      guest first reached its key server (tdx-keyd or tang), whichever the server is. It writes
      its port to LISTEN_PORT_FILE and runs until killed.
  boot-bench.py figures KIND SERIAL_LOG SUMMARY CONN_LOG
      Prints one boot's figures (kernel clock, seconds) as key=value lines.
  boot-bench.py table RESULTS_FILE
      Prints the median table with ratios from the key=value lines of every boot.
"""

import os
import re
import socket
import statistics
import sys
import threading
import time

# When each unlock component starts and ends on the serial console. tdx-unlock is a oneshot unit
# that exits once it has activated the disk; the agent starts when the unit's device wait ends
# (its last line): the unit itself starts right after udev's coldplug and waits there for the
# disk, which is the shared boot, not the component. clevis-luks-askpass is started by its path
# unit the moment systemd-cryptsetup asks for a passphrase (the prompt, once the disk is there) and
# runs on; its work is done when the LUKS root is active.
COMPONENT_START = {
    "tdx": re.compile(r"tdx-unlock: (devices present|all devices present|not present after|"
                      r"no systemd-cryptsetup unit)"),
    "clevis": re.compile(r"Please enter passphrase for disk"),
}
COMPONENT_END = {
    "tdx": re.compile(r"Finished tdx-unlock"),
    "clevis": None,
}
# The LUKS root is active when systemd sees its device-mapper node (what the root mount waits
# for), whoever activated it: the same console line for both kinds.
LUKS_ACTIVE = re.compile(r"Found device dev-mapper-lu")
# The encrypted disk itself (by UUID, what systemd-cryptsetup@ is bound to): everything before it
# (kernel, initrd systemd, udev's coldplug loading the virtio drivers) is shared by both kinds.
DISK_PRESENT = re.compile(r"Found device dev-disk-by")
LOG_LINE = re.compile(r"^\s*(\d+\.\d+) (.*)$")


def relay(port_file, target_port, conn_log):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    with open(port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.getsockname()[1])
    os.rename(port_file + ".tmp", port_file)

    def pipe(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    while True:
        client, _ = srv.accept()
        t = time.monotonic()
        with open(conn_log, "a") as f:
            f.write("%.6f\n" % t)
        try:
            server = socket.create_connection(("127.0.0.1", int(target_port)), timeout=10)
            server.settimeout(None)
        except OSError:
            client.close()
            continue
        for a, b in ((client, server), (server, client)):
            threading.Thread(target=pipe, args=(a, b), daemon=True).start()


def read_summary(path):
    out = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            out[k] = v
    return out


def figures(kind, log_path, summary_path, conn_log):
    s = read_summary(summary_path)
    start, offset = s.get("start_monotonic"), s.get("kernel_offset")
    fig = {"kind": kind}
    if not start or not offset:
        fig["error"] = "no kernel clock in the serial log"
        return fig
    start, offset = float(start), float(offset)
    luks = disk = comp_start = comp_end = None
    # Only \n ends a line: status lines carry \r and escape sequences in the middle.
    with open(log_path, encoding="utf-8", errors="replace", newline="\n") as f:
        for line in f:
            m = LOG_LINE.match(line)
            if not m:
                continue
            t, text = float(m.group(1)) - offset, m.group(2)
            if luks is None and LUKS_ACTIVE.search(text):
                luks = t
            if disk is None and DISK_PRESENT.search(text):
                disk = t
            if comp_start is None and COMPONENT_START[kind].search(text):
                comp_start = t
            end_rx = COMPONENT_END[kind]
            if end_rx is not None and comp_end is None and end_rx.search(text):
                comp_end = t
    if luks is None:
        fig["error"] = "the LUKS root never became active"
        return fig
    fig["kernel_to_luks"] = luks
    if disk is not None:
        fig["kernel_to_disk"] = disk
        fig["disk_to_luks"] = luks - disk
    if s.get("root_mounted"):
        fig["kernel_to_root"] = float(s["root_mounted"])
    try:
        with open(conn_log) as f:
            first = min(float(x) for x in f if x.strip())
        fig["conn_to_luks"] = luks - (first - start - offset)
    except (OSError, ValueError):
        fig["error"] = "the key server was never reached"
    if COMPONENT_END[kind] is None:
        comp_end = luks
    if comp_start is not None and comp_end is not None:
        fig["component"] = comp_end - comp_start
    else:
        fig.setdefault("error", "the unlock component's start or end is not in the serial log")
    return fig


ROWS = [
    ("conn_to_luks", "first connection to the key server -> LUKS root active", "s"),
    ("component", "unlock component run time", "s"),
    ("kernel_to_luks", "kernel start -> LUKS root active", "s"),
    ("initramfs_added", "what the unlock module adds to the initramfs", "MB"),
    ("kernel_to_root", "(also) kernel start -> real root mounted", "s"),
    ("kernel_to_disk", "(also) kernel start -> encrypted disk present (shared boot)", "s"),
    ("disk_to_luks", "(also) encrypted disk present -> LUKS root active", "s"),
]


def table(results):
    vals = {}
    with open(results) as f:
        for line in f:
            d = dict(kv.split("=", 1) for kv in line.split())
            for k, v in d.items():
                if k in dict((r[0], 1) for r in ROWS):
                    vals.setdefault((d["kind"], k), []).append(float(v))
    boots = len(vals.get(("tdx", "kernel_to_luks"), []))
    rounds = {}
    with open(results) as f:
        for line in f:
            d = dict(kv.split("=", 1) for kv in line.split())
            if "round" in d and "kernel_to_luks" in d:
                rounds.setdefault(d["round"], {})[d["kind"]] = d
    print("| figure (kernel clock, median of %d boots each) | clevis+tang | tdx-unlock | ratio |"
          % boots)
    print("|---|---|---|---|")
    for key, label, unit in ROWS:
        cl, td = vals.get(("clevis", key)), vals.get(("tdx", key))
        if not cl or not td:
            print("| %s | %s | %s | - |" % (label, "?" if not cl else "", "?" if not td else ""))
            continue
        c, t = statistics.median(cl), statistics.median(td)
        if unit == "MB":
            cs, ts = "+%.2f MB" % (c / 1e6), "+%.2f MB" % (t / 1e6)
        else:
            cs, ts = "%.2f s" % c, "%.2f s" % t
        print("| %s | %s | %s | %s |" % (label, cs, ts, "%.2f" % (t / c) if c > 0 else "-"))
    print("")
    print("per round, kernel start -> LUKS root active (load average, 1 min, before each boot):")
    for r in sorted(rounds, key=int):
        td, cl = rounds[r].get("tdx"), rounds[r].get("clevis")
        if not td or not cl:
            continue
        t, c = float(td["kernel_to_luks"]), float(cl["kernel_to_luks"])
        print("  round %s: tdx-unlock %.2f s (load %s), clevis %.2f s (load %s): ratio %.2f"
              % (r, t, td.get("load", "?"), c, cl.get("load", "?"), t / c if c > 0 else 0))


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "relay":
        relay(*sys.argv[2:])
    elif len(sys.argv) == 6 and sys.argv[1] == "figures":
        fig = figures(*sys.argv[2:])
        print(" ".join("%s=%s" % (k, ("%.3f" % v) if isinstance(v, float) else
                                  str(v).replace(" ", "_")) for k, v in fig.items()))
    elif len(sys.argv) == 3 and sys.argv[1] == "table":
        table(sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
