#!/usr/bin/env bash
# ingress.sh - `make bench-ingress`: ingress alone at full load, and the CPU ingress and Kafka
# spend per webhook (bench/ingress.mjs). Ingress writes to a topic of this benchmark's own
# (bench.ingress, as many partitions as wa.inbound), which nothing consumes. BEFORE=<commit>
# builds that commit too and runs each build's ingress in turn, ROUNDS times. The Express peer
# (bench/peer, #13's target 6) runs in its turn too, unless PEER=0.
# Writes bench/REPORT-ingress-<date>.txt.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_compare_up
if [ "${PEER:-1}" != 0 ]; then
    # Its packages, pinned by the lockfile, only for this benchmark.
    (cd "$root/bench/peer" && { [ -d node_modules ] && [ node_modules -nt package-lock.json ] ||
        { npm ci --no-audit --no-fund --loglevel=error && touch node_modules; }; })
    VARIANTS="$VARIANTS express=peer"
fi
"$root/infra/stack.sh" kafka-topic bench.ingress:6
work=$root/build/bench
mkdir -p "$work"
node "$root/bench/gen_requests.mjs" "${N:-100000}" >"$work/ingress.tsv"
export WA_BENCH_REQUESTS=$work/ingress.tsv INGRESS_TOPIC_INBOUND=bench.ingress
# Nothing else at work: the router and senders have nothing to do, but are stopped all the same.
# Ingress again, on bench.ingress: the broker's warm-up runs against the one that is up, which
# the stack started on wa.inbound, and its webhooks were left there for the next start's router.
"$root/scripts/services.sh" stop router sender-twilio sender-baileys media-worker dashboard bridge ingress >/dev/null
"$root/scripts/services.sh" start ingress >/dev/null
report=$(bench_report ingress)
{
    bench_header "ingress benchmark" \
        "make bench-ingress  (BEFORE=${BEFORE:-} PEER=${PEER:-1} ROUNDS=${ROUNDS:-1} SECS=${SECS:-15} CONNS=${CONNS:-64} N=${N:-100000})"
    echo "$(bench_tree); variants: $VARIANTS"
    echo "wrk, ingress and Kafka share this machine; the other services are stopped"
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    node "$root/bench/ingress.mjs"
    echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
} 2>&1 | tee "$report"
echo "report: $report"
