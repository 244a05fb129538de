#!/usr/bin/env bash
# dashboard.sh - `make bench-dashboard`: the timeline API with 10,000 messages on one lead and
# 100,000 in the CRM, and live events fanned out to 100 connections. Writes
# bench/REPORT-dashboard-<date>.txt.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
# Every connection comes from this machine's one address, where each operator's browser would
# have its own: the cap per address (32 by default) would close all but the first 32.
export DASHBOARD_MAX_CONNS_PER_IP=$((${CLIENTS:-100} + 16))
bench_up
report=$(bench_report dashboard)
{
    bench_header "dashboard benchmark" \
        "make bench-dashboard  (REQUESTS=${REQUESTS:-2000} CLIENTS=${CLIENTS:-100} EVENTS=${EVENTS:-2000})"
    echo "the client (node), the dashboard, Postgres and Kafka share this machine"
    echo
    node "$root/bench/dashboard.mjs"
} 2>&1 | tee "$report"
echo "report: $report"
