#!/usr/bin/env bash
# demo.sh - `make demo`: one signed inbound WhatsApp message through the running system, then its CRM row.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/env.sh"
"$root/scripts/node-deps.sh"
from=${FROM:-+14155550100}
node "$root/sim/twilio/cli.mjs" inbound --from "$from" --name "${NAME:-Demo Lead}" --body "${BODY:-Hello from the demo 👋}"
for _ in $(seq 50); do
    n=$(psql "$DATABASE_URL" -X -tA -c "select count(*) from messages m join contacts c on c.id = m.contact_id where c.phone = '$from'")
    [ "$n" -gt 0 ] && break
    sleep 0.1
done
psql "$DATABASE_URL" -X -c "select c.phone, c.profile_name, c.last_inbound_provider, m.type, m.body, m.created_at
  from messages m join contacts c on c.id = m.contact_id where c.phone = '$from' order by m.created_at desc limit 5"
