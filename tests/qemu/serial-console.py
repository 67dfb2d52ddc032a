#!/usr/bin/env python3
"""Runs one QEMU boot and drives its serial console, like a tiny expect.

QEMU is started by this script (so it owns the PID and can always kill it), with its serial port on a
unix socket chardev in server,wait=on mode: no early output is lost. Every console line is written to
the log with the host time since QEMU started. When a LUKS passphrase prompt appears, the passphrase
from --passphrase-file is typed (prompts have no trailing newline: partial lines are matched). The
boot is bounded by --timeout; QEMU is killed by its PID when it runs over.

At the end a summary is printed as 'key=value' lines; kernel-clock times are estimated from the
kernel's own printk timestamps ('[   12.345678]'), so they do not count QEMU's start-up.

usage: serial-console.py --socket PATH --log FILE --timeout SEC [--passphrase-file F]
                         [--max-prompts N] -- qemu-system-x86_64 ARGS...
"""

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import time

PROMPTS = [
    # systemd-cryptsetup through systemd-ask-password-console (dracut)
    # (may be followed by " (press TAB for no echo)" on the same line)
    re.compile(rb"Please enter passphrase for disk [^\r\n]*:"),
    # cryptroot (initramfs-tools)
    re.compile(rb"Please unlock disk [^\r\n]*:"),
]
KERNEL_TS = re.compile(r"^\[\s*(\d+\.\d+)\]")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

# Console events whose kernel-clock time the boot tests report.
EVENTS = {
    "network_wait": re.compile(r"Starting systemd-networkd-.*(it for Network|Configured)|Waiting up to .* for any network device|tdx-unlock(\[\d+\])?: network: waiting up to"),
    "agent_started": re.compile(r"Starting tdx-unlock|Begin: tdx-unlock"),
    "agent_finished": re.compile(r"Finished tdx-unlock|tdx-unlock: (devices unlocked|automatic unlock failed)"),
    "prompt": re.compile(r"Please (enter passphrase for disk|unlock disk)"),
    "cryptsetup_done": re.compile(r"Finished systemd-cryptsetu|Reached target cryptsetup\.|cryptsetup: .*set up successfully|Begin: Running /scripts/local-premount"),
    "root_mounted": re.compile(r"TDX-UNLOCK-TEST: real root mounted"),
    # How the VM ended: the kernel's last words for a power-off and for a reboot.
    "power_down": re.compile(r"reboot: Power down"),
    "restart": re.compile(r"reboot: Restarting system"),
}
# A shell offered on the console (dracut's emergency shell and sulogin, initramfs-tools' panic
# shell, any sh prompt); matched on complete and on partial lines, as a prompt has no newline.
SHELL = re.compile(r"Give root password|Press Enter for maintenance|Entering emergency mode|"
                   r"\(initramfs\) ?$|^[a-z]*:/# ?$|^sh-[0-9.]+# ?$|Dropping to debug shell")


