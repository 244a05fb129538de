#!/bin/sh
# Exit 0 when S3Proxy answers a signed ListBuckets with 200: it is up and the keys work.
# curl 7.88 (bookworm) does not add x-amz-content-sha256 itself; S3Proxy needs it for SigV4.
code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 \
    --aws-sigv4 "aws:amz:${S3_REGION:-us-east-1}:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "http://127.0.0.1:${S3PROXY_PORT:-9000}/${1:-}" 2>/dev/null)
[ "$code" = 200 ]
