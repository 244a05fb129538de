#!/usr/bin/env bash
# e2e.sh - end-to-end tests on the real stack, started by the same scripts as `make run`.
# E2E_FILES='dashboard_browser.test.mjs' runs some files only (names relative to tests/e2e).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# Tests get their own state dir, so a developer's `make run` data is left alone.
export WA_STATE=${WA_STATE:-$root/.local/test}
export INGRESS_KAFKA_DEADLINE_MS=${INGRESS_KAFKA_DEADLINE_MS:-3000}
export LOG_LEVEL=${LOG_LEVEL:-info}
# A bridge restarted by a test is trusted again after 2 s, not the production 30 s.
export BAILEYS_DOWN_HOLD_S=${BAILEYS_DOWN_HOLD_S:-2}
export BAILEYS_HEALTH_DOWN_INTERVAL_S=${BAILEYS_HEALTH_DOWN_INTERVAL_S:-1}
# A small media limit, so the over-the-limit test moves 20 MB, not 101 MiB.
export MEDIA_MAX_BYTES=${MEDIA_MAX_BYTES:-20000000}
# A small upload limit for the operator's files, so the over-the-limit tests move 2 MB, not 16.
export DASHBOARD_MEDIA_MAX_BYTES=${DASHBOARD_MEDIA_MAX_BYTES:-2000000}
# Presigned media URLs live 3 s here, so the test can see one expire.
export MEDIA_URL_TTL_S=${MEDIA_URL_TTL_S:-3}
# An allowed media host that resolves to loopback but is not in MEDIA_PRIVATE_HOSTS: the
# private-address guard must refuse it (media.test.mjs).
cdn=${TWILIO_SIM_CDN_LISTEN:-127.0.0.1:3003}
export WA_MEDIA_EXTRA_HOSTS=localhost:${cdn##*:}
# Two Twilio numbers, so the tests see channels: the first takes over from Baileys.
export TWILIO_WA_FROM=${TWILIO_WA_FROM:-whatsapp:+14155238886,whatsapp:+14155550199}
# Re-engagement off unless a test turns it on: free text outside every window is refused.
export REENGAGE_CONTENT_SID=${REENGAGE_CONTENT_SID-}
# A test that hangs fails after this long instead of holding CI to its limit. node applies it to
# each file as a whole too: the fault suite alone (two minutes of load, then settling) takes
# 3.5 minutes on an idle 2-core machine, so the limit leaves it room on a busy one.
E2E_TEST_TIMEOUT_MS=${E2E_TEST_TIMEOUT_MS:-480000}
# Files that need a three-broker Kafka cluster (replication 3, min.insync.replicas 2). They run
# after the others, on a stack of their own: the same ports once the first stack is down, and
# their own state directory, since a one-broker Kafka cannot become a cluster.
E2E_CLUSTER_FILES=${E2E_CLUSTER_FILES:-cluster.test.mjs}
CLUSTER_STATE=${WA_CLUSTER_STATE:-$WA_STATE-cluster}

single=() cluster=()
for f in ${E2E_FILES:-$(cd "$root/tests/e2e" && echo ./*.test.mjs)}; do
    f=${f#./}
    case " $E2E_CLUSTER_FILES " in
    *" $f "*) cluster+=("$f") ;;
    *) single+=("$f") ;;
    esac
done

# phase KEEP FILES...: brings the stack up (for WA_STATE and WA_KAFKA_NODES), runs the files, and
# stops everything unless KEEP. A subshell, so one phase's stack.env never leaks into the next.
phase() {
    local keep=$1; shift
    (
        cleanup() {
            "$root/scripts/services.sh" stop >/dev/null 2>&1 || true
            [ -n "$keep" ] || "$root/infra/stack.sh" down >/dev/null 2>&1 || true
        }
        trap cleanup EXIT
        # Called as `phase ... || rc=$?`, where set -e does not apply: every step checks itself.
        "$root/scripts/up.sh" || exit
        source "$root/scripts/env.sh" || exit
        cd "$root/tests/e2e" || exit
        rc=0
        # The output is kept, so the failures can be told again at the very end (CI shows the tail).
        node --test --test-concurrency=1 --test-timeout="$E2E_TEST_TIMEOUT_MS" --test-reporter=spec "$@" 2>&1 |
            tee "$WA_STATE/e2e-output.log" || rc=$?
        if [ "$rc" -ne 0 ]; then
            # Tests restart what they kill; a service down now died on its own.
            down=$("$root/scripts/services.sh" status | awk -F: '/: stopped/ { printf " %s", $1 }')
            echo "e2e failed (rc=$rc); services not running at the end:${down:- none}"
        fi
        exit "$rc"
    )
}

rm -f "$WA_STATE/e2e-output.log" "$CLUSTER_STATE/e2e-output.log"
rc=0
if [ ${#single[@]} -gt 0 ]; then
    # Kept only if nothing runs after it: the cluster needs the same ports.
    keep=${WA_KEEP_STACK:-}
    [ ${#cluster[@]} -eq 0 ] || keep=
    phase "$keep" "${single[@]}" || rc=$?
fi
if [ ${#cluster[@]} -gt 0 ]; then
    echo "e2e: ${cluster[*]} on a three-broker Kafka cluster (state $CLUSTER_STATE)"
    WA_STATE=$CLUSTER_STATE WA_KAFKA_NODES=3 KAFKA_REPLICATION_FACTOR=3 KAFKA_MIN_INSYNC_REPLICAS=2 \
        phase "${WA_KEEP_STACK:-}" "${cluster[@]}" || rc=$?
fi
if [ "$rc" -ne 0 ]; then
    # Told again last, so a failure early in the run is not scrolled away by the phases after it.
    echo "e2e: FAILED (rc=$rc). The failing tests, as each phase reported them:"
    for state in "$WA_STATE" "$CLUSTER_STATE"; do
        [ -f "$state/e2e-output.log" ] || continue
        sed -n '/failing tests:/,$p' "$state/e2e-output.log" | head -n 80
    done
fi
exit "$rc"
