#!/usr/bin/env bash
# run.sh - `make bench`: webhook throughput/latency against the real stack, with a bare libmicrohttpd
# 204 server as the ceiling, ingress RSS, and webhook-to-CRM latency. Writes bench/REPORT-<date>.txt.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
DURATION=${DURATION:-20s}
CONNS=${CONNS:-64}
STEADY_CONNS=${STEADY_CONNS:-4} # the steady phase: wrk's connections, one request each at a time
N=${N:-400000}
bench_up
work=$root/build/bench
mkdir -p "$work"
cc -O2 -Wall -Wextra -Werror -o "$work/mhd_204" "$root/bench/mhd_204.c" -lmicrohttpd
# A separate set of never-sent messages per phase, so every phase stores new rows.
for phase in warm:50000 full:$N steady:60000; do
    node "$root/bench/gen_requests.mjs" "${phase#*:}" >"$work/${phase%%:*}.tsv"
done
report=$(bench_report "") # REPORT-<date>.txt: the first benchmark's name, kept
ingress_pid=$(cat "$WA_RUN_DIR/ingress.pid")
rss() { awk '/^VmRSS/ {print $2 " kB"}' "/proc/$1/status"; }
hwm() { awk '/^VmHWM/ {print $2 " kB"}' "/proc/$1/status"; }

"$work/mhd_204" 8089 &
ceiling=$!
trap 'kill $ceiling 2>/dev/null || true; bench_down' EXIT
sleep 0.3
wrk_run() { # url conns duration requests-file
    WA_BENCH_REQUESTS=$work/$4.tsv wrk -t2 -c"$2" -d"$3" --latency -s "$root/bench/wrk_twilio.lua" "$1" | grep -E "Requests/sec|requests=|latency_us|Non-2xx"
}
# Wait until the router has stored everything accepted so far (the count stops moving).
drain() {
    local last=-1 now
    for _ in $(seq 300); do
        now=$(psql "$DATABASE_URL" -X -tA -c "select count(*) from messages")
        [ "$now" = "$last" ] && return
        last=$now
        sleep 2
    done
}
crm_latency() { # from_ms to_ms
    psql "$DATABASE_URL" -X -tA -F ' ' -c "
      with d as (select extract(epoch from created_at) * 1000 - (payload->>'received_ms')::bigint as ms
                   from messages where (payload->>'received_ms')::bigint between $1 and $2)
      select 'rows=' || count(*), 'p50_ms=' || round(percentile_cont(0.5) within group (order by ms)::numeric, 1),
             'p99_ms=' || round(percentile_cont(0.99) within group (order by ms)::numeric, 1),
             'max_ms=' || round(max(ms)::numeric, 1) from d"
}
{
    bench_header "webhook benchmark" "make bench  (DURATION=$DURATION CONNS=$CONNS STEADY_CONNS=$STEADY_CONNS N=$N; wrk -t2)"
    [ -z "${WA_BIN_DIR:-}" ] || echo "services from WA_BIN_DIR=$WA_BIN_DIR"
    echo "everything (wrk, ingress, router, Kafka, Postgres with fsync on) shares this machine's cores"
    echo "warm-up: 10 s of webhooks through ingress first (JIT of the Kafka broker), not reported"
    wrk_run "$INGRESS_URL/api/whatsapp/twilio" "$CONNS" 10s warm >/dev/null
    drain
    echo
    echo "== ceiling: bare libmicrohttpd 204 server, same bodies, -c$CONNS"
    wrk_run http://127.0.0.1:8089/api/whatsapp/twilio "$CONNS" "$DURATION" full
    echo
    echo "== ingress at full load: signed Twilio webhooks, each 204 backed by a Kafka ack (acks=all), -c$CONNS"
    echo "ingress RSS before: $(rss "$ingress_pid")"
    a=$(date +%s%3N)
    wrk_run "$INGRESS_URL/api/whatsapp/twilio" "$CONNS" "$DURATION" full
    b=$(date +%s%3N)
    echo "ingress RSS after: $(rss "$ingress_pid"), peak $(hwm "$ingress_pid")"
    drain
    echo "webhook accepted -> CRM row, messages of this phase (router backlog included):"
    crm_latency "$a" "$b"
    echo
    echo "== steady light load: -c$STEADY_CONNS, the latency a message sees when the system keeps up"
    a=$(date +%s%3N)
    wrk_run "$INGRESS_URL/api/whatsapp/twilio" "$STEADY_CONNS" "$DURATION" steady
    b=$(date +%s%3N)
    drain
    echo "webhook accepted -> CRM row:"
    crm_latency "$a" "$b"
    echo
    echo "ingress counters:"
    curl -s "$INGRESS_URL/metrics" | grep -E '^wa_ingress_webhooks_total'
    echo "router counters:"
    curl -s "http://$ROUTER_LISTEN/metrics" | grep -E '^wa_router_inbound_total'
} | tee "$report"
echo "report: $report"
