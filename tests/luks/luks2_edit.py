#!/usr/bin/env python3
"""Rewrite the JSON metadata of a LUKS2 image and fix both header checksums.

Test tool: it crafts the malicious headers that tdx-unlock must refuse (a host controls the disk
of a confidential VM, so it can write any header it likes). Layout per the LUKS2 on-disk format
specification: two copies of (4096-byte binary header + JSON area), each hdr_size bytes long,
the second at offset hdr_size. Each copy's checksum is SHA-256 over its hdr_size bytes with the
64-byte checksum field zeroed.

  luks2_edit.py dump IMAGE                 print the JSON metadata
  luks2_edit.py write IMAGE FILE           replace the JSON metadata with FILE's
  luks2_edit.py mutate IMAGE NAME...       apply named mutations (list: luks2_edit.py mutations)
"""
import hashlib
import json
import struct
import sys

MAGIC1 = b"LUKS\xba\xbe"
MAGIC2 = b"SKUL\xba\xbe"
BIN_HDR = 4096
OFF_HDR_SIZE = 8
OFF_SEQID = 16
OFF_CSUM_ALG = 72
OFF_HDR_OFFSET = 256
OFF_CSUM = 448
CSUM_LEN = 64


def read_header(f, offset):
    f.seek(offset)
    binhdr = f.read(BIN_HDR)
    magic = binhdr[:6]
    if magic not in (MAGIC1, MAGIC2):
        raise SystemExit(f"no LUKS2 header at offset {offset}")
    version, hdr_size, seqid = struct.unpack(">HQQ", binhdr[6:24])
    if version != 2:
        raise SystemExit("not LUKS2")
    alg = binhdr[OFF_CSUM_ALG:OFF_CSUM_ALG + 32].rstrip(b"\0")
    if alg != b"sha256":
        raise SystemExit(f"checksum algorithm {alg!r} not supported by this tool")
    area = f.read(hdr_size - BIN_HDR)
    return bytearray(binhdr), hdr_size, seqid, area


def checksum(binhdr, area):
    h = bytearray(binhdr)
    h[OFF_CSUM:OFF_CSUM + CSUM_LEN] = bytes(CSUM_LEN)
    return hashlib.sha256(bytes(h) + area).digest()


def load_json(path):
    with open(path, "rb") as f:
        _, _, _, area = read_header(f, 0)
    return json.loads(area.split(b"\0", 1)[0])


def write_json(path, metadata):
    text = json.dumps(metadata, separators=(",", ":")).encode()
    with open(path, "r+b") as f:
        binhdr, hdr_size, seqid, _ = read_header(f, 0)
        if len(text) >= hdr_size - BIN_HDR:
            raise SystemExit("JSON does not fit in the JSON area")
        area = text + bytes(hdr_size - BIN_HDR - len(text))
        for offset in (0, hdr_size):
            b, size, _, _ = read_header(f, offset)
            if size != hdr_size:
                raise SystemExit("primary and secondary header sizes differ")
            # Higher sequence id than before, same in both copies.
            b[OFF_SEQID:OFF_SEQID + 8] = struct.pack(">Q", seqid + 1)
            b[OFF_CSUM:OFF_CSUM + CSUM_LEN] = bytes(CSUM_LEN)
            b[OFF_CSUM:OFF_CSUM + 32] = checksum(b, area)
            f.seek(offset)
            f.write(bytes(b) + area)


def our_token(md):
    for tid, tok in md["tokens"].items():
        if tok.get("type") == "tdx-unlock":
            return tid, tok
    raise SystemExit("no tdx-unlock token to mutate")


def our_keyslot(md):
    _, tok = our_token(md)
    return md["keyslots"][tok["keyslots"][0]]


def m_cipher_null_segment(md):
    md["segments"]["0"]["encryption"] = "cipher_null-ecb"


def m_cipher_null_keyslot(md):
    our_keyslot(md)["area"]["encryption"] = "cipher_null-ecb"


def m_cipher_null_recovery_keyslot(md):
    md["keyslots"]["0"]["area"]["encryption"] = "cipher_null-ecb"


def m_keyslot_into_data(md):
    # Grow the keyslot area past the data offset and move our keyslot's area onto the data.
    seg_off = int(md["segments"]["0"]["offset"])
    hdr_end = 2 * (int(md["config"]["json_size"]) + 4096)
    ks = our_keyslot(md)
    md["config"]["keyslots_size"] = str(seg_off - hdr_end + 4 * 1024 * 1024)
    ks["area"]["offset"] = str(seg_off)


def m_reencrypt_requirement(md):
    md["config"]["requirements"] = {"mandatory": ["online-reencrypt-v2"]}


def m_unknown_requirement(md):
    md["config"]["requirements"] = {"mandatory": ["future-feature"]}


def m_extra_token(md):
    tid, tok = our_token(md)
    extra = dict(tok)
    extra["resource"] = "attacker/disk/root"
    md["tokens"][str(max(int(t) for t in md["tokens"]) + 1)] = extra


def m_token_server(md):
    _, tok = our_token(md)
    tok["server"] = "https://attacker.example:8080"


def m_token_pin(md):
    _, tok = our_token(md)
    tok["pin"] = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


def m_token_no_salt(md):
    _, tok = our_token(md)
    del tok["salt"]


def m_token_salt_number(md):
    _, tok = our_token(md)
    tok["salt"] = 42


def m_token_bad_keyslot(md):
    _, tok = our_token(md)
    tok["keyslots"] = ["7"]


