#!/bin/sh
# proxy-entrypoint - writes /etc/nginx/nginx.conf from deploy/proxy.conf.template and the
# environment, checks it, then runs nginx in the foreground. `nginx -s reload` in the container
# reads a renewed certificate.
# Environment: PROXY_PORT (443); INGRESS_ADDR, DASHBOARD_ADDR, S3_ADDR (host:port of each);
# S3_BUCKET (wa-media); PROXY_TLS_CERT, PROXY_TLS_KEY (fullchain.pem, privkey.pem: file names
# under /etc/wa-proxy/tls, where the certificate's directory is mounted).
set -eu
fail() { echo "proxy: $*" >&2; exit 78; }
: "${INGRESS_ADDR:?INGRESS_ADDR is required (host:port)}"
: "${DASHBOARD_ADDR:?DASHBOARD_ADDR is required (host:port)}"
: "${S3_ADDR:?S3_ADDR is required (host:port)}"
export PROXY_PORT=${PROXY_PORT:-443} S3_BUCKET=${S3_BUCKET:-wa-media}
export WA_TLS_CERT=/etc/wa-proxy/tls/${PROXY_TLS_CERT:-fullchain.pem}
export WA_TLS_KEY=/etc/wa-proxy/tls/${PROXY_TLS_KEY:-privkey.pem}
[ -r "$WA_TLS_CERT" ] || fail "no certificate at $WA_TLS_CERT: mount its directory at /etc/wa-proxy/tls (PROXY_TLS_DIR) and name it (PROXY_TLS_CERT)"
[ -r "$WA_TLS_KEY" ] || fail "no key at $WA_TLS_KEY: mount its directory at /etc/wa-proxy/tls (PROXY_TLS_DIR) and name it (PROXY_TLS_KEY)"

# On a compose network Docker's DNS answers for the service names: nginx asks it again every 10 s,
# so a recreated container is found at its new address. Without it (the host network) the names
# are in /etc/hosts, which nginx's resolver does not read: they are resolved once, here.
if grep -q '^nameserver 127\.0\.0\.11$' /etc/resolv.conf; then
    export WA_RESOLVER='resolver 127.0.0.11 valid=10s ipv6=off;'
else
    export WA_RESOLVER=''
    resolve() {
        ip=$(getent ahostsv4 "${1%:*}" | awk 'NR == 1 { print $1 }')
        [ -n "$ip" ] || fail "cannot resolve ${1%:*}"
        echo "$ip:${1##*:}"
    }
    INGRESS_ADDR=$(resolve "$INGRESS_ADDR")
    DASHBOARD_ADDR=$(resolve "$DASHBOARD_ADDR")
    S3_ADDR=$(resolve "$S3_ADDR")
fi
export INGRESS_ADDR DASHBOARD_ADDR S3_ADDR
# Only these: nginx's own $variables stay as they are.
envsubst '${PROXY_PORT} ${WA_RESOLVER} ${INGRESS_ADDR} ${DASHBOARD_ADDR} ${S3_ADDR} ${S3_BUCKET} ${WA_TLS_CERT} ${WA_TLS_KEY}' \
    < /etc/wa-proxy/nginx.conf.template > /etc/nginx/nginx.conf
nginx -t -q || fail "nginx refused the configuration above"
echo "proxy: https on :$PROXY_PORT -> ingress $INGRESS_ADDR, dashboard $DASHBOARD_ADDR, media $S3_ADDR/$S3_BUCKET"
exec nginx -g 'daemon off;'
