#!/usr/bin/env python3
"""Renders the test-vector section of docs/protocol.md from tests/vectors/protocol-vectors.json.

  render-protocol-doc.py --check   exit 1 if docs/protocol.md's section differs (make check)
  render-protocol-doc.py --write   rewrite the section in place
The section lies between the markers below, so the doc and the unit tests quote one set of numbers.
"""
import json
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
VECTORS = os.path.join(ROOT, "tests", "vectors", "protocol-vectors.json")
DOC = os.path.join(ROOT, "docs", "protocol.md")
BEGIN = "<!-- BEGIN GENERATED VECTORS (tests/vectors/render-protocol-doc.py) -->"
END = "<!-- END GENERATED VECTORS -->"


def block(text, lang=""):
    return "```" + lang + "\n" + text + "\n```\n\n"


def render(v):
    out = []

    def p(text):
        # Prose lines become paragraphs; code blocks and table rows are kept as they are.
        if not text.startswith(("```", "|")) and text.endswith("\n") and not text.endswith("\n\n"):
            text += "\n"
        out.append(text)

    p("All values are hex unless noted; JSON texts are exact bytes (no trailing newline).\n")

    p("### JCS (RFC 8785)\n")
    for i, c in enumerate(v["jcs"], 1):
        p(f"Input {i}:\n")
        p(block(c["input"], "json"))
        p(f"Canonical form {i} (UTF-8; U+007F and U+0080 appear as raw, invisible characters):\n"
          if i > 1 else f"Canonical form {i}:\n")
        p(block(c["canonical"], "json"))

    rd = v["report_data"]
    p("### REPORTDATA\n")
    p("TEE key (P-256) private scalar: `" + rd["tee_private_hex"] + "`\n")
    p("nonce: `" + rd["nonce"] + "` (standard base64 of the bytes 00 01 .. 1f)\n")
    p("tee-pubkey JWK:\n")
    p(block(json.dumps(rd["tee_pubkey"], separators=(",", ":")), "json"))
    p("JCS of `{\"additional-evidence\":\"\",\"nonce\":...,\"tee-pubkey\":...}`:\n")
    p(block(rd["canonical"], "json"))
    p("REPORTDATA = SHA-384(that) ‖ 16 zero bytes:\n")
    p(block(rd["report_data_hex"][:96] + "\n" + rd["report_data_hex"][96:]))

    j = v["jwe"]
    p("### JWE (ECDH-ES+A256KW, A256GCM) to the TEE key above\n")
    p("| item | value |\n|---|---|\n")
    for k, label in [("ephemeral_private_hex", "ephemeral private scalar"),
                     ("ephemeral_x_hex", "ephemeral public x"),
                     ("ephemeral_y_hex", "ephemeral public y"),
                     ("shared_secret_hex", "Z = ECDH x coordinate"),
                     ("kek_hex", "KEK = Concat KDF(Z)"),
                     ("cek_hex", "CEK"),
                     ("iv_hex", "IV"),
                     ("plaintext_hex", "plaintext (the disk secret)")]:
        p(f"| {label} | `{j[k]}` |\n")
    p("\n")
    p("Protected header (before base64url):\n")
    p(block(j["protected_header"], "json"))
    p("The JWE, exactly as `jwe_encrypt_fixed_for_test()` emits it:\n")
    p(block(j["jwe"], "json"))

    pw = v["passphrase"]
    p("### Keyslot passphrase (HKDF-SHA256)\n")
    p("| item | value |\n|---|---|\n")
    p(f"| secret (IKM) | `{pw['secret_hex']}` |\n")
    p(f"| salt | `{pw['salt_hex']}` |\n")
    p(f"| UUID, keyslot | `{pw['uuid']}`, {pw['keyslot']} |\n")
    p(f"| info (ASCII) | `{pw['info']}` |\n")
    p(f"| passphrase (32 raw bytes) | `{pw['passphrase_hex']}` |\n")

    d = v["disk_secret"]
    p("\n")
    p("### Disk secret (HMAC-SHA256)\n")
    p("| item | value |\n|---|---|\n")
    p(f"| root key | `{d['root_key_hex']}` |\n")
    p(f"| policy id, resource path, key version | `{d['policy_id']}`, `{d['resource_path']}`, {d['key_version']} |\n")
    p(f"| HMAC message | `{d['message_hex']}` |\n")
    p(f"| disk secret | `{d['secret_hex']}` |\n")
    return "".join(out)


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "--check"
    with open(VECTORS) as f:
        section = render(json.load(f))
    with open(DOC) as f:
        doc = f.read()
    try:
        head, rest = doc.split(BEGIN + "\n", 1)
        _, tail = rest.split(END, 1)
    except ValueError:
        sys.exit("docs/protocol.md: generated-vector markers not found")
    new = head + BEGIN + "\n" + section + END + tail
    if mode == "--write":
        if new != doc:
            with open(DOC, "w") as f:
                f.write(new)
        return
    if new != doc:
        sys.exit("docs/protocol.md: test vectors differ from tests/vectors/protocol-vectors.json; "
                 "run tests/vectors/render-protocol-doc.py --write")
    print("docs/protocol.md vectors match tests/vectors/protocol-vectors.json")


if __name__ == "__main__":
    main()
