#!/usr/bin/env python3
"""Independent implementation of what a TDVF direct boot measures (for tests of
`tdx-keyd image-measure`): PE Authenticode SHA-384 of the kernel, SHA-384 of the initrd, SHA-384
of the command line as UTF-16LE with its NUL; and a tiny PE/COFF writer for test images.

  image_measure.py measure KERNEL INITRD CMDLINE [--qemu-ram BYTES]
                                                  -> JSON {"kernel","initrd","cmdline"} (hex);
                     --qemu-ram: the kernel as QEMU 8.0-10.0 patches its setup header (q35)
  image_measure.py make-pe OUT [--cert N] [--tail N] [--bzimage] -> writes a small PE32+ image
                     (--bzimage: with a Linux boot-protocol 2.15 setup header)
  image_measure.py ccel OUT KERNEL_HEX CMDLINE_HEX INITRD_HEX -> a direct-boot CCEL; prints RTMRs
"""
import hashlib
import json
import struct
import sys


def authenticode_sha384(data: bytes) -> bytes:
    lfanew = struct.unpack_from("<I", data, 0x3C)[0]
    if data[lfanew:lfanew + 4] != b"PE\0\0":
        raise ValueError("no PE signature")
    n_sections = struct.unpack_from("<H", data, lfanew + 6)[0]
    opt_size = struct.unpack_from("<H", data, lfanew + 20)[0]
    opt = lfanew + 24
    magic = struct.unpack_from("<H", data, opt)[0]
    plus = magic == 0x20B
    checksum = opt + 64
    dirs = opt + (112 if plus else 96)
    n_dirs = struct.unpack_from("<I", data, dirs - 4)[0]
    headers = struct.unpack_from("<I", data, opt + 60)[0]
    h = hashlib.sha384()
    cert_size = 0
    if n_dirs > 4:
        entry = dirs + 32
        cert_size = struct.unpack_from("<I", data, entry + 4)[0]
        h.update(data[:checksum])
        h.update(data[checksum + 4:entry])
        h.update(data[entry + 8:headers])
    else:
        h.update(data[:checksum])
        h.update(data[checksum + 4:headers])
    table = opt + opt_size
    sections = []
    for i in range(n_sections):
        size, ptr = struct.unpack_from("<II", data, table + 40 * i + 16)
        if size:
            sections.append((ptr, size))
    hashed = headers
    for ptr, size in sorted(sections):
        h.update(data[ptr:ptr + size])
        hashed += size
    if len(data) > hashed:
        h.update(data[hashed:len(data) - cert_size])
    if len(data) % 8:
        h.update(bytes(8 - len(data) % 8))
    return h.digest()


def qemu_patch(kernel: bytes, ram: int, initrd_size: int, cmdline: str) -> bytes:
    """QEMU's x86_load_linux() (8.0-10.0) edits of the setup header for a bzImage with boot
    protocol >= 2.02 loaded high, on a q35 machine with `ram` bytes."""
    k = bytearray(kernel)
    if k[0x202:0x206] != b"HdrS":
        raise ValueError("no setup header")
    version, = struct.unpack_from("<H", k, 0x206)
    if version < 0x202 or not k[0x211] & 1:
        raise ValueError("not modelled")
    lowmem = 0x80000000 if ram >= 0xB0000000 else 0xB0000000
    below_4g = min(ram, lowmem)
    acpi = 0x20000 + 0x8000
    if version >= 0x20C and struct.unpack_from("<H", k, 0x236)[0] & 2:
        initrd_max = 0xFFFFFFFF
    else:
        initrd_max, = struct.unpack_from("<I", k, 0x22C)
    initrd_max = min(initrd_max, below_4g - acpi - 1)
    real_addr, cmdline_addr = 0x10000, 0x20000
    struct.pack_into("<I", k, 0x228, cmdline_addr)
    i = cmdline.find("vga=")
    if i >= 0:
        word = cmdline[i + 4:].split(" ")[0]
        named = {"normal": 0xFFFF, "ext": 0xFFFE, "ask": 0xFFFD}
        mode = next((v for n, v in named.items() if cmdline[i + 4:].startswith(n)), None)
        struct.pack_into("<H", k, 0x1FA, mode if mode is not None else int(word, 0))
    k[0x210] = 0xB0
    k[0x211] |= 0x80
    struct.pack_into("<H", k, 0x224, cmdline_addr - real_addr - 0x200)
    struct.pack_into("<II", k, 0x218, (initrd_max - initrd_size) & ~4095, initrd_size)
    return bytes(k)


def cmdline_sha384(cmdline: str) -> bytes:
    return hashlib.sha384(cmdline.encode("utf-16-le") + b"\0\0").digest()


