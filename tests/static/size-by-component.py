#!/usr/bin/env python3
"""Bytes each component adds to the static agent, from the GNU ld map of its link
(mk/static.mk writes $(BUILD)/static/tdx-unlock.map). Counts the input sections the linker kept
in allocated output sections (what stays after strip); sections --gc-sections dropped are listed
apart in the map and not counted. Usage: size-by-component.py MAP [STRIPPED-BINARY]"""
import os
import re
import sys
from collections import defaultdict

ENTRY = re.compile(r"^ (\S+)?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")


def component(path):
    m = re.match(r"(.*?)\((.*)\)$", path)
    if m:  # archive(member)
        return os.path.basename(m.group(1))
    if "/obj/src/" in path:
        return "tdx-unlock (src/" + path.split("/obj/src/")[1].split("/")[0] + ")"
    return os.path.basename(path)


def main():
    sizes = defaultdict(int)
    in_map = False
    pending = None
    for line in open(sys.argv[1], errors="replace"):
        if line.startswith("Linker script and memory map"):
            in_map = True
            continue
        if not in_map:
            continue
        if re.match(r"^ \S+$", line.rstrip("\n")):  # long section name: numbers on the next line
            pending = line.strip()
            continue
        m = ENTRY.match(line.rstrip("\n"))
        name = (m.group(1) if m and m.group(1) else pending) if m else None
        pending = None
        if not m or not name or int(m.group(3), 16) == 0:
            continue
        # Allocated output only: code, read-only data, data, relro; not debug or comments.
        if name.startswith((".debug", ".comment", ".note.GNU-stack", ".gnu.warning")):
            continue
        if name.startswith(".bss") or name.startswith(".tbss") or "COMMON" in name:
            continue  # no file bytes
        sizes[component(m.group(4))] += int(m.group(3), 16)
    total = sum(sizes.values())
    print("static agent, bytes per component (kept input sections, file-backed):")
    for comp, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
        if size * 1000 >= total:  # components under 0.1 % go into "other"
            print("  %-34s %9d  %5.1f %%" % (comp, size, 100.0 * size / total))
    small = sum(s for s in sizes.values() if s * 1000 < total)
    print("  %-34s %9d  %5.1f %%" % ("other", small, 100.0 * small / total))
    print("  %-34s %9d" % ("total", total))
    if len(sys.argv) > 2:
        print("  %-34s %9d  (%.2f MiB)" % ("stripped file", os.path.getsize(sys.argv[2]),
                                          os.path.getsize(sys.argv[2]) / 1048576))


if __name__ == "__main__":
    main()
