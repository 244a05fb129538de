# env.sh - sourced by the scripts: the local stack's addresses and the services' settings.
# Anything already set in the environment wins, so real credentials can be passed in.
WA_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export WA_STATE=${WA_STATE:-$WA_ROOT/.local}
if [ -f "$WA_STATE/stack.env" ]; then
    while IFS='=' read -r k v; do
        [ -n "$k" ] && [ "${k:0:1}" != "#" ] && [ -z "${!k:-}" ] && export "$k=$v"
    done <"$WA_STATE/stack.env"
fi
export KAFKA_BROKERS=${KAFKA_BROKERS:-127.0.0.1:9092}
export DATABASE_URL=${DATABASE_URL:-postgresql://wa:wa@127.0.0.1:55432/wa}
export INGRESS_LISTEN=${INGRESS_LISTEN:-127.0.0.1:8080}
export ROUTER_LISTEN=${ROUTER_LISTEN:-127.0.0.1:9101}
# WA_TLS=1: ingress and the dashboard serve HTTPS themselves, with the certificate of a local CA
# (scripts/tls.sh, made once under $WA_STATE/tls). The bridge, the Twilio simulator and the demo
# trust that CA, and only it besides the usual ones: nothing is told to skip verification.
WA_SCHEME=http
if [ "${WA_TLS:-0}" = 1 ]; then
    wa_tls_dir=$("$WA_ROOT/scripts/tls.sh" "$WA_STATE/tls")
    export INGRESS_TLS_CERT=${INGRESS_TLS_CERT:-$wa_tls_dir/server.pem}
    export INGRESS_TLS_KEY=${INGRESS_TLS_KEY:-$wa_tls_dir/server.key}
    export DASHBOARD_TLS_CERT=${DASHBOARD_TLS_CERT:-$wa_tls_dir/server.pem}
    export DASHBOARD_TLS_KEY=${DASHBOARD_TLS_KEY:-$wa_tls_dir/server.key}
    export WA_TLS_CA=$wa_tls_dir/ca.pem
    export BRIDGE_INGRESS_CA_FILE=${BRIDGE_INGRESS_CA_FILE:-$WA_TLS_CA}
    # The dashboard hands the operator's replies to ingress's https send API.
    export DASHBOARD_SEND_CA_FILE=${DASHBOARD_SEND_CA_FILE:-$WA_TLS_CA}
    # Node's https and fetch (the simulator posting webhooks, sim/twilio/cli.mjs, the e2e tests).
    # Node reads one such file: one already set gets the local CA added, in a copy.
    case ${NODE_EXTRA_CA_CERTS:-} in
    "" | "$WA_TLS_CA") export NODE_EXTRA_CA_CERTS=$WA_TLS_CA ;;
    "$wa_tls_dir/node-extra-ca.pem") ;;
    *)
        cat "$NODE_EXTRA_CA_CERTS" "$WA_TLS_CA" >"$wa_tls_dir/node-extra-ca.pem.tmp"
        mv -f "$wa_tls_dir/node-extra-ca.pem.tmp" "$wa_tls_dir/node-extra-ca.pem"
        export NODE_EXTRA_CA_CERTS=$wa_tls_dir/node-extra-ca.pem
        ;;
    esac
    WA_SCHEME=https
