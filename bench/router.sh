#!/usr/bin/env bash
# router.sh - `make bench-router`: one router's capacity for inbound messages (KIND=inbound, the
# default) or Twilio status callbacks (KIND=status), and the CPU each process spends per record
# (bench/router.mjs). BEFORE=<commit> builds that commit too and drains a backlog with
# each build's router, alternating, ROUNDS times. Writes bench/REPORT-router-<date>.txt.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_compare_up
report=$(bench_report router)
{
    bench_header "router capacity benchmark" \
        "make bench-router  (KIND=${KIND:-inbound} BEFORE=${BEFORE:-} N=${N:-20000} ROUNDS=${ROUNDS:-1} CONTACTS=${CONTACTS:-1000})"
    echo "$(bench_tree); variants: $VARIANTS"
    echo "everything (ingress, router, Kafka, Postgres with fsync on) shares this machine; the backlog is made while the router is stopped"
    echo "messages in the CRM before: $(psql "$DATABASE_URL" -X -tA -c 'select count(*) from messages')"
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    node "$root/bench/router.mjs"
    echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
} 2>&1 | tee "$report"
echo "report: $report"
