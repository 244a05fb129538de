#!/bin/sh
# First start: initdb (UTF-8, passwords over TCP, the owner via the socket), the user
# POSTGRES_USER as superuser with POSTGRES_PASSWORD, the database POSTGRES_DB. Every start:
# the server in the foreground on 0.0.0.0:$POSTGRES_PORT.
set -eu
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}"
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
port=${POSTGRES_PORT:-5432}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    echo "postgres: initialising $PGDATA (user $user, database $db)"
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
        --auth-local=peer --auth-host=scram-sha-256 >/dev/null
    rm -f "$pwfile"
    # Clients come from other containers (or the host's loopback with host networking).
    printf 'host all all 0.0.0.0/0 scram-sha-256\nhost all all ::/0 scram-sha-256\n' >> "$PGDATA/pg_hba.conf"
    if [ "$db" != postgres ]; then
        # Single-user mode: no server, no socket, nothing that could count as up.
        echo "CREATE DATABASE \"$db\" OWNER \"$user\"" | postgres --single -D "$PGDATA" postgres >/dev/null
    fi
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' -c port="$port" \
    -c unix_socket_directories=/var/run/postgresql
