#!/usr/bin/env bash
# outbound.sh - `make bench-outbound`: send latency to each provider at a steady load, and failover
# time, on the real stack with the simulators. Writes bench/REPORT-outbound-<date>.txt.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
# A killed bridge is trusted again after 1 s here (30 s in production), so runs follow quickly;
# the bridge's own send pacing (5/s by default) would otherwise be what is measured.
export BAILEYS_DOWN_HOLD_S=1 BAILEYS_HEALTH_DOWN_INTERVAL_S=1 BRIDGE_SEND_RATE=${BRIDGE_SEND_RATE:-1000}
# NUMBERS=N: N Twilio numbers (the sandbox number and N-1 more), each a channel of its own with
# its own pace; the contacts are spread over them.
if [ "${NUMBERS:-1}" -gt 1 ]; then
    TWILIO_WA_FROM=whatsapp:+14155238886
    for i in $(seq 2 "$NUMBERS"); do TWILIO_WA_FROM+=",whatsapp:+1415555$(printf %04d $((1000 + i)))"; done
    export TWILIO_WA_FROM
fi
bench_up
report=$(bench_report outbound)
{
    bench_header "outbound benchmark" \
        "make bench-outbound  (RATES=\"${RATES:-10 50}\" SECS=${SECS:-20} RUNS=${RUNS:-20} CONTACTS=${CONTACTS:-20} NUMBERS=${NUMBERS:-1} WARM_S=${WARM_S:-10})"
    echo "everything (the simulators, ingress, router, senders, bridge, Kafka, Postgres with fsync on) shares this machine"
    # WA_BIN_DIR: another build's services (bench_build), to compare two builds run after run.
    echo "$(bench_tree); services from ${WA_BIN_DIR:-$root/build/bin}"
    echo
    node "$root/bench/outbound.mjs"
} 2>&1 | tee "$report"
echo "report: $report"
