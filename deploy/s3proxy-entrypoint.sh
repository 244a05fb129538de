#!/bin/sh
# Starts S3Proxy on 0.0.0.0:$S3PROXY_PORT with real SigV4 checking and the files under /data,
# then creates $S3_BUCKET once it answers (idempotent).
set -eu
: "${S3_ACCESS_KEY:?S3_ACCESS_KEY is required}"
: "${S3_SECRET_KEY:?S3_SECRET_KEY is required}"
port=${S3PROXY_PORT:-9000}
bucket=${S3_BUCKET:-wa-media}
conf=/tmp/s3proxy.conf
cat > "$conf" <<CONF
s3proxy.endpoint=http://0.0.0.0:$port
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=$S3_ACCESS_KEY
s3proxy.credential=$S3_SECRET_KEY
jclouds.provider=filesystem
jclouds.filesystem.basedir=/data
CONF
# shellcheck disable=SC2086 # the options are a word list
java ${S3PROXY_HEAP_OPTS:--Xmx256m} -Djava.awt.headless=true \
    -Dlogback.configurationFile=/opt/s3proxy/logback.xml \
    -cp '/opt/s3proxy/libs/*' org.gaul.s3proxy.Main --properties "$conf" &
pid=$!
# docker stop: S3Proxy gets the signal and this shell waits for it to finish.
trap 'kill -TERM "$pid" 2>/dev/null; wait "$pid"; exit 0' TERM INT
n=0
until s3proxy-ready; do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" || true; echo "s3proxy: exited during startup" >&2; exit 1; }
    n=$((n + 1)); [ "$n" -lt 240 ] || { echo "s3proxy: not ready after 120 s" >&2; exit 1; }
    sleep 0.5
done
if ! s3proxy-ready "$bucket"; then
    code=$(curl -sS -o /dev/null -w '%{http_code}' -X PUT \
        --aws-sigv4 "aws:amz:${S3_REGION:-us-east-1}:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
        -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "http://127.0.0.1:$port/$bucket")
    case $code in 200|409) echo "s3proxy: bucket $bucket created" ;;
        *) echo "s3proxy: creating bucket $bucket failed (HTTP $code)" >&2; kill -TERM "$pid"; exit 1 ;; esac
fi
# The healthcheck asks for the bucket, so the service is healthy only once it exists.
wait "$pid"
