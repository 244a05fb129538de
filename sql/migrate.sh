#!/usr/bin/env bash
# migrate.sh - applies sql/NNNN_*.sql in order, each once, each in its own transaction.
# Usage: DATABASE_URL=postgresql://... sql/migrate.sh
# Safe to run concurrently (an advisory lock serializes runners) and repeatedly.
set -euo pipefail
: "${DATABASE_URL:?DATABASE_URL is required}"
dir=$(cd "$(dirname "$0")" && pwd)
psql=(psql "$DATABASE_URL" -X -q -v ON_ERROR_STOP=1)

"${psql[@]}" -c "CREATE TABLE IF NOT EXISTS schema_migrations (
    version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())" 2>&1 |
    grep -v 'already exists, skipping' || true

errf=$(mktemp)
trap 'rm -f "$errf"' EXIT
applied=0
for f in "$dir"/[0-9][0-9][0-9][0-9]_*.sql; do
    v=$(basename "$f" .sql)
    # The lock, the check, the file and the bookkeeping share one transaction.
    out=$("${psql[@]}" --single-transaction -t -A \
        -c "SELECT pg_advisory_xact_lock(727274)" \
        -c "SELECT 'skip' FROM schema_migrations WHERE version = '$v'" 2>&1)
    if grep -q skip <<<"$out"; then continue; fi
    "${psql[@]}" --single-transaction \
        -c "SELECT pg_advisory_xact_lock(727274)" \
        -c "DO \$\$ BEGIN IF EXISTS (SELECT 1 FROM schema_migrations WHERE version = '$v')
              THEN RAISE EXCEPTION 'already applied'; END IF; END \$\$" \
        -f "$f" \
        -c "INSERT INTO schema_migrations (version) VALUES ('$v')" >/dev/null 2>"$errf" || {
        if grep -q 'already applied' "$errf"; then continue; fi
        echo "migrate: $v failed:" >&2
        cat "$errf" >&2
        exit 1
    }
    echo "migrate: applied $v"
    applied=$((applied + 1))
done
echo "migrate: up to date ($applied applied now)"
