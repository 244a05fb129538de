#!/usr/bin/env bash
# dashboard.sh - `make bench-dashboard`: the timeline API with 10,000 messages on one lead and
# 100,000 in the CRM, and live events fanned out to 100 connections. Writes
# bench/REPORT-dashboard-<date>.txt.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export WA_STATE=${WA_STATE:-$root/.local/bench}
"$root/scripts/up.sh" >/dev/null
trap '"$root/scripts/services.sh" stop >/dev/null; "$root/infra/stack.sh" down >/dev/null' EXIT
source "$root/scripts/env.sh"
report=$root/bench/REPORT-dashboard-$(date -u +%Y%m%d).txt
{
    echo "wa-broker dashboard benchmark, $(date -u +%FT%TZ), $(nproc) cores, $(uname -r)"
    echo "command: make bench-dashboard  (REQUESTS=${REQUESTS:-2000} CLIENTS=${CLIENTS:-100} EVENTS=${EVENTS:-2000})"
    echo "the client (node), the dashboard, Postgres and Kafka share this machine"
    echo
    node "$root/bench/dashboard.mjs"
} 2>&1 | tee "$report"
echo "report: $report"
