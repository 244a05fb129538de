#!/usr/bin/env bash
# services.sh - start, stop and inspect wa-broker's own processes on loopback.
#   scripts/services.sh start [NAME...]   start (those not already running), wait for /healthz
#   scripts/services.sh stop [NAME...]    SIGTERM, wait, SIGKILL after 15 s
#   scripts/services.sh kill9 NAME        simulate a crash (tests)
#   scripts/services.sh status
# A worker runs as several instances by name: router@2, sender-twilio@2, sender-baileys@2,
# media-worker@2 (its own admin port, 100 above the first instance's per instance; own pid and log).
set -euo pipefail
source "$(dirname "$0")/env.sh"
ALL=(ingress router bridge sender-twilio sender-baileys media-worker dashboard)
# Without real Twilio credentials, the simulator stands in for api.twilio.com.
[ -n "${WA_TWILIO_SIMULATED:-}" ] && ALL=(ingress router bridge twilio-sim sender-twilio sender-baileys media-worker dashboard)

# NAME@N: the base name, the instance number (1 without @), and the variable of its admin address.
base_of() { echo "${1%@*}"; }
inst_of() { case $1 in *@*) echo "${1##*@}" ;; *) echo 1 ;; esac; }
listen_var() {
    case $1 in
    router) echo ROUTER_LISTEN ;;
    sender-twilio) echo SENDER_TWILIO_LISTEN ;;
    sender-baileys) echo SENDER_BAILEYS_LISTEN ;;
    media-worker) echo MEDIA_WORKER_LISTEN ;;
    esac
}
listen_of() {
    local i var addr
    i=$(inst_of "$1")
    var=$(listen_var "$(base_of "$1")")
    addr=${!var}
    if [ "$i" -gt 1 ]; then echo "${addr%:*}:$((${addr##*:} + 100 * (i - 1)))"; else echo "$addr"; fi
}

health_url() {
    if [ "$(inst_of "$1")" -gt 1 ]; then echo "http://$(listen_of "$1")/healthz"; return; fi
    case $1 in
    ingress) echo "http://$INGRESS_LISTEN/healthz" ;;
    router) echo "http://$ROUTER_LISTEN/healthz" ;;
    bridge) echo "http://$BRIDGE_LISTEN/health" ;;
    twilio-sim) echo "http://$TWILIO_SIM_LISTEN/sim/faults" ;;
    sender-twilio) echo "http://$SENDER_TWILIO_LISTEN/healthz" ;;
    sender-baileys) echo "http://$SENDER_BAILEYS_LISTEN/healthz" ;;
    media-worker) echo "http://$MEDIA_WORKER_LISTEN/healthz" ;;
    dashboard) echo "http://$DASHBOARD_LISTEN/healthz" ;;
    esac
}

# The bridge runs over a simulated WhatsApp unless told otherwise or a real
# session (from a scanned QR) exists in its state directory.
bridge_env() {
    export BRIDGE_STATE_DIR=${BRIDGE_STATE_DIR:-$WA_STATE/bridge}
    if [ -z "${BAILEYS_LOOPBACK:-}" ]; then
        if [ -f "$BRIDGE_STATE_DIR/auth/creds.json" ]; then
            export BAILEYS_LOOPBACK=0
        else
            export BAILEYS_LOOPBACK=1
            echo "bridge: no WhatsApp session in $BRIDGE_STATE_DIR/auth: running the LOOPBACK (simulated) WhatsApp;" \
                "set BAILEYS_LOOPBACK=0 to log in with a QR" >&2
        fi
    fi
}

command_of() {
    case $1 in
    bridge) echo "node $WA_ROOT/baileys-bridge/src/main.js" ;;
    twilio-sim) echo "node $WA_ROOT/sim/twilio/server.mjs" ;;
    *) echo "$WA_ROOT/build/bin/$1" ;;
    esac
}

pid_of() {
    local f=$WA_RUN_DIR/$1.pid
    [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && cat "$f"
}

start_one() {
    local name=$1 cmd
    if pid_of "$name" >/dev/null; then echo "$name: already running (pid $(pid_of "$name"))"; return; fi
    local extra=()
    if [ "$(inst_of "$name")" -gt 1 ]; then
        local var; var=$(listen_var "$(base_of "$name")")
        [ -n "$var" ] || { echo "$name: only router, the senders and media-worker run as NAME@N" >&2; exit 64; }
        extra=("$var=$(listen_of "$name")")
    fi
    cmd=$(command_of "$(base_of "$name")")
    local url code; url=$(health_url "$name")
    # Something else answering on our port would pass for us: refuse to start instead.
    code=$(curl -s -o /dev/null -w '%{http_code}' "$url" 2>/dev/null || true)
    if [ -n "$code" ] && [ "$code" != 000 ]; then
        echo "$name: $url already answers, but not from a process this script started; stop it first" >&2
        exit 1
    fi
    [ "$name" = bridge ] && bridge_env
    [ "$name" = bridge ] || [ "$name" = twilio-sim ] || [ -x "$cmd" ] || { echo "$name: $cmd is missing: run 'make build'" >&2; exit 1; }
    # shellcheck disable=SC2086 # node services' command is "node path"
    nohup env "${extra[@]}" $cmd >>"$WA_LOG_DIR/$name.log" 2>&1 &
    echo $! >"$WA_RUN_DIR/$name.pid"
    for _ in $(seq 100); do
        # Any HTTP answer means it listens: the bridge says 503 until WhatsApp is connected.
        code=$(curl -s -o /dev/null -w '%{http_code}' "$url" 2>/dev/null || true)
        if [ "$code" != 000 ] && [ -n "$code" ]; then echo "$name: up (pid $!, log $WA_LOG_DIR/$name.log)"; return; fi
        if ! kill -0 "$(cat "$WA_RUN_DIR/$name.pid")" 2>/dev/null; then
            echo "$name: exited at start; last log lines:" >&2
            tail -n 15 "$WA_LOG_DIR/$name.log" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "$name: no answer on $url after 10 s; see $WA_LOG_DIR/$name.log" >&2
    exit 1
}

stop_one() {
    local name=$1 pid
    pid=$(pid_of "$name") || { rm -f "$WA_RUN_DIR/$name.pid"; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        echo "$name: did not stop in 15 s; killing" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$WA_RUN_DIR/$name.pid"
    echo "$name: stopped"
}

cmd=${1:-status}
shift || true
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    names=("${ALL[@]}")
    # Stop in reverse order of start, and stop a simulator left from another setting.
    if [ "$cmd" = stop ]; then names=(dashboard media-worker sender-baileys sender-twilio twilio-sim bridge router ingress); fi
fi
case $cmd in
start) for n in "${names[@]}"; do start_one "$n"; done ;;
stop) for n in "${names[@]}"; do stop_one "$n"; done ;;
kill9)
    for n in "${names[@]}"; do
        if pid=$(pid_of "$n"); then
            kill -KILL "$pid"
            # SIGKILL is delivered asynchronously: wait until the process is really gone.
            for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
            rm -f "$WA_RUN_DIR/$n.pid"
            echo "$n: killed (-9)"
        fi
    done
    ;;
status)
    for n in "${names[@]}"; do
        if pid=$(pid_of "$n"); then echo "$n: running pid=$pid health=$(health_url "$n") log=$WA_LOG_DIR/$n.log"
        else echo "$n: stopped log=$WA_LOG_DIR/$n.log"; fi
    done
    ;;
*) echo "usage: services.sh start|stop|kill9|status [NAME...]" >&2; exit 64 ;;
esac
