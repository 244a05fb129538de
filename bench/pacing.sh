#!/usr/bin/env bash
# pacing.sh - `make bench-pacing`: each Twilio number's pace at the real rate, with one and two
# sender-twilio instances and with two numbers (bench/pacing.mjs). Writes
# bench/REPORT-pacing-<date>.txt.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
# Two numbers, so "two numbers go out at twice the rate" can be measured.
export TWILIO_WA_FROM=${TWILIO_WA_FROM:-whatsapp:+14155238886,whatsapp:+14155550199}
bench_up
report=$(bench_report pacing)
{
    bench_header "pacing benchmark" \
        "make bench-pacing  (N=${N:-1000} CONTACTS=${CONTACTS:-100} TWILIO_RATE_PER_SECOND=${TWILIO_RATE_PER_SECOND:-80})"
    echo "$(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet || echo ' (with uncommitted changes)')"
    echo "everything (the simulators, ingress, router, senders, Kafka, Postgres with fsync on) shares this machine"
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    node "$root/bench/pacing.mjs"
    echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
} 2>&1 | tee "$report"
echo "report: $report"
