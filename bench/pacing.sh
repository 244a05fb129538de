#!/usr/bin/env bash
# pacing.sh - `make bench-pacing`: each Twilio number's pace at the real rate, with one and two
# sender-twilio instances and with two numbers (bench/pacing.mjs). BEFORE=<commit> builds that
# commit too, and ROUNDS (1) rounds run both builds' senders in turn, the order alternating, side
# by side in one run. Writes bench/REPORT-pacing-<date>.txt.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
# Two numbers, so "two numbers go out at twice the rate" can be measured.
export TWILIO_WA_FROM=${TWILIO_WA_FROM:-whatsapp:+14155238886,whatsapp:+14155550199}
variants=$(bench_variants)
bench_up
report=$(bench_report pacing)
{
    bench_header "pacing benchmark" \
        "make bench-pacing  (BEFORE=${BEFORE:-} ROUNDS=${ROUNDS:-1} N=${N:-1000} CONTACTS=${CONTACTS:-100} TWILIO_RATE_PER_SECOND=${TWILIO_RATE_PER_SECOND:-80}${SENDER_WORKERS:+ SENDER_WORKERS=$SENDER_WORKERS})"
    echo "$(bench_tree); variants: $variants"
    echo "everything (the simulators, ingress, router, senders, Kafka, Postgres with fsync on) shares this machine"
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    set -- $variants
    for ((r = 1; r <= ${ROUNDS:-1}; r++)); do
        order=$*
        [ $((r % 2)) -eq 1 ] || order=$(printf '%s\n' "$@" | tac | tr '\n' ' ')
        for v in $order; do
            echo
            echo "==== round $r: ${v%%=*} (${v#*=})"
            WA_BIN_DIR=${v#*=} node "$root/bench/pacing.mjs"
        done
    done
    "$root/scripts/services.sh" start sender-twilio >/dev/null
    echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
} 2>&1 | tee "$report"
echo "report: $report"
