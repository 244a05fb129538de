#!/usr/bin/env bash
# tls.sh - a local CA and a server certificate for 127.0.0.1 and localhost, for the tests and a
# local HTTPS ingress or dashboard. Never for production: use your real certificate there.
#   scripts/tls.sh [DIR]   makes them in DIR (default $WA_STATE/tls, i.e. .local/tls) once, and
#                          reuses them while they verify and are valid for another day.
# Files: ca.pem (trust this: BRIDGE_INGRESS_CA_FILE, curl --cacert, NODE_EXTRA_CA_CERTS), ca.key,
# server.pem + server.key (INGRESS_TLS_CERT / INGRESS_TLS_KEY, DASHBOARD_TLS_CERT / _KEY).
# Prints DIR.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-${WA_STATE:-$root/.local}/tls}
command -v openssl >/dev/null || { echo "tls.sh: openssl is missing (make install, or apt-get install openssl)" >&2; exit 1; }
mkdir -p "$dir"
chmod 700 "$dir"
ca=$dir/ca.pem cakey=$dir/ca.key crt=$dir/server.pem key=$dir/server.key

# Reused while the server certificate is still the CA's and valid for at least one more day.
if [ -s "$ca" ] && [ -s "$cakey" ] && [ -s "$crt" ] && [ -s "$key" ] &&
    openssl verify -CAfile "$ca" "$crt" >/dev/null 2>&1 &&
    openssl x509 -in "$crt" -noout -checkend 86400 >/dev/null 2>&1; then
    echo "$dir"
    exit 0
fi

tmp=$(mktemp -d "$dir/.new.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
umask 077
# The CA: EC P-256, ten years, may only sign server certificates for this machine.
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 3650 \
    -subj "/CN=wa-broker local CA $(hostname -s 2>/dev/null || echo host)" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$tmp/ca.key" -out "$tmp/ca.pem" 2>/dev/null
# The server: 127.0.0.1, ::1 and localhost in subjectAltName (clients ignore the CN).
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
    -subj "/CN=localhost" -keyout "$tmp/server.key" -out "$tmp/server.csr" 2>/dev/null
cat >"$tmp/ext.cnf" <<'EXT'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost
EXT
openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial \
    -days 825 -sha256 -extfile "$tmp/ext.cnf" -out "$tmp/server.pem" 2>/dev/null
openssl verify -CAfile "$tmp/ca.pem" "$tmp/server.pem" >/dev/null
# Keys stay readable by their owner only (umask). A set torn by a crash does not verify: made anew.
chmod 644 "$tmp/ca.pem" "$tmp/server.pem"
mv -f "$tmp/ca.key" "$cakey"
mv -f "$tmp/ca.pem" "$ca"
mv -f "$tmp/server.pem" "$crt"
mv -f "$tmp/server.key" "$key"
echo "$dir"
