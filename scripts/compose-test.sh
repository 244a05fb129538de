#!/usr/bin/env bash
# compose-test.sh - proves docker-compose.yml runs: builds every image from debian:bookworm-slim,
# starts the whole deployment with the Twilio simulator and the loopback bridge (deploy/sim.env),
# two routers and two Twilio senders (--scale), behind the TLS proxy with a certificate from a
# local CA (scripts/tls.sh), checks it end to end through its published ports
# (tests/compose/smoke.mjs), then removes it with its volumes (docker-compose down -v).
#
# For machines like the CI ones here: no image registry (the base image is made with debootstrap
# and `docker import`), no bridge networking (deploy/compose.host.yml: every container on the host
# network, every service name 127.0.0.1), other stacks on the default ports (this one takes its
# own range, WA_COMPOSE_PORT_BASE + offsets; every port is checked free first). The range lies
# above the kernel's ephemeral ports (32768-60999): a listener there can fail to bind when an
# outgoing connection of any other program happens to hold the same local port.
# Starts dockerd when none answers, and stops it at the end only if it started it.
#
# WA_COMPOSE_NETWORK=bridge runs the shipped file as it is instead (its own network, published
# ports through docker-proxy; works with dockerd --bridge=none too: compose creates the network).
#
# WA_COMPOSE_KAFKA_NODES=3 (bridge network only) adds the profile kafka-cluster: three brokers,
# replication 3, min.insync.replicas 2, as deploy/kafka-cluster.env sets them.
#
# Environment: WA_COMPOSE_PORT_BASE (61000), WA_COMPOSE_NETWORK (host), WA_COMPOSE_KAFKA_NODES (1), WA_COMPOSE_KEEP=1 (leave the deployment up),
# WA_COMPOSE_TIMEOUT (300 s for the deployment to become healthy), WA_BASE_CACHE (the base
# image's rootfs tarball, /var/tmp/wa-compose/debian-bookworm-minbase.tar).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
STATE=$root/.local/compose-test
mkdir -p "$STATE"
BASE_IMAGE=debian:bookworm-slim
BASE_CACHE=${WA_BASE_CACHE:-/var/tmp/wa-compose/debian-bookworm-minbase.tar}
DEBIAN_MIRROR=${WA_DEBIAN_MIRROR:-http://deb.debian.org/debian}
PROJECT=wa-compose-test
NETWORK=${WA_COMPOSE_NETWORK:-host}
TIMEOUT=${WA_COMPOSE_TIMEOUT:-300}

log() { printf '[compose-test +%ss] %s\n' "$SECONDS" "$*" >&2; }
die() { printf '[compose-test] ERROR: %s\n' "$*" >&2; exit 1; }

case $NETWORK in host|bridge) ;; *) die "WA_COMPOSE_NETWORK: host or bridge, not '$NETWORK'" ;; esac
KAFKA_NODES=${WA_COMPOSE_KAFKA_NODES:-1}
case $NETWORK/$KAFKA_NODES in
    */1|bridge/3) ;;
    host/3) die "WA_COMPOSE_KAFKA_NODES=3 needs WA_COMPOSE_NETWORK=bridge (three brokers on one host network would share ports)" ;;
    *) die "WA_COMPOSE_KAFKA_NODES: 1 or 3, not '$KAFKA_NODES'" ;;
esac

[ "$(id -u)" -eq 0 ] || die "run as root (dockerd, debootstrap and the containers' volumes need it)"
for c in docker docker-compose dockerd debootstrap node ss curl python3; do
    command -v "$c" >/dev/null || die "missing command: $c; run make install (infra/stack.sh install)"
done

# ---- ports: a range of our own ------------------------------------------------------------
B=${WA_COMPOSE_PORT_BASE:-61000}
export S3_PORT=$((B + 0)) BRIDGE_PORT=$((B + 1)) TWILIO_SIM_PORT=$((B + 2)) TWILIO_SIM_CDN_PORT=$((B + 3))
export INGRESS_PORT=$((B + 80)) DASHBOARD_PORT=$((B + 90))
export KAFKA_PORT=$((B + 92)) KAFKA_CONTROLLER_PORT=$((B + 93))
export ROUTER_PORT=$((B + 101)) SENDER_TWILIO_PORT=$((B + 102)) SENDER_BAILEYS_PORT=$((B + 103))
export MEDIA_WORKER_PORT=$((B + 104)) POSTGRES_PORT=$((B + 432)) PROXY_PORT=$((B + 443))
PORTS=(S3_PORT BRIDGE_PORT TWILIO_SIM_PORT TWILIO_SIM_CDN_PORT INGRESS_PORT DASHBOARD_PORT KAFKA_PORT
       KAFKA_CONTROLLER_PORT ROUTER_PORT SENDER_TWILIO_PORT SENDER_BAILEYS_PORT MEDIA_WORKER_PORT
       POSTGRES_PORT PROXY_PORT)
