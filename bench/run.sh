#!/usr/bin/env bash
# run.sh - `make bench`: webhook throughput/latency against the real stack, with a bare libmicrohttpd
# 204 server as the ceiling, ingress RSS, and webhook-to-CRM latency. Writes bench/REPORT-<date>.txt.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export WA_STATE=${WA_STATE:-$root/.local/bench}
DURATION=${DURATION:-20s}
CONNS=${CONNS:-64}
N=${N:-50000}
"$root/scripts/up.sh" >/dev/null
source "$root/scripts/env.sh"
work=$root/build/bench
mkdir -p "$work"
cc -O2 -Wall -Wextra -Werror -o "$work/mhd_204" "$root/bench/mhd_204.c" -lmicrohttpd
node "$root/bench/gen_requests.mjs" "$N" >"$work/requests.lua"
export WA_BENCH_REQUESTS=$work/requests.lua
report=$root/bench/REPORT-$(date -u +%Y%m%d).txt
ingress_pid=$(cat "$WA_RUN_DIR/ingress.pid")
rss() { awk '/^VmRSS/ {print $2 " kB"}' "/proc/$1/status"; }
hwm() { awk '/^VmHWM/ {print $2 " kB"}' "/proc/$1/status"; }

"$work/mhd_204" 8089 &
ceiling=$!
trap 'kill $ceiling 2>/dev/null || true; "$root/scripts/services.sh" stop >/dev/null; "$root/infra/stack.sh" down >/dev/null' EXIT
sleep 0.3
start_ms=$(date +%s%3N)
{
    echo "wa-broker webhook benchmark, $(date -u +%FT%TZ), $(nproc) cores, $(uname -r)"
    echo "command: make bench  (DURATION=$DURATION CONNS=$CONNS N=$N; wrk -t2 -c$CONNS -d$DURATION)"
    echo "everything (wrk, ingress, router, Kafka, Postgres) shares this machine's cores"
    echo
    echo "== ceiling: bare libmicrohttpd 204 server, same bodies"
    wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s "$root/bench/wrk_twilio.lua" http://127.0.0.1:8089/api/whatsapp/twilio | grep -E "Requests/sec|requests=|latency_us|Non-2xx"
    echo
    echo "== ingress: signed Twilio webhooks, each 204 backed by a Kafka ack (acks=all)"
    echo "ingress RSS before: $(rss "$ingress_pid")"
    wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s "$root/bench/wrk_twilio.lua" "$INGRESS_URL/api/whatsapp/twilio" | grep -E "Requests/sec|requests=|latency_us|Non-2xx"
    echo "ingress RSS after: $(rss "$ingress_pid"), peak $(hwm "$ingress_pid")"
    echo
    echo "== webhook accepted -> CRM row (router), for messages of this run"
    # Let the router drain what was accepted.
    for _ in $(seq 120); do
        lag=$(psql "$DATABASE_URL" -X -tA -c "select count(*) from messages where created_at > now() - interval '2 seconds'")
        [ "$lag" = 0 ] && break
        sleep 1
    done
    psql "$DATABASE_URL" -X -tA -F ' ' -c "
      with d as (select extract(epoch from created_at) * 1000 - (payload->>'received_ms')::bigint as ms
                   from messages where (payload->>'received_ms')::bigint >= $start_ms and body like 'bench message %')
      select 'rows=' || count(*), 'p50_ms=' || round(percentile_cont(0.5) within group (order by ms)::numeric, 1),
             'p99_ms=' || round(percentile_cont(0.99) within group (order by ms)::numeric, 1),
             'max_ms=' || round(max(ms)::numeric, 1) from d"
    echo "ingress counters:"
    curl -s "$INGRESS_URL/metrics" | grep -E '^wa_ingress_webhooks_total'
} | tee "$report"
echo "report: $report"
