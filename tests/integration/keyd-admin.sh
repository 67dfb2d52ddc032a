#!/bin/sh
# keyd's admin endpoint (enrollment without the root key on the builder), on loopback: mutual
# TLS with a client-certificate allow-list (an SPKI pin; a CA + subject), the secret sealed to
# the caller's key equals derive-secret's; another certificate, a certificate of the right CA
# with another subject, and no certificate are refused; every call leaves an audit line naming
# the certificate. tdx-keyd fetch-secret writes to pipes only.
# Usage: BUILD=build tests/integration/keyd-admin.sh
set -u
BUILD=${BUILD:-build}
. "$(dirname "$0")/keyd-env.sh"
keyd_scratch keyd-admin

keyd_env_setup || { echo "FAIL: setup"; exit 1; }
newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
spki() { openssl pkey -in "$1" -pubout -outform DER 2>/dev/null | sha256sum | cut -d' ' -f1; }
# A pinned self-signed builder certificate, an unknown one, and a small CA with two clients.
for n in builder stranger ca good other; do newkey "$T/$n.key"; done
openssl req -x509 -new -key "$T/builder.key" -subj "/CN=builder-1" -days 2 -out "$T/builder.crt"
openssl req -x509 -new -key "$T/stranger.key" -subj "/CN=builder-1" -days 2 -out "$T/stranger.crt"
openssl req -x509 -new -key "$T/ca.key" -subj "/CN=enroll-ca" -days 2 -out "$T/ca.crt" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign"
for n in good other; do
	openssl req -new -key "$T/$n.key" -subj "/O=Example/CN=$n-builder" -out "$T/$n.csr"
	openssl x509 -req -in "$T/$n.csr" -CA "$T/ca.crt" -CAkey "$T/ca.key" -CAcreateserial \
		-days 2 -out "$T/$n.crt" 2>/dev/null
done
PIN=$(spki "$T/builder.key")
sed "s|\"audit_file\"|\"admin\": { \"listen\": { \"address\": \"127.0.0.1\", \"port\": 0 }, \
\"client_spki_sha256\": [ \"$PIN\" ], \"client_ca\": \"ca.crt\", \
\"client_subjects\": [ \"CN=good-builder,O=Example\" ] }, \"audit_file\"|" "$T/keyd.json" \
	>"$T/keyd-admin.json"
"$KEYD" check-config --config "$T/keyd-admin.json" >/dev/null || bad "check-config: admin section"
KEYD_CONFIG="$T/keyd-admin.json" keyd_start || exit 1
APORT=$(sed -n 's/.*admin endpoint listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$T/keyd.stderr")
[ -n "$APORT" ] || { bad "no admin endpoint announced"; exit 1; }
AURL="https://127.0.0.1:$APORT"

fetch() { # cert key -> secret on stdout (through a pipe)
	"$KEYD" fetch-secret --url "$AURL" --ca "$T/tls.crt" --client-cert "$1" --client-key "$2" \
		--resource "$RESOURCE" 2>>"$T/fetch.err" | cat
}
audit_has() { tail -n 1 "$T/audit.log" | grep -q "$1"; }

echo "== keyd-admin: a pinned builder certificate gets the secret derive-secret computes"
fetch "$T/builder.crt" "$T/builder.key" >"$T/got.secret"
cmp -s "$T/got.secret" "$T/expected.secret" || bad "pinned client: not the disk secret"
audit_has '"event":"admin-secret".*"client":"subject=CN=builder-1; spki-sha256='"$PIN"'".*"verdict":"allow"' ||
	bad "no allow audit line naming the pinned certificate"

echo "== keyd-admin: a CA-issued certificate with an allowed subject gets it too"
fetch "$T/good.crt" "$T/good.key" >"$T/got2.secret"
cmp -s "$T/got2.secret" "$T/expected.secret" || bad "CA client: not the disk secret"
audit_has '"client":"subject=CN=good-builder,O=Example; spki-sha256=.*"verdict":"allow"' ||
	bad "no allow audit line naming the CA-issued certificate"

echo "== keyd-admin: refusals, each audited with the certificate"
: >"$T/fetch.err"
fetch "$T/stranger.crt" "$T/stranger.key" >"$T/none.secret"
[ -s "$T/none.secret" ] && bad "a certificate off the allow-list got a secret"
grep -q "HTTP 403" "$T/fetch.err" || bad "unknown certificate: not 403"
audit_has '"client":"subject=CN=builder-1; spki-sha256='"$(spki "$T/stranger.key")"'".*"verdict":"deny","reason":"client certificate is not on the admin allow-list (key not pinned' ||
	bad "no deny audit line naming the unknown certificate"
fetch "$T/other.crt" "$T/other.key" >"$T/none.secret"
[ -s "$T/none.secret" ] && bad "a CA certificate with another subject got a secret"
audit_has '"client":"subject=CN=other-builder,O=Example.*"verdict":"deny","reason":"client certificate is not on the admin allow-list (subject not' ||
	bad "no deny audit line for the CA certificate with another subject"
# No certificate at all: curl straight at the endpoint.
code=$(curl -s -o "$T/body" -w '%{http_code}' --cacert "$T/tls.crt" -X POST \
	-d '{"resource":"default/disk/root","jwk":{}}' "$AURL/admin/v0/secret")
[ "$code" = 403 ] || bad "no client certificate: HTTP $code, not 403"
audit_has '"client":"(no client certificate)".*"verdict":"deny","reason":"no client certificate"' ||
	bad "no deny audit line for a client without a certificate"
# The KBS port is not an admin port, and the admin port serves nothing else.
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/tls.crt" --cert "$T/builder.crt" \
	--key "$T/builder.key" -X POST -d '{}' "$URL/admin/v0/secret")
[ "$code" = 404 ] || bad "the KBS listener answers the admin path (HTTP $code)"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/tls.crt" --cert "$T/builder.crt" \
	--key "$T/builder.key" "$AURL/kbs/v0/auth")
[ "$code" = 404 ] || bad "the admin listener answers a KBS path (HTTP $code)"
# A malformed request from an allowed client is refused and audited too.
code=$(curl -s -o "$T/body" -w '%{http_code}' --cacert "$T/tls.crt" --cert "$T/builder.crt" \
	--key "$T/builder.key" -X POST -d '{"resource":"default/disk/root","jwk":{"kty":"RSA"}}' \
	"$AURL/admin/v0/secret")
[ "$code" = 400 ] || bad "malformed JWK: HTTP $code, not 400"
audit_has '"verdict":"deny"' || bad "no audit line for a malformed admin request"

echo "== keyd-admin: fetch-secret writes to pipes only"
if "$KEYD" fetch-secret --url "$AURL" --ca "$T/tls.crt" --client-cert "$T/builder.crt" \
	--client-key "$T/builder.key" --resource "$RESOURCE" >"$T/file.secret" 2>/dev/null; then
	bad "fetch-secret wrote a secret into a file"
fi
[ -s "$T/file.secret" ] && bad "fetch-secret left bytes in a file"
"$KEYD" audit-verify --config "$T/keyd-admin.json" >/dev/null || bad "audit chain broken"

[ $fail = 0 ] && echo "keyd-admin: all passed"
exit $fail