# Instances of these run at once (on the host network their admin listeners take any free port:
# deploy/compose.host.yml).
SCALE=(--scale router=2 --scale sender-twilio=2)
# The values that name a port inside them (the compose file cannot nest defaults).
export KAFKA_BROKERS=kafka:$KAFKA_PORT
export KAFKA_QUORUM_VOTERS=1@kafka:$KAFKA_CONTROLLER_PORT
export BAILEYS_OUTBOUND_URL=http://baileys-bridge:$BRIDGE_PORT/send
wa_sim_media=twilio-sim:$TWILIO_SIM_PORT,twilio-sim:$TWILIO_SIM_CDN_PORT
export MEDIA_ALLOWED_HOSTS=api.twilio.com,.twiliocdn.com,baileys-bridge:$BRIDGE_PORT,$wa_sim_media
export MEDIA_PRIVATE_HOSTS=baileys-bridge:$BRIDGE_PORT,$wa_sim_media
export TWILIO_API_BASE=http://twilio-sim:$TWILIO_SIM_PORT
export TWILIO_CONTENT_URL=http://twilio-sim:$TWILIO_SIM_PORT
# The proxy's origin: Twilio's URL (every signature is checked against it) and the media links'.
# Its certificate (127.0.0.1, localhost) from a local CA the smoke trusts.
export PUBLIC_BASE_URL=https://127.0.0.1:$PROXY_PORT
PROXY_TLS_DIR=$(scripts/tls.sh "$STATE/tls") || die "scripts/tls.sh failed"
export PROXY_TLS_DIR PROXY_TLS_CERT=server.pem PROXY_TLS_KEY=server.key
# The simulator's status callbacks go through the proxy (it shares the host's loopback), but
# on the bridge network, where 127.0.0.1 is the simulator itself: there, to ingress directly.
if [ "$NETWORK" = bridge ]; then
    export TWILIO_SIM_CALLBACK_VIA=http://ingress:$INGRESS_PORT
else
    export TWILIO_SIM_CALLBACK_VIA=
fi
# deploy/sim.env's values, said again: the shell's environment wins over an env file, and real
# credentials exported there must not reach this test.
export COMPOSE_PROFILES=sim
export TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000
export TWILIO_AUTH_TOKEN=sim-auth-token-not-a-secret
export TWILIO_WA_FROM=whatsapp:+14155238886
export BAILEYS_LOOPBACK=1
export BAILEYS_WEBHOOK_SECRET=sim-bridge-secret-not-for-production
export SEND_API_TOKEN=sim-send-token-not-for-production
export DASHBOARD_TOKEN=sim-dashboard-token-not-for-production
if [ "$KAFKA_NODES" = 3 ]; then
    export COMPOSE_PROFILES=sim,kafka-cluster
    export KAFKA_QUORUM_VOTERS=1@kafka:$KAFKA_CONTROLLER_PORT,2@kafka-2:$KAFKA_CONTROLLER_PORT,3@kafka-3:$KAFKA_CONTROLLER_PORT
    export KAFKA_BROKERS=kafka:$KAFKA_PORT,kafka-2:$KAFKA_PORT,kafka-3:$KAFKA_PORT
    export KAFKA_REPLICATION_FACTOR=3 KAFKA_MIN_INSYNC_REPLICAS=2
fi
# A small broker: the machine is shared.
export KAFKA_HEAP_OPTS="-Xms256m -Xmx256m"

