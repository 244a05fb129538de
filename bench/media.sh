#!/usr/bin/env bash
# media.sh - `make bench-media`: media-worker's memory while it streams a large file into s3proxy,
# and its throughput next to a plain curl upload of the same file to the same s3proxy.
# Writes bench/REPORT-media-<date>.txt.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
SIZE=${SIZE:-104857600} # 100 MiB
bench_up
work=$root/build/bench
mkdir -p "$work"
report=$(bench_report media)
sim() { curl -sf -H 'Content-Type: application/json' "http://$TWILIO_SIM_LISTEN$1" -d "$2"; }
pid=$(cat "$WA_RUN_DIR/media-worker.pid")
kb() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
plain_curl() { # $1: which run
    echo "== plain curl ($1), same file, same s3proxy: download (auth, -L) then PUT with the SHA-256 header"
    t1=$(date +%s.%N)
    curl -sf -L -u "$TWILIO_ACCOUNT_SID:$TWILIO_AUTH_TOKEN" -o "$work/media.bin" \
        "$(node -e 'console.log(JSON.parse(process.argv[1]).url)' "$item")"
    t2=$(date +%s.%N)
    csha=$(sha256sum "$work/media.bin" | cut -d' ' -f1)
    t3=$(date +%s.%N)
    curl -sf --aws-sigv4 "aws:amz:$S3_REGION:s3" -u "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
        -H "x-amz-content-sha256: $csha" -H 'Content-Type: image/jpeg' -T "$work/media.bin" \
        "$S3_ENDPOINT/$S3_BUCKET/bench/curl-$(date +%s).jpg" -o /dev/null
    t4=$(date +%s.%N)
    printf 'curl download %.2f s (%.1f MB/s); sha256sum %.2f s; curl PUT %.2f s (%.1f MB/s); total %.2f s (%.1f MB/s)\n' \
        "$(echo "$t2 - $t1" | bc -l)" "$(echo "$SIZE / ($t2 - $t1) / 1000000" | bc -l)" \
        "$(echo "$t3 - $t2" | bc -l)" \
        "$(echo "$t4 - $t3" | bc -l)" "$(echo "$SIZE / ($t4 - $t3) / 1000000" | bc -l)" \
        "$(echo "$t4 - $t1" | bc -l)" "$(echo "$SIZE / ($t4 - $t1) / 1000000" | bc -l)"
    rm -f "$work/media.bin"
}
{
    bench_header "media benchmark" "make bench-media  (SIZE=$SIZE bytes)"
    echo "the simulator (Twilio API + CDN), media-worker, s3proxy (JVM) and Postgres share this machine"
    echo
    item=$(sim /sim/media "{\"kind\":\"jpeg\",\"size\":$SIZE,\"contentType\":\"image/jpeg\"}")
    sid=$(node -e 'console.log(JSON.parse(process.argv[1]).sid)' "$item")
    sha=$(node -e 'console.log(JSON.parse(process.argv[1]).sha256)' "$item")
    # s3proxy is a JVM: whoever uploads first pays its warm-up, so curl runs before and after.
    plain_curl "before"
    echo
    phone="+1555$(shuf -i 1000000-9999999 -n1)"
    rss0=$(kb "$pid" VmRSS)
    hwm0=$(kb "$pid" VmHWM)
    t0=$(date +%s.%N)
    sim /sim/inbound "{\"from\":\"$phone\",\"body\":\"big\",\"media\":[{\"sid\":\"$sid\"}]}" >/dev/null
    peak=$rss0
    for _ in $(seq 6000); do
        r=$(kb "$pid" VmRSS)
        [ "$r" -gt "$peak" ] && peak=$r
        done_at=$(psql "$DATABASE_URL" -X -tA -c "select extract(epoch from d.stored_at) from media d
            join messages m on m.id = d.message_id join contacts c on c.id = m.contact_id
            where c.phone = '$phone' and d.stored_at is not null")
        [ -n "$done_at" ] && break
        sleep 0.05
    done
    stored_sha=$(psql "$DATABASE_URL" -X -tA -c "select sha256 from media d join messages m on m.id = d.message_id
        join contacts c on c.id = m.contact_id where c.phone = '$phone'")
    hwm1=$(kb "$pid" VmHWM)
    secs=$(echo "$done_at - $t0" | bc -l)
    echo "== media-worker: webhook -> fetched from the simulator (basic auth, 307 to its CDN) -> spooled -> PUT to s3proxy -> row"
    echo "file: $SIZE bytes; sha256 source=$sha stored=$stored_sha $([ "$sha" = "$stored_sha" ] && echo match || echo MISMATCH)"
    echo "RSS idle before: $rss0 kB; sampled peak while streaming (every 50 ms): $peak kB; VmHWM before/after: $hwm0/$hwm1 kB"
    printf 'time webhook -> row stored: %.2f s; throughput %.1f MB/s (end to end: download + upload)\n' "$secs" "$(echo "$SIZE / $secs / 1000000" | bc -l)"
    grep "media .* stored" "$WA_LOG_DIR/media-worker.log" | tail -1
    echo
    plain_curl "after"
} 2>&1 | tee "$report"
echo "report: $report"