def make_pe(cert: int, tail: int, bzimage: bool = False) -> bytes:
    """A PE32+ image: DOS stub, headers (0x200), two sections, optional trailing data and an
    attribute certificate table at the end."""
    sections = [(b".text\0\0\0", b"\xcc" * 0x300), (b".data\0\0\0", bytes(range(256)) * 2)]
    lfanew = 0x80
    opt_size = 112 + 16 * 8
    headers = 0x200
    dos = bytearray(lfanew)
    dos[0:2] = b"MZ"
    struct.pack_into("<I", dos, 0x3C, lfanew)
    coff = b"PE\0\0" + struct.pack("<HHIIIHH", 0x8664, len(sections), 0, 0, 0, opt_size, 0x22)
    opt = bytearray(opt_size)
    struct.pack_into("<H", opt, 0, 0x20B)
    struct.pack_into("<I", opt, 60, headers)
    struct.pack_into("<I", opt, 64, 0x12345678)  # checksum: not hashed
    struct.pack_into("<I", opt, 108, 16)
    table = b""
    off = headers
    body = b""
    for name, raw in sections:
        table += name + struct.pack("<IIIIIIHHI", len(raw), off, len(raw), off, 0, 0, 0, 0, 0)
        body += raw
        off += len(raw)
    img = bytearray(bytes(dos) + coff + bytes(opt) + table)
    img += bytes(headers - len(img))
    img += body + bytes(range(7)) * tail
    if bzimage:  # a setup header over the first section, as a real bzImage has
        img[0x1F1] = 1
        img[0x202:0x206] = b"HdrS"
        struct.pack_into("<H", img, 0x206, 0x20F)
        img[0x211] = 0x01  # LOADED_HIGH
        struct.pack_into("<I", img, 0x22C, 0x7FFFFFFF)
        struct.pack_into("<H", img, 0x236, 0x7F)  # XLF_* incl. CAN_BE_LOADED_ABOVE_4G
    if cert:
        cert_off = len(img)
        img += b"\xab" * cert
        o = lfanew + 24 + 112 + 4 * 8
        struct.pack_into("<II", img, o, cert_off, cert)
    return bytes(img)


def build_ccel(kernel: bytes, cmdline: bytes, initrd: bytes):
    """A CCEL as TDVF writes it for a direct boot (a synthetic RTMR0 event first)."""
    spec = b"Spec ID Event03\0" + struct.pack("<IBBBBI", 0, 0, 2, 0, 2, 1) + \
        struct.pack("<HH", 0x0C, 48) + b"\0"
    out = struct.pack("<II", 0, 3) + bytes(20) + struct.pack("<I", len(spec)) + spec
    actions = [b"Calling EFI Application from Boot Option", None,
               b"Exit Boot Services Invocation", b"Exit Boot Services Returned with Success"]
    events = [(1, 0x8000000B, hashlib.sha384(b"simulated TD HOB").digest(), b"TdHob\0"),
              (2, 0x80000003, kernel, bytes(32))]
    for a in actions:
        data = a if a else bytes(4)
        events.append((2, 0x80000007 if a else 4, hashlib.sha384(data).digest(), data))
    events.append((3, 6, cmdline, struct.pack("<II", 0x8F3B22ED, 26) + b"LOADED_IMAGE::LoadOptions\0"))
    events.append((3, 6, initrd, struct.pack("<II", 0x8F3B22EC, 13) + b"Linux initrd\0"))
    rtmr = [bytes(48)] * 4
    for mr, typ, digest, data in events:
        out += struct.pack("<III", mr, typ, 1) + struct.pack("<H", 0x0C) + digest
        out += struct.pack("<I", len(data)) + data
        rtmr[mr - 1] = hashlib.sha384(rtmr[mr - 1] + digest).digest()
    return out + b"\xff" * 64, rtmr


def main(argv):
    if argv[1] == "measure":
        kernel = open(argv[2], "rb").read()
        initrd = open(argv[3], "rb").read()
        if "--qemu-ram" in argv:
            kernel = qemu_patch(kernel, int(argv[argv.index("--qemu-ram") + 1]), len(initrd), argv[4])
        print(json.dumps({"kernel": authenticode_sha384(kernel).hex(),
                          "initrd": hashlib.sha384(initrd).hexdigest(),
                          "cmdline": cmdline_sha384(argv[4]).hex()}))
    elif argv[1] == "make-pe":
        cert = int(argv[argv.index("--cert") + 1]) if "--cert" in argv else 0
        tail = int(argv[argv.index("--tail") + 1]) if "--tail" in argv else 0
        open(argv[2], "wb").write(make_pe(cert, tail, "--bzimage" in argv))
    elif argv[1] == "ccel":
        log, rtmr = build_ccel(*(bytes.fromhex(x) for x in argv[3:6]))
        open(argv[2], "wb").write(log)
        print(json.dumps({"rtmr%d" % i: r.hex() for i, r in enumerate(rtmr)}))
    else:
        sys.exit("usage: see the module docstring")


if __name__ == "__main__":
    main(sys.argv)
