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
# Presigned media URLs live 3 s here, so the test can see one expire.
export MEDIA_URL_TTL_S=${MEDIA_URL_TTL_S:-3}
# An allowed media host that resolves to loopback but is not in MEDIA_PRIVATE_HOSTS: the
# private-address guard must refuse it (media.test.mjs).
cdn=${TWILIO_SIM_CDN_LISTEN:-127.0.0.1:3003}
export WA_MEDIA_EXTRA_HOSTS=localhost:${cdn##*:}
# A test that hangs fails after this long instead of holding CI to its limit.
E2E_TEST_TIMEOUT_MS=${E2E_TEST_TIMEOUT_MS:-240000}
cleanup() {
    "$root/scripts/services.sh" stop >/dev/null 2>&1 || true
    [ -n "${WA_KEEP_STACK:-}" ] || "$root/infra/stack.sh" down >/dev/null 2>&1 || true
}
trap cleanup EXIT
"$root/scripts/up.sh"
source "$root/scripts/env.sh"
cd "$root/tests/e2e"
rc=0
node --test --test-concurrency=1 --test-timeout="$E2E_TEST_TIMEOUT_MS" --test-reporter=spec ${E2E_FILES:-./*.test.mjs} || rc=$?
if [ "$rc" -ne 0 ]; then
    # Tests restart what they kill; a service down now died on its own.
    down=$("$root/scripts/services.sh" status | awk -F: '/: stopped/ { printf " %s", $1 }')
    echo "e2e failed (rc=$rc); services not running at the end:${down:- none}"
fi
exit "$rc"
