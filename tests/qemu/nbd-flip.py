# nbdkit python plugin (test only, QEMU scenario 11): a hostile host's disk that changes its bytes
# between two reads. Serves GOOD (an enrolled LUKS2 image) until the file FLAG exists, then BAD
# (the same disk with a cipher_null header and a plaintext root of the host's own). Read-only.
# Every read is logged to LOG as "seconds offset length good|bad".
#
#   nbdkit -r -f -i 127.0.0.1 -p PORT python tests/qemu/nbd-flip.py good=IMG bad=IMG flag=PATH log=PATH
import os
import time

API_VERSION = 2
cfg = {}
fds = {}
start = time.monotonic()


def config(key, value):
    if key not in ("good", "bad", "flag", "log"):
        raise RuntimeError("nbd-flip.py: unknown parameter %r" % key)
    cfg[key] = value


def config_complete():
    for key in ("good", "bad", "flag", "log"):
        if key not in cfg:
            raise RuntimeError("nbd-flip.py: %s= is required" % key)
    if os.path.getsize(cfg["good"]) != os.path.getsize(cfg["bad"]):
        raise RuntimeError("nbd-flip.py: good and bad images differ in size")
    fds["good"] = os.open(cfg["good"], os.O_RDONLY)
    fds["bad"] = os.open(cfg["bad"], os.O_RDONLY)
    fds["log"] = os.open(cfg["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)


def open(readonly):  # noqa: A001 (nbdkit's callback name)
    return 1


def get_size(h):
    return os.path.getsize(cfg["good"])


def can_write(h):
    return False


def pread(h, buf, offset, flags):
    which = "bad" if os.path.exists(cfg["flag"]) else "good"
    data = os.pread(fds[which], len(buf), offset)
    buf[:len(data)] = data
    os.write(fds["log"], b"%.3f %d %d %s\n" % (time.monotonic() - start, offset, len(buf),
                                               which.encode()))
