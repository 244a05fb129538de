#!/usr/bin/env bash
# sender.sh - `make bench-sender`: one sender process's capacity with pacing lifted, and the CPU
# each process spends per message (bench/sender.mjs); then the send request -> provider latency
# at RATE/s for SECS s (bench/outbound.mjs). BEFORE=<commit> builds that commit too and runs
# both measurements for each build, side by side in one run. Writes bench/REPORT-sender-<date>.txt.
# SIM_LATENCY_MS: the simulator answers each Messages create after that long (the real API's
# round trip); LANES_<variant>: that variant's SENDER_WORKERS (VARIANTS='l16=build/bin
# l128=build/bin' LANES_l16=16 LANES_l128=128 compares lane counts of one build). SECS=0: the
# capacity only.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
# The bridge's own send pacing (5/s by default) would otherwise be what is measured; a killed
# bridge is trusted again after 1 s.
export BRIDGE_SEND_RATE=${BRIDGE_SEND_RATE:-100000} BAILEYS_DOWN_HOLD_S=1 BAILEYS_HEALTH_DOWN_INTERVAL_S=1
RATE=${RATE:-200} SECS=${SECS:-20}
if [ -n "${BEFORE:-}" ] && ! git -C "$root" cat-file -e "$BEFORE:sql/0013_claim_by_id.sql" 2>/dev/null; then
    # Each build on its own schema: sql/0013 drops an index the claim used to scan, which a
    # build from before it still has (set SQL_before/SQL_after for other differences).
    export SQL_before=${SQL_before-"CREATE INDEX IF NOT EXISTS messages_sending ON messages (updated_at) WHERE status IN ('queued', 'sending')"}
    export SQL_after=${SQL_after-"DROP INDEX IF EXISTS messages_sending"}
fi
bench_compare_up
report=$(bench_report sender)
{
    bench_header "sender capacity benchmark" \
        "make bench-sender  (BEFORE=${BEFORE:-} N=${N:-5000} ROUNDS=${ROUNDS:-1} CONTACTS=${CONTACTS:-300} RATE=$RATE SECS=$SECS${SENDER_WORKERS:+ SENDER_WORKERS=$SENDER_WORKERS}${SIM_LATENCY_MS:+ SIM_LATENCY_MS=$SIM_LATENCY_MS}$(env | grep '^LANES_' | sed 's/^/ /' | tr -d '\n'))"
    echo "$(bench_tree); variants: $VARIANTS"
    [ -z "${SQL_before:-}${SQL_after:-}" ] || echo "before each build's runs: before: ${SQL_before:-}; after: ${SQL_after:-}"
    echo "everything (the simulators, ingress, router, senders, bridge, Kafka, Postgres with fsync on) shares this machine"
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    node "$root/bench/sender.mjs"
    echo
    # Twilio's per-number pacing (80/s by default) is lifted: one number would cap the Twilio half.
    # SECS=0: the capacity only.
    [ "$SECS" -gt 0 ] || VARIANTS=
    for v in $VARIANTS; do
        sql_var=SQL_${v%%=*} lanes_var=LANES_${v%%=*}
        lanes=${!lanes_var:-${SENDER_WORKERS:-}}
        [ -z "${!sql_var:-}" ] || psql -q "$DATABASE_URL" -c "${!sql_var}"
        echo "---- ${v%%=*}: send request -> provider call at ${RATE}/s for ${SECS} s, both senders of this build, pacing lifted"
        # shellcheck disable=SC2086 # the lanes setting is one word or none
        env ${lanes:+SENDER_WORKERS=$lanes} WA_BIN_DIR=${v#*=} TWILIO_RATE_PER_SECOND=10000 "$root/scripts/services.sh" stop sender-twilio sender-baileys >/dev/null
        # shellcheck disable=SC2086
        env ${lanes:+SENDER_WORKERS=$lanes} WA_BIN_DIR=${v#*=} TWILIO_RATE_PER_SECOND=10000 "$root/scripts/services.sh" start sender-twilio sender-baileys >/dev/null
        RATES=$RATE SECS=$SECS RUNS=0 node "$root/bench/outbound.mjs"
    done
    echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
} 2>&1 | tee "$report"
echo "report: $report"
