#!/usr/bin/env bash
# kafka_restart.sh - `make bench-kafka-restart`: how long the pipeline takes to carry a webhook
# again after the broker restarts. Writes bench/REPORT-kafka-restart-<date>.txt.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_up
report=$(bench_report kafka-restart)
{
    bench_header "broker-restart recovery" "make bench-kafka-restart  (RUNS=${RUNS:-10} DOWN_S=${DOWN_S:-0})"
    echo
    node "$root/bench/kafka_restart.mjs"
} 2>&1 | tee "$report"
echo "report: $report"
