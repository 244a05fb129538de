#!/usr/bin/env bash
# services.sh - start, stop and inspect wa-broker's own processes on loopback.
#   scripts/services.sh start [NAME...]   start (those not already running), wait for /healthz
#   scripts/services.sh stop [NAME...]    SIGTERM, wait, SIGKILL after 15 s
#   scripts/services.sh kill9 NAME        simulate a crash (tests)
#   scripts/services.sh status
# A worker runs as several instances by name: router@2, sender-twilio@2, sender-baileys@2,
# media-worker@2 (its own admin port, 100 above the first instance's per instance; own pid and log).
# bridge@N is a second Baileys session, another channel (one bridge process per WhatsApp number):
# port 10 above the first per instance (100 would be far; 1 and 2 are the Twilio simulator's and
# its CDN's), state in $WA_STATE/bridge@N, and its own loopback number, +9725000000NN unless
# BAILEYS_LOOPBACK_SELF_N says otherwise. It is never started by default.
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
    bridge) echo BRIDGE_LISTEN ;;
    esac
}
# Ports between one instance and the next (scripts/env.sh allows bridge@2's address for media).
port_step() { if [ "$1" = bridge ]; then echo 10; else echo 100; fi; }
listen_of() {
    local i base var addr
    i=$(inst_of "$1")
    base=$(base_of "$1")
    var=$(listen_var "$base")
    addr=${!var}
    if [ "$i" -gt 1 ]; then echo "${addr%:*}:$((${addr##*:} + $(port_step "$base") * (i - 1)))"; else echo "$addr"; fi
}

health_url() {
    if [ "$(inst_of "$1")" -gt 1 ]; then
        if [ "$(base_of "$1")" = bridge ]; then echo "http://$(listen_of "$1")/health"; else echo "http://$(listen_of "$1")/healthz"; fi
        return
    fi
    case $1 in
    ingress) echo "$WA_SCHEME://$INGRESS_LISTEN/healthz" ;;
    router) echo "http://$ROUTER_LISTEN/healthz" ;;
    bridge) echo "http://$BRIDGE_LISTEN/health" ;;
    twilio-sim) echo "http://$TWILIO_SIM_LISTEN/sim/faults" ;;
    sender-twilio) echo "http://$SENDER_TWILIO_LISTEN/healthz" ;;
    sender-baileys) echo "http://$SENDER_BAILEYS_LISTEN/healthz" ;;
    media-worker) echo "http://$MEDIA_WORKER_LISTEN/healthz" ;;
    dashboard) echo "$WA_SCHEME://$DASHBOARD_LISTEN/healthz" ;;
    esac
}

# A bridge instance's settings, added to `extra` (not exported: `start bridge bridge@2` must not
# hand the first one's to the second). Each runs over a simulated WhatsApp unless told otherwise
# or a real session (from a scanned QR) exists in its own state directory.
bridge_env() {
    local name=$1 i dir loopback self_var public_var
    i=$(inst_of "$name")
    if [ "$i" -gt 1 ]; then dir=$WA_STATE/$name; else dir=${BRIDGE_STATE_DIR:-$WA_STATE/bridge}; fi
    loopback=${BAILEYS_LOOPBACK:-}
    if [ -z "$loopback" ]; then
        if [ -f "$dir/auth/creds.json" ]; then
            loopback=0
        else
            loopback=1
            echo "$name: no WhatsApp session in $dir/auth: running the LOOPBACK (simulated) WhatsApp;" \
                "set BAILEYS_LOOPBACK=0 to log in with a QR" >&2
        fi
    fi
    extra+=("BRIDGE_STATE_DIR=$dir" "BAILEYS_LOOPBACK=$loopback")
    [ "$i" -gt 1 ] || return 0
    # Another number: the simulated account is +9725000000NN (the first one's +972500000001).
    self_var=BAILEYS_LOOPBACK_SELF_$i
    extra+=("BAILEYS_LOOPBACK_SELF=${!self_var:-+9725$(printf %08d "$i")}")
    # Its media URLs must name its own address: the first one's BRIDGE_PUBLIC_URL would send
    # media-worker to the wrong session. BRIDGE_PUBLIC_URL_N sets one; else the listen address.
    public_var=BRIDGE_PUBLIC_URL_$i
    if [ -n "${!public_var:-}" ]; then extra+=("BRIDGE_PUBLIC_URL=${!public_var}"); else unset_env+=(-u BRIDGE_PUBLIC_URL); fi
}

command_of() {
    case $1 in
    bridge) echo "node $WA_ROOT/baileys-bridge/src/main.js" ;;
    twilio-sim) echo "node $WA_ROOT/sim/twilio/server.mjs" ;;
    *) echo "${WA_BIN_DIR:-$WA_ROOT/build/bin}/$1" ;; # WA_BIN_DIR: another build (benchmarks)
    esac
}

pid_of() {
    local f=$WA_RUN_DIR/$1.pid
    [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && cat "$f"
}

# The HTTP status of url ("000" or "" when nothing answers); an https one is checked against the
# local CA (WA_TLS=1, scripts/env.sh).
status_of() {
    local ca=()
    [ "${1#https:}" = "$1" ] || [ -z "${WA_TLS_CA:-}" ] || ca=(--cacert "$WA_TLS_CA")
    curl -s "${ca[@]}" -o /dev/null -w '%{http_code}' "$1" 2>/dev/null || true
}

start_one() {
    local name=$1 cmd
    if pid_of "$name" >/dev/null; then echo "$name: already running (pid $(pid_of "$name"))"; return; fi
    local extra=() unset_env=() base
    base=$(base_of "$name")
    if [ "$(inst_of "$name")" -gt 1 ]; then
        local var; var=$(listen_var "$base")
        [ -n "$var" ] || { echo "$name: only router, the senders, media-worker and bridge run as NAME@N" >&2; exit 64; }
        extra=("$var=$(listen_of "$name")")
    fi
    cmd=$(command_of "$base")
    local url code; url=$(health_url "$name")
    # Something else answering on our port would pass for us: refuse to start instead.
    code=$(status_of "$url")
    if [ -n "$code" ] && [ "$code" != 000 ]; then
        echo "$name: $url already answers, but not from a process this script started; stop it first" >&2
        exit 1
    fi
    [ "$base" = bridge ] && bridge_env "$name"
    [ "$base" = bridge ] || [ "$base" = twilio-sim ] || [ -x "$cmd" ] || { echo "$name: $cmd is missing: run 'make build'" >&2; exit 1; }
    # shellcheck disable=SC2086 # node services' command is "node path"
    nohup env "${unset_env[@]}" "${extra[@]}" $cmd >>"$WA_LOG_DIR/$name.log" 2>&1 &
    echo $! >"$WA_RUN_DIR/$name.pid"
    for _ in $(seq 100); do
        # Any HTTP answer means it listens: the bridge says 503 until WhatsApp is connected.
        code=$(status_of "$url")
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

# NAME@N instances this script started and has a pid file for (running or not).
instances() {
    local f
    for f in "$WA_RUN_DIR"/*@*.pid; do [ -e "$f" ] && basename "$f" .pid; done
    return 0
}

cmd=${1:-status}
shift || true
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    # The instances a test or an operator started go with the rest (never started by default).
    mapfile -t extra_instances < <(instances)
    names=("${ALL[@]}")
    [ "$cmd" = start ] || names+=("${extra_instances[@]}")
    # Stop in reverse order of start, and stop a simulator left from another setting.
    if [ "$cmd" = stop ]; then names=("${extra_instances[@]}" dashboard media-worker sender-baileys sender-twilio twilio-sim bridge router ingress); fi
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