def m_keyslot_argon2(md):
    ks = our_keyslot(md)
    ks["kdf"] = {"type": "argon2id", "time": 4, "memory": 1048576, "cpus": 4,
                 "salt": ks["kdf"]["salt"]}


def m_keyslot_huge_iterations(md):
    our_keyslot(md)["kdf"]["iterations"] = 100000000


def m_segment_integrity(md):
    md["segments"]["0"]["integrity"] = {"type": "hmac(sha256)", "journal_encryption": "none",
                                        "journal_integrity": "none"}


def m_weak_key(md):
    # aes-xts with a 128-bit volume key (64-bit AES): key size not on the allow-list.
    md["segments"]["0"]["encryption"] = "aes-ecb"


def m_unknown_flag(md):
    md["config"]["flags"] = ["allow-discards", "no-such-flag"]


def the_digest(md):
    return next(iter(md["digests"].values()))


# libcryptsetup 2.6.1's PBKDF2 digest check returns success, without computing anything, when
# the digest salt is not 32 bytes or the digest length is neither 20 nor the hash's size: any
# passphrase then "opens" the keyslot, and the volume is activated with a garbage key.
def m_digest_hash_mismatch(md):
    the_digest(md)["hash"] = "sha512"  # the stored digest keeps its 32 bytes


def m_digest_short(md):
    the_digest(md)["digest"] = "AAAA"  # 3 bytes


def m_digest_salt_short(md):
    the_digest(md)["salt"] = "AAAA"


def m_keyslot_area_short(md):
    # The AF material of a 512-bit key is 256000 bytes; libcryptsetup reads that much from the
    # area offset whatever size the area claims.
    our_keyslot(md)["area"]["size"] = "4096"


def m_token_id_out_of_range(md):
    tid, tok = our_token(md)
    md["tokens"]["1024"] = md["tokens"].pop(tid)


def m_foreign_token_control_chars(md):
    # A token of another type whose name would drive the terminal of whoever runs `list`.
    md["tokens"]["7"] = {"type": "evil\x1b[31mRED\x07", "keyslots": []}


def m_second_segment(md):
    # Split the data into two segments, both bound to the digest.
    seg = dict(md["segments"]["0"])
    seg["offset"] = str(int(seg["offset"]) + 1048576)
    md["segments"]["0"]["size"] = "1048576"
    md["segments"]["1"] = seg
    the_digest(md)["segments"] = ["0", "1"]


def m_second_digest(md):
    # A second digest, bound to nothing: activation must not be able to pick another digest.
    extra = dict(the_digest(md))
    extra["keyslots"], extra["segments"] = [], []
    md["digests"][str(max(int(d) for d in md["digests"]) + 1)] = extra


def m_keyslot_own_digest(md):
    # Our keyslot moved to a digest of its own that covers no segment.
    tid, tok = our_token(md)
    slot = tok["keyslots"][0]
    d = the_digest(md)
    extra = dict(d)
    d["keyslots"] = [k for k in d["keyslots"] if k != slot]
    extra["keyslots"], extra["segments"] = [slot], []
    md["digests"][str(max(int(x) for x in md["digests"]) + 1)] = extra


def m_area_key_size_huge(md):
    # Found by fuzzing under UBSan: the refusal message multiplied this by 8 (signed overflow).
    our_keyslot(md)["area"]["key_size"] = 2**63 - 1


MUTATIONS = {
    "cipher-null-segment": m_cipher_null_segment,
    "cipher-null-keyslot": m_cipher_null_keyslot,
    "cipher-null-recovery-keyslot": m_cipher_null_recovery_keyslot,
    "keyslot-into-data": m_keyslot_into_data,
    "reencrypt-requirement": m_reencrypt_requirement,
    "unknown-requirement": m_unknown_requirement,
    "extra-token": m_extra_token,
    "token-server": m_token_server,
    "token-pin": m_token_pin,
    "token-no-salt": m_token_no_salt,
    "token-salt-number": m_token_salt_number,
    "token-bad-keyslot": m_token_bad_keyslot,
    "keyslot-argon2": m_keyslot_argon2,
    "keyslot-huge-iterations": m_keyslot_huge_iterations,
    "segment-integrity": m_segment_integrity,
    "segment-ecb": m_weak_key,
    "unknown-flag": m_unknown_flag,
    "digest-hash-mismatch": m_digest_hash_mismatch,
    "digest-short": m_digest_short,
    "digest-salt-short": m_digest_salt_short,
    "keyslot-area-short": m_keyslot_area_short,
    "token-id-out-of-range": m_token_id_out_of_range,
    "foreign-token-control-chars": m_foreign_token_control_chars,
    "second-segment": m_second_segment,
    "second-digest": m_second_digest,
    "keyslot-own-digest": m_keyslot_own_digest,
    "area-key-size-huge": m_area_key_size_huge,
}


def main(argv):
    if len(argv) == 2 and argv[1] == "mutations":
        print("\n".join(MUTATIONS))
        return 0
    if len(argv) == 3 and argv[1] == "dump":
        print(json.dumps(load_json(argv[2]), indent=2))
        return 0
    if len(argv) == 4 and argv[1] == "write":
        with open(argv[3]) as f:
            write_json(argv[2], json.load(f))
        return 0
    if len(argv) >= 4 and argv[1] == "mutate":
        md = load_json(argv[2])
        for name in argv[3:]:
            if name not in MUTATIONS:
                raise SystemExit(f"unknown mutation {name!r}")
            MUTATIONS[name](md)
        write_json(argv[2], md)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
