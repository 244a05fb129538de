#!/usr/bin/env bash
# demo.sh - `make demo` / `make demo-baileys`: one inbound WhatsApp message through the running
# system, as Twilio sends it (a signed webhook) or as WhatsApp Web delivers it to the bridge
# (its loopback WhatsApp), then the contact's CRM rows.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/env.sh"
"$root/scripts/node-deps.sh"
from=${FROM:-+14155550100}
if [ "${1:-twilio}" = baileys ]; then
    body=$(jq -nc --arg from "$from" --arg text "${BODY:-Hello via WhatsApp Web 👋}" --arg name "${NAME:-Demo Lead}" \
        '{from: $from, text: $text, pushName: $name}')
    echo "POST http://$BRIDGE_LISTEN/dev/inbound $body"
    curl -fsS -H "X-BAILEYS-SECRET: $BAILEYS_WEBHOOK_SECRET" -H 'Content-Type: application/json' \
        "http://$BRIDGE_LISTEN/dev/inbound" -d "$body" >/dev/null ||
        { echo "the bridge refused: is it running in loopback mode (make run without a WhatsApp session)?" >&2; exit 1; }
    want_provider=baileys
elif [ -n "${WA_TWILIO_SIMULATED:-}" ] &&
    curl -fsS -o /dev/null "http://$TWILIO_SIM_LISTEN/sim/faults" 2>/dev/null; then
    # Through the running simulator, so the simulated Twilio knows the contact wrote (its 24-hour
    # window), as the real one does: a reply to this demo then goes out.
    body=$(jq -nc --arg from "$from" --arg text "${BODY:-Hello from the demo 👋}" --arg name "${NAME:-Demo Lead}" \
        '{from: $from, body: $text, profileName: $name}')
    echo "POST http://$TWILIO_SIM_LISTEN/sim/inbound $body"
    curl -fsS -H 'Content-Type: application/json' "http://$TWILIO_SIM_LISTEN/sim/inbound" -d "$body"
    echo
    want_provider=twilio
else
    node "$root/sim/twilio/cli.mjs" inbound --from "$from" --name "${NAME:-Demo Lead}" --body "${BODY:-Hello from the demo 👋}"
    want_provider=twilio
fi
for _ in $(seq 50); do
    n=$(psql "$DATABASE_URL" -X -tA -c "select count(*) from messages m join contacts c on c.id = m.contact_id
        where c.phone = '$from' and m.provider = '$want_provider' and m.created_at > now() - interval '30 seconds'")
    [ "$n" -gt 0 ] && break
    sleep 0.1
done
psql "$DATABASE_URL" -X -c "select c.phone, c.profile_name, c.last_inbound_provider, m.provider, m.type, m.body, m.created_at
  from messages m join contacts c on c.id = m.contact_id where c.phone = '$from' order by m.created_at desc limit 5"
