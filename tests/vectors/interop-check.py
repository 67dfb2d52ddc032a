#!/usr/bin/env python3
"""Differential test of the protocol code against an independent implementation.

Runs the C primitives (via build/protocol-interop) and Python's `cryptography` on the same random
inputs: JWEs encrypted by C are decrypted by Python and vice versa (including Trustee's exact
header layout), REPORTDATA, the keyslot passphrase and the disk secret must agree.
Usage: interop-check.py PATH/TO/protocol-interop [ROUNDS]
"""
import base64
import hashlib
import hmac
import json
import os
import struct
import subprocess
import sys
import tempfile
import uuid as uuidlib

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap, aes_key_wrap

OTHER_INFO = struct.pack(">I", 14) + b"ECDH-ES+A256KW" + struct.pack(">III", 0, 0, 256)


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def jwk_of(key):
    n = key.public_key().public_numbers()
    return {"kty": "EC", "crv": "P-256", "alg": "ECDH-ES+A256KW",
            "x": b64u(n.x.to_bytes(32, "big")), "y": b64u(n.y.to_bytes(32, "big"))}


def py_decrypt(key, text):
    jwe = json.loads(text)
    assert set(jwe) == {"protected", "encrypted_key", "iv", "ciphertext", "tag"}, jwe.keys()
    hdr = json.loads(unb64u(jwe["protected"]))
    assert hdr["alg"] == "ECDH-ES+A256KW" and hdr["enc"] == "A256GCM", hdr
    epk = hdr["epk"]
    peer = ec.EllipticCurvePublicNumbers(int.from_bytes(unb64u(epk["x"]), "big"),
                                         int.from_bytes(unb64u(epk["y"]), "big"),
                                         ec.SECP256R1()).public_key()
    z = key.exchange(ec.ECDH(), peer)
    kek = ConcatKDFHash(hashes.SHA256(), 32, OTHER_INFO).derive(z)
    cek = aes_key_unwrap(kek, unb64u(jwe["encrypted_key"]))
    return AESGCM(cek).decrypt(unb64u(jwe["iv"]), unb64u(jwe["ciphertext"]) + unb64u(jwe["tag"]),
                               jwe["protected"].encode())


def py_encrypt(pub_key, pt):
    """As Trustee's ecdh_es_a256kw_p256() does it (serde_json, sorted epk members)."""
    eph = ec.generate_private_key(ec.SECP256R1())
    z = eph.exchange(ec.ECDH(), pub_key)
    kek = ConcatKDFHash(hashes.SHA256(), 32, OTHER_INFO).derive(z)
    cek, iv = os.urandom(32), os.urandom(12)
    n = eph.public_key().public_numbers()
    hdr = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM",
           "epk": {"crv": "P-256", "kty": "EC", "x": b64u(n.x.to_bytes(32, "big")),
                   "y": b64u(n.y.to_bytes(32, "big"))}}
    protected = b64u(json.dumps(hdr, separators=(",", ":")).encode())
    sealed = AESGCM(cek).encrypt(iv, pt, protected.encode())
    return json.dumps({"protected": protected, "encrypted_key": b64u(aes_key_wrap(kek, cek)),
                       "iv": b64u(iv), "ciphertext": b64u(sealed[:-16]),
                       "tag": b64u(sealed[-16:])}, separators=(",", ":"))


def run(tool, *args):
    return subprocess.run([tool, *args], check=True, capture_output=True, text=True).stdout.strip()


def main():
    tool = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    counts = dict.fromkeys(["C->Py JWE", "Py->C JWE", "REPORTDATA", "passphrase", "disk secret"], 0)
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(rounds):
            key = ec.generate_private_key(ec.SECP256R1())
            jwk_path, pem_path = os.path.join(tmp, "jwk"), os.path.join(tmp, "key.pem")
            pt_path, jwe_path = os.path.join(tmp, "pt"), os.path.join(tmp, "jwe")
            with open(jwk_path, "w") as f:
                json.dump(jwk_of(key), f)
            with open(pem_path, "wb") as f:
                f.write(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
            pt = os.urandom([0, 1, 32, 33, 1000][i % 5])
            with open(pt_path, "wb") as f:
                f.write(pt)

            # C encrypts, Python decrypts.
            assert py_decrypt(key, run(tool, "jwe-encrypt", jwk_path, pt_path)) == pt
            counts["C->Py JWE"] += 1

            # Python (Trustee's layout) encrypts, C decrypts.
            with open(jwe_path, "w") as f:
                f.write(py_encrypt(key.public_key(), pt))
            assert run(tool, "jwe-decrypt", pem_path, jwe_path) == pt.hex()
            counts["Py->C JWE"] += 1

            # REPORTDATA: SHA-384 of JCS (sorted keys; every value here is ASCII) + 16 zero bytes.
            nonce = base64.b64encode(os.urandom(32)).decode()
            runtime = {"tee-pubkey": jwk_of(key), "nonce": nonce, "additional-evidence": ""}
            canon = json.dumps(runtime, separators=(",", ":"), sort_keys=True).encode()
            want = (hashlib.sha384(canon).digest() + bytes(16)).hex()
            assert run(tool, "report-data", nonce, jwk_path) == want
            counts["REPORTDATA"] += 1

            # Keyslot passphrase.
            secret, salt = os.urandom(32), os.urandom(32)
            uid, slot = str(uuidlib.uuid4()), i % 32
            info = b"tdx-unlock/v1" + uid.encode() + str(slot).encode()
            want = HKDF(hashes.SHA256(), 32, salt, info).derive(secret).hex()
            assert run(tool, "passphrase", secret.hex(), salt.hex(), uid.upper(), str(slot)) == want
            counts["passphrase"] += 1

            # Disk secret.
            root = os.urandom(32)
            pid, path, ver = f"policy-{i}", f"repo{i}/disk/root{i * 7}", i * 1000003 % (1 << 32)
            msg = (b"tdx-unlock/disk/v1" + struct.pack(">I", len(pid)) + pid.encode()
                   + struct.pack(">I", len(path)) + path.encode() + struct.pack(">I", ver))
            want = hmac.new(root, msg, hashlib.sha256).hexdigest()
            assert run(tool, "disk-secret", root.hex(), pid, path, str(ver)) == want
            counts["disk secret"] += 1
    print("interop with Python cryptography: " +
          ", ".join(f"{k} {v}/{rounds}" for k, v in counts.items()))


if __name__ == "__main__":
    main()
