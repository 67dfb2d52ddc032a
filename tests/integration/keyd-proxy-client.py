#!/usr/bin/env python3
"""POST /kbs/v0/auth over TLS from a chosen loopback source address, optionally after raw bytes
(a PROXY header) written before the TLS handshake, for the fleet test's PROXY protocol checks.
Usage: keyd-proxy-client.py PORT SOURCE_ADDR COUNT [PREFIX_HEX]
Prints one word per request: the HTTP status, or "refused" when keyd closed the connection."""
import socket
import ssl
import sys

port, source, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
prefix = bytes.fromhex(sys.argv[4]) if len(sys.argv) > 4 else b""
body = b'{"version":"0.4.0","tee":"tdx","extra-params":{}}'
request = (b"POST /kbs/v0/auth HTTP/1.1\r\nHost: keyd\r\nContent-Type: application/json\r\n"
           b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)) + body
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE  # only the status matters here; the pin is tested elsewhere
out = []
for _ in range(count):
    try:
        with socket.create_connection(("127.0.0.1", port), 5, (source, 0)) as raw:
            raw.sendall(prefix)
            with ctx.wrap_socket(raw) as s:
                s.sendall(request)
                data = b""
                while len(data) < 65536:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
        out.append(data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/1.") else "refused")
    except (OSError, ssl.SSLError):
        out.append("refused")
print(" ".join(out))
