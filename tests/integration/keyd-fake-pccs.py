#!/usr/bin/env python3
"""A loopback stand-in for a PCCS (Intel PCS API v4) serving quotegen's test collateral, for
keyd's collateral refresh test. Usage: keyd-fake-pccs.py DIR PORTFILE LOGFILE"""
import binascii
import http.server
import sys
import urllib.parse

DIR, PORTFILE, LOGFILE = sys.argv[1:4]


def read(name):
    with open(f"{DIR}/{name}", "rb") as f:
        return f.read()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        with open(LOGFILE, "a") as log:
            log.write(self.path + "\n")
        routes = {
            "/tdx/certification/v4/tcb": ("tcb_info.json", "TCB-Info-Issuer-Chain",
                                          "tcb_signing_chain.pem"),
            "/tdx/certification/v4/qe/identity": ("qe_identity.json",
                                                  "SGX-Enclave-Identity-Issuer-Chain",
                                                  "tcb_signing_chain.pem"),
            "/sgx/certification/v4/pckcrl": ("pck_crl.der", "SGX-PCK-CRL-Issuer-Chain",
                                             "pck_crl_chain.pem"),
            "processor": ("pck_processor_crl.der", "SGX-PCK-CRL-Issuer-Chain",
                          "pck_processor_crl_chain.pem"),
            "/sgx/certification/v4/rootcacrl": ("root_crl.der", None, None),
        }
        if url.path not in routes:
            self.send_error(404)
            return
        if url.path.endswith("/tcb") and q.get("fmspc") != ["00906ed50000"]:
            self.send_error(404)
            return
        if url.path.endswith("/pckcrl") and q.get("ca") not in (["platform"], ["processor"]):
            self.send_error(400)
            return
        route = "processor" if q.get("ca") == ["processor"] else url.path
        body_file, header, chain_file = routes[route]
        body = read(body_file)
        if url.path.endswith("rootcacrl"):
            body = binascii.hexlify(body)  # PCCS answers with the hex text
        self.send_response(200)
        if header:
            self.send_header(header, urllib.parse.quote(read(chain_file).decode()))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(server.server_port))
import os  # noqa: E402
os.rename(PORTFILE + ".tmp", PORTFILE)
server.serve_forever()