def connect(path, deadline, qemu):
    while time.monotonic() < deadline:
        if qemu.poll() is not None:
            return None
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            return s
        except OSError:
            s.close()
            time.sleep(0.05)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--timeout", type=float, required=True)
    ap.add_argument("--passphrase-file")
    ap.add_argument("--max-prompts", type=int, default=3)
    ap.add_argument("qemu", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.qemu[1:] if args.qemu[:1] == ["--"] else args.qemu
    if not cmd:
        ap.error("no QEMU command given")

    passphrase = None
    if args.passphrase_file:
        with open(args.passphrase_file, "rb") as f:
            passphrase = f.read().rstrip(b"\n")

    start = time.monotonic()
    deadline = start + args.timeout
    qemu = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    timed_out = False
    prompts = 0
    events = {}
    kernel_offsets = []  # host_time - kernel_time for every timestamped kernel line
    lines = []  # (host_time, text)
    with open(args.log, "w", encoding="utf-8", errors="replace") as log:
        sock = connect(args.socket, min(deadline, start + 30), qemu)
        if sock is None:
            log.write("serial-console: could not connect to %s\n" % args.socket)
        else:
            def answer(t, prompts):
                """Types the passphrase at a prompt (up to --max-prompts); returns the count."""
                events.setdefault("prompt", t)
                if passphrase is not None and prompts < args.max_prompts:
                    prompts += 1
                    log.write("%9.3f serial-console: typing the passphrase (%d)\n" % (t, prompts))
                    sock.sendall(passphrase + b"\r")
                else:
                    log.write("%9.3f serial-console: prompt left unanswered\n" % t)
                return prompts

            sock.settimeout(0.2)
            partial = b""
            while True:
                now = time.monotonic()
                if now > deadline:
                    timed_out = True
                    break
                try:
                    data = sock.recv(4096)
                    if not data:
                        break
                except socket.timeout:
                    if qemu.poll() is not None:
                        break
                    continue
                except OSError:
                    break
                partial += data
                *complete, partial = partial.split(b"\n")
                t = time.monotonic() - start
                for raw in complete:
                    text = ANSI.sub("", raw.decode("utf-8", "replace")).rstrip("\r")
                    log.write("%9.3f %s\n" % (t, text))
                    lines.append((t, text))
                    m = KERNEL_TS.match(text)
                    if m:
                        kernel_offsets.append(t - float(m.group(1)))
                    for name, rx in EVENTS.items():
                        if name not in events and rx.search(text):
                            events[name] = t
                    if "shell" not in events and SHELL.search(text):
                        events["shell"] = t
                    # A prompt whose line other console output completed before it was seen
                    # alone (a daemon writing to the console at that moment) is still answered.
                    if any(rx.search(text.encode()) for rx in PROMPTS):
                        prompts = answer(t, prompts)
                log.flush()
                clean = ANSI.sub("", partial.decode("utf-8", "replace")).encode()
                if "shell" not in events and SHELL.search(clean.decode("utf-8", "replace")):
                    events["shell"] = t
                    log.write("%9.3f %s\n" % (t, clean.decode("utf-8", "replace")))
                    log.write("%9.3f serial-console: a shell prompt appeared\n" % t)
                    partial = b""
                if any(rx.search(clean) for rx in PROMPTS):
                    log.write("%9.3f %s\n" % (t, clean.decode("utf-8", "replace")))
                    prompts = answer(t, prompts)
                    partial = b""
            if partial:
                log.write("%9.3f %s\n" % (time.monotonic() - start, partial.decode("utf-8", "replace")))
            sock.close()
        if qemu.poll() is None:
            if not timed_out:
                # The guest closed the console but QEMU did not exit: give it a moment.
                try:
                    qemu.wait(timeout=max(0.1, min(10, deadline - time.monotonic())))
                except subprocess.TimeoutExpired:
                    timed_out = True
            if qemu.poll() is None:
                os.killpg(qemu.pid, signal.SIGKILL)
                qemu.wait()
        qemu_out = qemu.stdout.read().decode("utf-8", "replace") if qemu.stdout else ""
        if qemu_out:
            log.write("---- qemu stdout/stderr ----\n" + qemu_out)

    # The smallest host-minus-kernel offset is the line that was printed with the least delay.
    offset = min(kernel_offsets) if kernel_offsets else None
    print("elapsed=%.1f" % (time.monotonic() - start))
    print("timed_out=%d" % timed_out)
    print("qemu_status=%s" % qemu.returncode)
    print("prompts_answered=%d" % prompts)
    # For host-side timestamps (bench/boot-bench.py): kernel clock = monotonic - start - offset.
    print("start_monotonic=%.6f" % start)
    print("kernel_offset=%s" % ("%.6f" % offset if offset is not None else ""))
    for name in list(EVENTS) + ["shell"]:
        if name in events:
            # Without a kernel timestamp yet, the host time (an event must never go unreported).
            print("%s=%.2f" % (name, events[name] - (offset or 0)))
        else:
            print("%s=" % name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