fi
export PUBLIC_BASE_URL=${PUBLIC_BASE_URL:-$WA_SCHEME://${INGRESS_LISTEN}}
export WHATSAPP_PROVIDER=${WHATSAPP_PROVIDER:-auto}
# Without real Twilio credentials the stack runs against the simulator, which
# signs its webhooks with this development token.
if [ -z "${TWILIO_AUTH_TOKEN:-}" ]; then
    export TWILIO_AUTH_TOKEN=sim-auth-token-not-a-secret
    export WA_TWILIO_SIMULATED=1
fi
export TWILIO_SIM_LISTEN=${TWILIO_SIM_LISTEN:-127.0.0.1:3002}
if [ -n "${WA_TWILIO_SIMULATED:-}" ]; then
    export TWILIO_ACCOUNT_SID=${TWILIO_ACCOUNT_SID:-AC00000000000000000000000000000000}
    export TWILIO_API_BASE=${TWILIO_API_BASE:-http://$TWILIO_SIM_LISTEN}
    # The simulator serves the Content API's template catalogue too.
    export TWILIO_CONTENT_URL=${TWILIO_CONTENT_URL:-http://$TWILIO_SIM_LISTEN}
    # Re-engagement on, with a template the simulator takes (real Twilio needs an approved one of
    # yours). Set REENGAGE_CONTENT_SID empty to turn it off, as the tests do.
    export REENGAGE_CONTENT_SID=${REENGAGE_CONTENT_SID-HX00000000000000000000000000000001}
    export REENGAGE_VARIABLES=${REENGAGE_VARIABLES-'{"1":"{name}"}'}
fi
# Twilio's sandbox number; set your own WhatsApp sender for real traffic.
export TWILIO_WA_FROM=${TWILIO_WA_FROM:-whatsapp:+14155238886}
# The send API's bearer token: a development value unless one is given.
export SEND_API_TOKEN=${SEND_API_TOKEN:-dev-send-token-not-for-production}
export SENDER_TWILIO_LISTEN=${SENDER_TWILIO_LISTEN:-127.0.0.1:9102}
export SENDER_BAILEYS_LISTEN=${SENDER_BAILEYS_LISTEN:-127.0.0.1:9103}
export MEDIA_WORKER_LISTEN=${MEDIA_WORKER_LISTEN:-127.0.0.1:9104}
export DASHBOARD_LISTEN=${DASHBOARD_LISTEN:-127.0.0.1:8090}
export DASHBOARD_WEB_DIR=${DASHBOARD_WEB_DIR:-$WA_ROOT/dashboard/web}
# The operator's token: a development value unless one is given.
export DASHBOARD_TOKEN=${DASHBOARD_TOKEN:-dev-dashboard-token-not-for-production}
export TWILIO_SIM_CDN_LISTEN=${TWILIO_SIM_CDN_LISTEN:-127.0.0.1:3003}
# Media hosts: the bridge and, when Twilio is simulated, the simulator and its "CDN". On loopback
# they resolve to private addresses, so they are named in MEDIA_PRIVATE_HOSTS, the production
# mechanism (compose names baileys-bridge:3001 the same way); every other allowed host must still
# resolve to a public address. WA_MEDIA_EXTRA_HOSTS adds allowed hosts (the tests add one that is
# allowed but not private-allowed). Both bridges are named: the first and bridge@2, the second
# Baileys session `scripts/services.sh start bridge@2` runs 10 ports above the first (its media
# URLs name its own address, so media-worker fetches them from it). Further instances need
# MEDIA_ALLOWED_HOSTS and MEDIA_PRIVATE_HOSTS set.
wa_bridge_listen=${BRIDGE_LISTEN:-127.0.0.1:3001}
export WA_BRIDGE2_LISTEN=${wa_bridge_listen%:*}:$((${wa_bridge_listen##*:} + 10))
wa_local_media_hosts=$wa_bridge_listen,$WA_BRIDGE2_LISTEN${WA_TWILIO_SIMULATED:+,$TWILIO_SIM_LISTEN,$TWILIO_SIM_CDN_LISTEN}
export MEDIA_ALLOW_PRIVATE=${MEDIA_ALLOW_PRIVATE:-0}
export MEDIA_ALLOWED_HOSTS=${MEDIA_ALLOWED_HOSTS:-api.twilio.com,.twiliocdn.com,s3-external-1.amazonaws.com,$wa_local_media_hosts${WA_MEDIA_EXTRA_HOSTS:+,$WA_MEDIA_EXTRA_HOSTS}}
export MEDIA_PRIVATE_HOSTS=${MEDIA_PRIVATE_HOSTS:-$wa_local_media_hosts}
export MEDIA_SPOOL_DIR=${MEDIA_SPOOL_DIR:-$WA_STATE/spool}
mkdir -p "$MEDIA_SPOOL_DIR"
# The bridge and ingress share this secret; a development value unless one is given.
export BAILEYS_WEBHOOK_SECRET=${BAILEYS_WEBHOOK_SECRET:-dev-bridge-secret-not-for-production}
export BRIDGE_LISTEN=${BRIDGE_LISTEN:-127.0.0.1:3001}
export INGRESS_URL=${INGRESS_URL:-$WA_SCHEME://${INGRESS_LISTEN}}
# The dashboard's replies go to the send API with its token.
export DASHBOARD_SEND_URL=${DASHBOARD_SEND_URL:-$INGRESS_URL/api/whatsapp/send}
export DASHBOARD_SEND_TOKEN=${DASHBOARD_SEND_TOKEN-$SEND_API_TOKEN}
export BAILEYS_OUTBOUND_URL=${BAILEYS_OUTBOUND_URL:-http://${BRIDGE_LISTEN}/send}
WA_LOG_DIR=$WA_STATE/log
WA_RUN_DIR=$WA_STATE/run
mkdir -p "$WA_LOG_DIR" "$WA_RUN_DIR"