# The deployment runs from one resolved file: docker-compose.yml with deploy/compose.host.yml and
# deploy/sim.env, without `ports:` (docker-compose 1.29 refuses published ports on the host
# network, and an override cannot remove them) and without the unused network.
RESOLVED=$STATE/compose.resolved.yml
compose=(docker-compose -p "$PROJECT" -f "$RESOLVED")
resolve_compose() {
    if [ "$NETWORK" = bridge ]; then
        docker-compose -f docker-compose.yml --env-file deploy/sim.env config > "$RESOLVED" \
            || die "docker-compose config failed"
        return
    fi
    docker-compose -f docker-compose.yml -f deploy/compose.host.yml --env-file deploy/sim.env \
        config > "$RESOLVED.tmp" || die "docker-compose config failed"
    python3 - "$RESOLVED.tmp" "$RESOLVED" <<'PY' || die "could not strip the ports from $RESOLVED.tmp"
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
for service in doc.get('services', {}).values():
    service.pop('ports', None)
doc.pop('networks', None)
with open(sys.argv[2], 'w') as out:
    yaml.safe_dump(doc, out, sort_keys=False)
PY
    rm -f "$RESOLVED.tmp"
}

# ---- cleanup: the deployment, then dockerd if we started it -------------------------------
DOCKERD_PID=
COMPOSE_UP=
cleanup() {
    local rc=$?
    if [ -n "$COMPOSE_UP" ]; then
        if [ "$rc" -ne 0 ]; then
            log "failed: the deployment's state and last log lines"
            "${compose[@]}" ps >&2 || true
            "${compose[@]}" logs --no-color --tail=25 > "$STATE/compose.log" 2>&1 || true
            tail -n 150 "$STATE/compose.log" >&2 || true
            log "all logs: $STATE/compose.log"
        fi
        if [ -n "${WA_COMPOSE_KEEP:-}" ]; then
            log "WA_COMPOSE_KEEP: the deployment stays up (${compose[*]} down -v removes it)"
        else
            log "docker-compose down -v"
            "${compose[@]}" down -v --remove-orphans >> "$STATE/down.log" 2>&1 \
                || log "WARNING: docker-compose down failed; see $STATE/down.log"
        fi
    fi
    if [ -n "$DOCKERD_PID" ] && [ -z "${WA_COMPOSE_KEEP:-}" ]; then
        log "stopping the dockerd this run started (pid $DOCKERD_PID)"
        kill -TERM "$DOCKERD_PID" 2>/dev/null || true
        local _
        for _ in $(seq 60); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.5; done
        kill -0 "$DOCKERD_PID" 2>/dev/null && log "WARNING: dockerd $DOCKERD_PID still running"
    fi
    if [ "$rc" -eq 0 ]; then log "ok in ${SECONDS}s"; else log "FAILED (rc=$rc) after ${SECONDS}s"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- dockerd ------------------------------------------------------------------------------
if docker info >/dev/null 2>&1; then
    log "using the running Docker engine ($(docker version -f '{{.Server.Version}}' 2>/dev/null))"
else
    [ ! -S /var/run/docker.sock ] || [ ! -f /var/run/docker.pid ] \
        || die "/var/run/docker.sock exists but no engine answers on it; check $(cat /var/run/docker.pid)"
    log "starting dockerd (no bridge, no iptables: the containers use the host network)"
    setsid dockerd --bridge=none --iptables=false >> "$STATE/dockerd.log" 2>&1 < /dev/null &
    DOCKERD_PID=$!
    for _ in $(seq 120); do
        docker info >/dev/null 2>&1 && break
        kill -0 "$DOCKERD_PID" 2>/dev/null || { tail -n 20 "$STATE/dockerd.log" >&2; DOCKERD_PID=; die "dockerd exited; see $STATE/dockerd.log"; }
        sleep 0.5
    done
    docker info >/dev/null 2>&1 || die "dockerd did not answer in 60 s; see $STATE/dockerd.log"
    log "dockerd up (pid $DOCKERD_PID)"
fi

# Our project must not be running already (a WA_COMPOSE_KEEP run, or a run killed midway).
if [ -n "$(docker ps -q --filter "label=com.docker.compose.project=$PROJECT")" ]; then
    die "project $PROJECT is already running: ${compose[*]} down -v"
fi
for v in "${PORTS[@]}"; do
    if ss -Hltn "sport = :${!v}" | grep -q .; then
        die "port ${!v} ($v) is in use by another process; set WA_COMPOSE_PORT_BASE to a free range"
    fi
done

# ---- the base image -----------------------------------------------------------------------
if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    if [ ! -s "$BASE_CACHE" ]; then
        log "making $BASE_IMAGE: debootstrap --variant=minbase bookworm ($DEBIAN_MIRROR)"
        mkdir -p "$(dirname "$BASE_CACHE")"
        rootfs=$(mktemp -d /var/tmp/wa-rootfs.XXXXXX)
        debootstrap --variant=minbase bookworm "$rootfs" "$DEBIAN_MIRROR" > "$STATE/debootstrap.log" 2>&1 \
            || { rm -rf "$rootfs"; tail -n 20 "$STATE/debootstrap.log" >&2; die "debootstrap failed; see $STATE/debootstrap.log"; }
        # The sources the official image has: security fixes and point-release updates too.
        cat > "$rootfs/etc/apt/sources.list" <<EOF
deb $DEBIAN_MIRROR bookworm main
deb $DEBIAN_MIRROR bookworm-updates main
deb ${WA_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security} bookworm-security main
EOF
        # What the official slim image leaves out too: package lists and caches.
        rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
        tar -C "$rootfs" -cf "$BASE_CACHE.tmp" . && mv "$BASE_CACHE.tmp" "$BASE_CACHE"
        rm -rf "$rootfs"
    fi
    log "importing $BASE_IMAGE from $BASE_CACHE"
    docker import "$BASE_CACHE" "$BASE_IMAGE" >/dev/null
fi

# ---- the images, one at a time ------------------------------------------------------------
# Extra CAs of this host (a TLS-intercepting proxy) for the build stages: deploy/build-ca/.
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt deploy/build-ca/
fi
build() {
    local image=$1 file=$2 t0=$SECONDS
    docker build --network host -f "$file" -t "$image" . > "$STATE/build-${image%%:*}.log" 2>&1 \
        || { tail -n 30 "$STATE/build-${image%%:*}.log" >&2; die "building $image failed; see $STATE/build-${image%%:*}.log"; }
    log "built $image in $((SECONDS - t0))s"
}
build wa-broker-kafka:local deploy/kafka.Dockerfile
build wa-broker-postgres:local deploy/postgres.Dockerfile
build wa-broker-s3proxy:local deploy/s3proxy.Dockerfile
build wa-broker:local deploy/Dockerfile
build wa-broker-bridge:local baileys-bridge/Dockerfile
build wa-broker-twilio-sim:local deploy/twilio-sim.Dockerfile
build wa-broker-proxy:local deploy/proxy.Dockerfile

# ---- up -----------------------------------------------------------------------------------
scripts/node-deps.sh
resolve_compose
log "docker-compose up ${SCALE[*]} (project $PROJECT, $NETWORK network, ports $B..$((B + 443)))"
COMPOSE_UP=1
t0=$SECONDS
"${compose[@]}" up -d --no-build "${SCALE[@]}" > "$STATE/up.log" 2>&1 \
    || { tail -n 30 "$STATE/up.log" >&2; die "docker-compose up failed; see $STATE/up.log"; }
# Every long-running service healthy, every one-shot exited 0.
deadline=$((SECONDS + TIMEOUT))
while :; do
    waiting=()
    for id in $("${compose[@]}" ps -q); do
        read -r name status health code < <(docker inspect -f \
            '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}-{{end}} {{.State.ExitCode}}' "$id")
        name=${name#/}
        case $status/$health in
            running/healthy) ;;
            exited/-) [ "$code" = 0 ] || die "$name exited with $code" ;;
            exited/*|dead/*) die "$name stopped ($status, exit $code)" ;;
            *) waiting+=("$name:$status/$health") ;;
        esac
    done
    [ ${#waiting[@]} -gt 0 ] || break
    [ "$SECONDS" -lt "$deadline" ] || die "not healthy after ${TIMEOUT}s: ${waiting[*]}"
    sleep 2
done
for s in router sender-twilio; do
    n=$("${compose[@]}" ps -q "$s" | wc -l)
    [ "$n" = 2 ] || die "$s: $n instances running, 2 expected"
done
log "deployment healthy in $((SECONDS - t0))s (2 routers, 2 Twilio senders)"

# ---- the check ----------------------------------------------------------------------------
NODE_EXTRA_CA_CERTS=$PROXY_TLS_DIR/ca.pem DASHBOARD_URL=http://127.0.0.1:$DASHBOARD_PORT \
BRIDGE_URL=http://127.0.0.1:$BRIDGE_PORT TWILIO_SIM_URL=http://127.0.0.1:$TWILIO_SIM_PORT \
TWILIO_SIM_MEDIA_BASE=http://twilio-sim:$TWILIO_SIM_PORT TWILIO_SIM_CDN_BASE=http://twilio-sim:$TWILIO_SIM_CDN_PORT \
node tests/compose/smoke.mjs
