#!/usr/bin/env bash
# node-deps.sh - installs the Node packages (simulator, tests, bridge, the dashboard's chart library),
# pinned by their lockfiles.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
for d in sim/twilio tests/e2e baileys-bridge dashboard/web; do
    [ -f "$root/$d/package.json" ] || continue
    if [ ! -d "$root/$d/node_modules" ] || [ "$root/$d/package-lock.json" -nt "$root/$d/node_modules" ]; then
        (cd "$root/$d" && npm ci --no-audit --no-fund --loglevel=error 2>&1 | grep -v 'Unknown user config' || true)
        touch "$root/$d/node_modules"
    fi
done
