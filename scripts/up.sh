#!/usr/bin/env bash
# up.sh - brings up the whole local system: infrastructure, schema, services. Idempotent.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/infra/stack.sh" up
source "$root/scripts/env.sh"
"$root/sql/migrate.sh"
"$root/scripts/node-deps.sh"
"$root/scripts/services.sh" start
