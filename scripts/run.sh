#!/usr/bin/env bash
# run.sh - `make run`: start everything, say what is where, and stop it all on Ctrl-C.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/up.sh"
source "$root/scripts/env.sh"

stop_all() {
    # A second signal (make passes one on, a second Ctrl-C) must not cut the shutdown short and
    # leave Postgres and Kafka running.
    trap '' INT TERM
    echo
    echo "stopping wa-broker..."
    "$root/scripts/services.sh" stop || true
    "$root/infra/stack.sh" down || true
    exit 0
}
trap stop_all INT TERM

cat <<MSG

wa-broker is running on loopback.

  ingress    $INGRESS_URL   (webhooks; POST /api/whatsapp/send with "Authorization: Bearer \$SEND_API_TOKEN")
  router     http://$ROUTER_LISTEN/metrics
  senders    http://$SENDER_TWILIO_LISTEN/metrics (Twilio)   http://$SENDER_BAILEYS_LISTEN/metrics (Baileys)
  media      http://$MEDIA_WORKER_LISTEN/metrics   (media-worker)
  dashboard  $WA_SCHEME://$DASHBOARD_LISTEN   (log in with the token $( [ "$DASHBOARD_TOKEN" = dev-dashboard-token-not-for-production ] && echo "dev-dashboard-token-not-for-production" || echo "in DASHBOARD_TOKEN"))
  bridge     http://$BRIDGE_LISTEN/health   (Baileys, WhatsApp Web$( [ "${BAILEYS_LOOPBACK:-1}" = 1 ] && [ ! -f "$WA_STATE/bridge/auth/creds.json" ] && echo ": LOOPBACK, simulated"))
  Postgres   $DATABASE_URL
  Kafka      $KAFKA_BROKERS   (topics wa.inbound, wa.events, wa.error, ...)
  S3         ${S3_ENDPOINT:-http://127.0.0.1:9000}  bucket ${S3_BUCKET:-wa-media}
  logs       $WA_LOG_DIR/

MSG
if [ "$WA_SCHEME" = https ]; then
    echo "  WA_TLS=1: ingress and the dashboard serve HTTPS with a local CA's certificate; trust $WA_TLS_CA"
    echo "  (curl --cacert $WA_TLS_CA; import it into the browser, or accept its warning, for the dashboard)."
fi
if [ -n "${WA_TWILIO_SIMULATED:-}" ]; then
    echo "  No TWILIO_AUTH_TOKEN was given: Twilio is simulated at $TWILIO_API_BASE (token $TWILIO_AUTH_TOKEN)."
fi
cat <<MSG

Send a first message, in another terminal:

  make demo                      # as Twilio would: a signed webhook (node sim/twilio/cli.mjs inbound --from +14155550100 --body "Hello")
  make demo-baileys              # as WhatsApp Web would, through the bridge's loopback WhatsApp

and see it in the CRM:

  psql $DATABASE_URL -c "select phone, profile_name, last_inbound_provider from contacts"

Ctrl-C here, or 'make stop' elsewhere, stops everything.
MSG
# Stay in the foreground while the services live; 'make stop' ends them and so this.
while [[ "$("$root/scripts/services.sh" status)" == *running* ]]; do sleep 2; done
echo "services are gone (make stop?); stopping the stack"
"$root/infra/stack.sh" down || true
