#!/usr/bin/env bash
# Local infrastructure for wa-broker without Docker: PostgreSQL (Debian's
# server binaries), Apache Kafka in KRaft mode and S3Proxy (both run from
# Maven Central jars with the system JDK). Everything listens on loopback
# only and keeps its data under $STATE, so the stack can be wiped with
# `reset` without touching the rest of the machine.
#
# Usage: infra/stack.sh install|up|down|status|kafka-stop|kafka-start|kafka-kill9|
#        kafka-describe|pg-stop|pg-start|pg-freeze|pg-thaw|reset
# WA_KAFKA_NODES=3 runs Kafka as a three-node cluster instead of one broker.
# See infra/README.md for details and what was verified.
set -euo pipefail

INFRA_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT_DIR=$(dirname "$INFRA_DIR")

# Absolute, because it ends up in config files and is used after cd.
STATE=$(realpath -m "${WA_STATE:-$ROOT_DIR/.local}")
LOG_DIR=$STATE/log

PG_PORT=${WA_PG_PORT:-55432}
KAFKA_PORT=${WA_KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${WA_KAFKA_CONTROLLER_PORT:-9093}
S3_PORT=${WA_S3_PORT:-9000}
# How long to wait for one service to become ready (or to stop) before
# giving up. Cold JVM starts on 2 cores take a few seconds; 90 s leaves room
# for a loaded CI machine.
TIMEOUT=${WA_TIMEOUT:-90}

PG_BIN=${WA_PG_BIN:-/usr/lib/postgresql/15/bin}
# Postgres refuses to run as root, so as root the cluster belongs to this
# system user.
PG_OS_USER=wabroker

S3_IDENTITY=local-identity
S3_CREDENTIAL=local-credential
S3_REGION=us-east-1
S3_BUCKET=wa-media

JAVA=${JAVA:-java}
KAFKA_JARS=$INFRA_DIR/kafka/target/dependency
S3PROXY_JARS=$INFRA_DIR/s3proxy/target/dependency
# Kafka's own scripts use 1 GiB; 512 MiB is plenty for a test broker and
# leaves memory for the rest of the stack. Each node of a local cluster gets
# 256 MiB (kafka_heap_opts).
KAFKA_HEAP_OPTS=${WA_KAFKA_HEAP_OPTS:-}
S3PROXY_HEAP_OPTS=${WA_S3PROXY_HEAP_OPTS:--Xmx256m}
# Short-lived admin tools: C1 only and the serial GC start ~25% faster.
TOOL_JAVA_OPTS=(-Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC
    -Dwa.log.level=warn "-Dlog4j2.configurationFile=$INFRA_DIR/kafka/log4j2.properties")

# name:partitions[:config,...]
KAFKA_TOPICS=(
    wa.inbound:6 wa.status:6 wa.outbound:6 wa.send.twilio:6 wa.send.baileys:6
    wa.media:6 wa.error:6 wa.events:6
    wa.provider:1:cleanup.policy=compact
)

APT_PACKAGES=(build-essential pkg-config librdkafka-dev libmicrohttpd-dev
    libpq-dev libjansson-dev libcurl4-openssl-dev libssl-dev libcmocka-dev
    postgresql kcat clang libclang-rt-14-dev clang-format wrk docker-compose curl jq iproute2 bc
    sysstat openssl
    openjdk-17-jre-headless maven nodejs npm chromium
    docker.io debootstrap)

# ---------------------------------------------------------------------------
# helpers

# Elapsed seconds in every line make slow steps obvious.
log() { printf '[stack +%ss] %s\n' "$SECONDS" "$*" >&2; }
die() { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }

now() { date +%s; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# Run a command as the owner of the Postgres cluster. From / because the
# caller's directory (e.g. /root) may be unreadable for that user.
as_pg() {
    if is_root; then (cd / && runuser -u "$PG_OS_USER" -- "$@"); else "$@"; fi
}

# A pid counts as ours only if it is alive and its command line contains
# the marker: pid files survive reboots and pids get reused.
pid_matches() {
    local pid=$1 marker=$2
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "$marker"
}

read_pid() {
    if [ -f "$1" ]; then head -n1 "$1" | tr -dc '0-9'; fi
}

port_in_use() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

# Fail early with a useful message instead of letting a JVM die on bind().
ensure_port_free() {
    local port=$1 what=$2
    if port_in_use "$port"; then
        die "port $port (for $what) is already in use by another process; stop it or set the matching WA_*_PORT"
    fi
}

# wait_for DESCRIPTION LOGFILE PID MARKER CHECK-COMMAND...
# Polls CHECK-COMMAND until it succeeds; fails at once if the process dies.
wait_for() {
    local what=$1 logfile=$2 pid=$3 marker=$4; shift 4
    local deadline=$(( $(now) + TIMEOUT ))
    until "$@" >/dev/null 2>&1; do
        if ! pid_matches "$pid" "$marker"; then
            tail -n 20 "$logfile" >&2 || true
            die "$what exited during startup; see $logfile"
        fi
        if [ "$(now)" -ge "$deadline" ]; then
            tail -n 20 "$logfile" >&2 || true
            die "$what not ready after ${TIMEOUT}s; see $logfile"
        fi
        sleep 0.5
    done
}

# stop_pid NAME PIDFILE MARKER SIGNAL [ESCALATION-SIGNAL]
# Sends SIGNAL, waits up to $TIMEOUT, then the escalation signal (default
# none), then SIGKILL.
stop_pid() {
    local name=$1 pidfile=$2 marker=$3 sig=$4 esc=${5:-}
    local pid; pid=$(read_pid "$pidfile")
    if ! pid_matches "$pid" "$marker"; then
        rm -f "$pidfile"
        log "$name: not running"
        return 0
    fi
    log "$name: stopping (pid $pid, SIG$sig)"
    kill -s "$sig" "$pid" 2>/dev/null || true
    local deadline=$(( $(now) + TIMEOUT ))
    while pid_matches "$pid" "$marker"; do
        if [ "$(now)" -ge "$deadline" ]; then
            if [ -n "$esc" ]; then
                log "$name: still running after ${TIMEOUT}s, sending SIG$esc"
                kill -s "$esc" "$pid" 2>/dev/null || true
                esc=
                deadline=$(( $(now) + 10 ))
            else
                log "$name: still running, sending SIGKILL"
                kill -s KILL "$pid" 2>/dev/null || true
                sleep 1
                break
            fi
        fi
        sleep 0.2
    done
    rm -f "$pidfile"
    log "$name: stopped"
}

# Start a JVM detached from this shell (own session, no terminal) so it
# survives the script and the terminal; the inner shell writes its own pid,
# which exec hands to java, so the pid file is right even if setsid forks.
spawn_java() {
    local pidfile=$1 logfile=$2; shift 2
    rm -f "$pidfile"
    printf '\n===== %s: %s\n' "$(date -Is)" "starting" >> "$logfile"
    # shellcheck disable=SC2016 # $$ and $@ belong to the inner shell
    setsid bash -c 'echo $$ > "$0"; exec "$@"' "$pidfile" "$@" \
        >> "$logfile" 2>&1 < /dev/null &
    local _
    for _ in $(seq 50); do [ -s "$pidfile" ] && break; sleep 0.1; done
    [ -s "$pidfile" ] || die "could not start $*; see $logfile"
}

require() {
    local missing=() c
    for c in "$@"; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
    [ ${#missing[@]} -eq 0 ] || die "missing commands: ${missing[*]}; run infra/stack.sh install"
}

# ---------------------------------------------------------------------------
# install

apt_missing() {
    local p missing=()
    for p in "${APT_PACKAGES[@]}"; do
        # These may come from elsewhere (nodesource, a JDK tarball, sdkman):
        # a working command is good enough.
        case $p in
            nodejs) command -v node >/dev/null && continue ;;
            npm) command -v npm >/dev/null && continue ;;
            openjdk-17-jre-headless) command -v java >/dev/null && continue ;;
            maven) command -v mvn >/dev/null && continue ;;
            # An engine from Docker's own packages (docker-ce) would clash with docker.io's
            # files; any dockerd will do (scripts/compose-test.sh). The docker CLI is not
            # checked: a newer one in /usr/local/bin stays first on PATH and talks to this
            # engine at its older API version.
            docker.io) command -v dockerd >/dev/null && continue ;;
        esac
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$p")
    done
    echo "${missing[@]:-}"
}

install_apt() {
    local missing; missing=$(apt_missing)
    if [ -z "$missing" ]; then
        log "apt: all packages present"
        return 0
    fi
    local sudo=()
    if ! is_root; then
        command -v sudo >/dev/null || die "need root (or sudo) to install: $missing"
        sudo=(sudo)
    fi
    log "apt: installing $missing"
    # Wait for a concurrent apt/dpkg run instead of failing on its lock.
    local lock=(-o DPkg::Lock::Timeout=600)
    "${sudo[@]}" apt-get "${lock[@]}" update -q
    # shellcheck disable=SC2086 # word splitting of the package list is wanted
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get "${lock[@]}" install -y -q --no-install-recommends $missing
}

# Copy a POM's runtime dependencies into target/dependency. A stamp holding
# the POM's checksum makes this a no-op until the POM changes; the folder is
# emptied first so an old version's jars never stay on the classpath.
fetch_jars() {
    local dir=$1 name=$2
    local stamp=$dir/target/dependency/.pom.sha256
    local sum; sum=$(sha256sum "$dir/pom.xml" | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then
        return 0
    fi
    require mvn
    log "maven: fetching $name jars (first time takes a minute or two)"
    rm -rf "$dir/target/dependency"
    # Maven 3.8 prints stray ANSI resets even in batch mode; strip them.
    mvn -B -q -f "$dir/pom.xml" dependency:copy-dependencies -DincludeScope=runtime 2>&1 \
        | sed 's/\x1b\[0m//g' >&2 \
        || die "maven could not fetch $name jars (see output above)"
    echo "$sum" > "$stamp"
}

fetch_all_jars() {
    fetch_jars "$INFRA_DIR/kafka" kafka
    fetch_jars "$INFRA_DIR/s3proxy" s3proxy
}

cmd_install() {
    install_apt
    fetch_all_jars
    log "install: done"
}

# ---------------------------------------------------------------------------
# PostgreSQL

PG_DATA=$STATE/pg
# Unix socket outside the data dir and away from Debian's
# /var/run/postgresql, which our user cannot write to.
PG_SOCK=$STATE/pg-sock
PG_PIDFILE=$STATE/postgres.pid
PG_LOG=$LOG_DIR/postgres.log
PG_MARKER="$PG_BIN/postgres"

pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -d postgres; }

pg_running() {
    local pid; pid=$(read_pid "$PG_DATA/postmaster.pid" 2>/dev/null || true)
    pid_matches "$pid" "$PG_MARKER"
}

ensure_pg_user() {
    is_root || return 0
    id -u "$PG_OS_USER" >/dev/null 2>&1 && return 0
    log "postgres: creating system user $PG_OS_USER"
    useradd --system --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin "$PG_OS_USER"
}

pg_init() {
    [ -f "$PG_DATA/PG_VERSION" ] && return 0
    log "postgres: initdb in $PG_DATA"
    mkdir -p "$PG_DATA" "$PG_SOCK"
    if is_root; then chown "$PG_OS_USER:" "$PG_DATA" "$PG_SOCK"; fi
    chmod 700 "$PG_DATA"
    as_pg test -w "$PG_DATA" \
        || die "$PG_OS_USER cannot write $PG_DATA (a parent directory is not traversable?); set WA_STATE elsewhere"
    # peer auth on the socket for setup by the cluster owner; passwords
    # (scram) for everyone over TCP, as the app connects.
    as_pg "$PG_BIN/initdb" -D "$PG_DATA" -E UTF8 \
        --locale=C.UTF-8 --auth-local=peer --auth-host=scram-sha-256 \
        >> "$PG_LOG" 2>&1 || die "initdb failed; see $PG_LOG"
    # postgresql.auto.conf is where ALTER SYSTEM writes; using it keeps the
    # generated postgresql.conf pristine. Ports go on the command line
    # instead, so WA_PG_PORT can change between runs.
    as_pg tee -a "$PG_DATA/postgresql.auto.conf" > /dev/null <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PG_SOCK'
# Durable defaults (fsync, synchronous_commit on), as in production: a commit
# the router reports is on disk, and the benchmarks measure the real cost.
EOF
}

pg_bootstrap_db() {
    # Idempotent: role and database are created only when missing.
    as_pg "$PG_BIN/psql" -q -X -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -d postgres \
        >> "$PG_LOG" 2>&1 <<'EOF' || die "creating role/database wa failed; see $PG_LOG"
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'wa') THEN
    CREATE ROLE wa LOGIN PASSWORD 'wa';
  END IF;
END $$;
SELECT 'CREATE DATABASE wa OWNER wa' WHERE NOT EXISTS
  (SELECT FROM pg_database WHERE datname = 'wa')\gexec
EOF
    # Prove the URL the app will use actually works (TCP + password).
    "$PG_BIN/psql" -q -X -tA "postgresql://wa:wa@127.0.0.1:$PG_PORT/wa" -c 'select 1' >/dev/null \
        || die "cannot log in as wa over TCP; see $PG_LOG"
}

pg_start() {
    ensure_pg_user
    pg_init
    if pg_running; then
        read_pid "$PG_DATA/postmaster.pid" > "$PG_PIDFILE"
        local pid; pid=$(read_pid "$PG_PIDFILE")
        wait_for "postgres" "$PG_LOG" "$pid" "$PG_MARKER" pg_ready
        log "postgres: already running (pid $pid)"
    else
        ensure_port_free "$PG_PORT" postgres
        log "postgres: starting on 127.0.0.1:$PG_PORT"
        printf '\n===== %s: %s\n' "$(date -Is)" "starting" >> "$PG_LOG"
        # pg_ctl -w waits until the server accepts connections; the server
        # inherits this shell's redirect, so the log file may stay root's.
        as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -w -t "$TIMEOUT" \
            -o "-p $PG_PORT" start >> "$PG_LOG" 2>&1 \
            || { tail -n 20 "$PG_LOG" >&2; die "postgres did not start; see $PG_LOG"; }
        read_pid "$PG_DATA/postmaster.pid" > "$PG_PIDFILE"
        wait_for "postgres" "$PG_LOG" "$(read_pid "$PG_PIDFILE")" "$PG_MARKER" pg_ready
    fi
    pg_bootstrap_db
}

pg_stop() {
    # SIGINT = "fast" shutdown. SIGTERM would be "smart" shutdown, which
    # waits for every client (e.g. a running router) to disconnect. SIGQUIT
    # (immediate) comes before SIGKILL: killing only the postmaster would
    # leave its backends holding the shared memory and block a restart.
    if [ -f "$PG_DATA/postmaster.pid" ]; then
        read_pid "$PG_DATA/postmaster.pid" > "$PG_PIDFILE"
    fi
    stop_pid postgres "$PG_PIDFILE" "$PG_MARKER" INT QUIT
}

# pg-freeze / pg-thaw: SIGSTOP / SIGCONT to the postmaster and every backend, so the server
# accepts connections and queries but never answers: a stalled database, for the tests.
pg_signal_all() {
    local sig=$1 pid
    pid=$(read_pid "$PG_DATA/postmaster.pid" 2>/dev/null || true)
    pid_matches "$pid" "$PG_MARKER" || die "postgres is not running"
    kill -s "$sig" "$pid"
    pkill --signal "$sig" -P "$pid" 2>/dev/null || true
    log "postgres: SIG$sig sent to $pid and its backends"
}

# ---------------------------------------------------------------------------
# Kafka: one broker (WA_KAFKA_NODES=1, the default) or a cluster of KRaft
# nodes, each broker and controller at once. One node keeps the layout it
# always had ($STATE/kafka, kafka.pid, log/kafka.log); node N of a cluster
# lives in $STATE/kafka/nodeN, kafka-N.pid, log/kafka-N.log, and listens on
# the base ports plus 100·(N-1), so a port set (WA_KAFKA_PORT=29092) gives
# its cluster 29092, 29192, 29292 and never meets another set's.

KAFKA_DIR=$STATE/kafka
KAFKA_PORT_STEP=100

# How many nodes this $STATE's Kafka was formatted with; empty before the
# first `up`. A state directory keeps its count: a one-node metadata log
# cannot become a three-voter quorum.
kafka_recorded_nodes() {
    if [ -s "$KAFKA_DIR/nodes" ]; then
        tr -dc '0-9' < "$KAFKA_DIR/nodes"
    elif [ -f "$KAFKA_DIR/data/meta.properties" ]; then
        echo 1
    fi
}
KAFKA_NODES_RECORDED=$(kafka_recorded_nodes)
# What is on disk wins, so `down` and `status` need no WA_KAFKA_NODES.
KAFKA_NODES=${KAFKA_NODES_RECORDED:-${WA_KAFKA_NODES:-1}}

is_count() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }

# Checked at once: every port and path below is computed from it.
if ! is_count "$KAFKA_NODES" || [ "$KAFKA_NODES" -gt 9 ]; then
    die "WA_KAFKA_NODES must be a number of brokers from 1 to 9, got '$KAFKA_NODES'"
fi

# Replication defaults follow the cluster: 1/1 on one broker, 3/2 from three
# brokers on (acks=all then survives one broker lost; docs/architecture.md §2.1).
kafka_default_rf() { if [ "$KAFKA_NODES" -ge 3 ]; then echo 3; else echo "$KAFKA_NODES"; fi; }
kafka_default_min_isr() { local rf; rf=$(kafka_default_rf); echo $(( rf > 1 ? rf - 1 : 1 )); }

# One line per problem, then exit: all of them are seen at once.
kafka_validate() {
    local errs=()
    if [ -n "${WA_KAFKA_NODES:-}" ] && [ -n "$KAFKA_NODES_RECORDED" ] \
        && [ "$WA_KAFKA_NODES" != "$KAFKA_NODES_RECORDED" ]; then
        errs+=("WA_KAFKA_NODES=$WA_KAFKA_NODES, but $KAFKA_DIR holds a $KAFKA_NODES_RECORDED-node Kafka: use another WA_STATE, or \`reset\` this one")
    fi
    KAFKA_RF=${KAFKA_REPLICATION_FACTOR:-$(kafka_default_rf)}
    KAFKA_MIN_ISR=${KAFKA_MIN_INSYNC_REPLICAS:-$(kafka_default_min_isr)}
    local rf_ok=1
    if ! is_count "$KAFKA_RF" || [ "$KAFKA_RF" -gt "$KAFKA_NODES" ]; then
        errs+=("KAFKA_REPLICATION_FACTOR must be from 1 to the number of brokers ($KAFKA_NODES), got '$KAFKA_RF'")
        rf_ok=
    fi
    if ! is_count "$KAFKA_MIN_ISR" || { [ -n "$rf_ok" ] && [ "$KAFKA_MIN_ISR" -gt "$KAFKA_RF" ]; }; then
        errs+=("KAFKA_MIN_INSYNC_REPLICAS must be from 1 to KAFKA_REPLICATION_FACTOR${rf_ok:+ ($KAFKA_RF)}, got '$KAFKA_MIN_ISR'")
    fi
    [ ${#errs[@]} -eq 0 ] && return 0
    printf '[stack] ERROR: %s\n' "${errs[@]}" >&2
    exit 1
}

kafka_nodes() { seq 1 "$KAFKA_NODES"; }
node_port() { echo $(( KAFKA_PORT + KAFKA_PORT_STEP * ($1 - 1) )); }
node_controller_port() { echo $(( KAFKA_CONTROLLER_PORT + KAFKA_PORT_STEP * ($1 - 1) )); }
single() { [ "$KAFKA_NODES" -eq 1 ]; }
node_dir() { if single; then echo "$KAFKA_DIR"; else echo "$KAFKA_DIR/node$1"; fi; }
node_conf() { echo "$(node_dir "$1")/server.properties"; }
node_name() { if single; then echo kafka; else echo "kafka-$1"; fi; }
node_pidfile() { echo "$STATE/$(node_name "$1").pid"; }
node_log() { echo "$LOG_DIR/$(node_name "$1").log"; }
# The config path tells the nodes apart, and a leftover pid of another
# program never matches it.
node_marker() { echo "kafka.Kafka $(node_conf "$1")"; }

kafka_heap_opts() {
    if [ -n "$KAFKA_HEAP_OPTS" ]; then echo "$KAFKA_HEAP_OPTS"
    elif single; then echo "-Xms512m -Xmx512m"
    else echo "-Xms256m -Xmx256m"; fi
}

kafka_join() { local IFS=,; echo "$*"; }
kafka_bootstrap() {
    local i addrs=()
    for i in $(kafka_nodes); do addrs+=("127.0.0.1:$(node_port "$i")"); done
    kafka_join "${addrs[@]}"
}
kafka_voters() {
    local i voters=()
    for i in $(kafka_nodes); do voters+=("$i@127.0.0.1:$(node_controller_port "$i")"); done
    kafka_join "${voters[@]}"
}

KAFKA_BOOTSTRAP=$(kafka_bootstrap)
# Where `up` writes what failed before a node has a log of its own.
KAFKA_LOG=$(node_log 1)

# Class-data-sharing archive for the admin tools: the first tool run dumps
# the classes it loaded, later runs map them and start in half the time
# (~0.65 s instead of ~1.35 s on 2 cores). It lives next to the jars, so a
# re-fetch drops it; a stale one is ignored by the JVM.
TOOLS_JSA=$KAFKA_JARS/.tools.jsa

kafka_java() { "$JAVA" "${TOOL_JAVA_OPTS[@]}" -cp "$KAFKA_JARS/*" "$@"; }

# Only TopicCommand uses the archive: a StorageTool run would fill it with
# the wrong classes.
kafka_topic_cmd() {
    local cds tmp=
    if [ -f "$TOOLS_JSA" ]; then
        cds=(-XX:SharedArchiveFile="$TOOLS_JSA")
    else
        # Dump under a private name and rename, so a concurrent run never
        # maps a half-written archive.
        tmp=$TOOLS_JSA.$BASHPID
        cds=(-XX:ArchiveClassesAtExit="$tmp")
    fi
    local rc=0
    "$JAVA" "${cds[@]}" -Xlog:cds=off -Xlog:cds+dynamic=off "${TOOL_JAVA_OPTS[@]}" \
        -cp "$KAFKA_JARS/*" org.apache.kafka.tools.TopicCommand "$@" || rc=$?
    if [ -n "$tmp" ]; then
        if [ -s "$tmp" ]; then mv -f "$tmp" "$TOOLS_JSA"; else rm -f "$tmp"; fi
    fi
    return "$rc"
}

# Metadata from the node itself, naming it: its listener answers only once
# it has registered with the controller quorum and is not fenced.
kafka_node_ready() {
    kcat -b "127.0.0.1:$(node_port "$1")" -L -m 3 -J 2>/dev/null \
        | jq -e --argjson id "$1" 'any(.brokers[]; .id == $id)' >/dev/null
}

kafka_node_running() { pid_matches "$(read_pid "$(node_pidfile "$1")")" "$(node_marker "$1")"; }

kafka_render_config() {
    local i=$1
    mkdir -p "$(node_dir "$i")"
    sed -e "s#@NODE_ID@#$i#g" -e "s#@VOTERS@#$(kafka_voters)#g" \
        -e "s#@KAFKA_PORT@#$(node_port "$i")#g" \
        -e "s#@CONTROLLER_PORT@#$(node_controller_port "$i")#g" \
        -e "s#@LOG_DIR@#$(node_dir "$i")/data#g" \
        -e "s#@REPLICATION_FACTOR@#$KAFKA_RF#g" -e "s#@MIN_INSYNC@#$KAFKA_MIN_ISR#g" \
        "$INFRA_DIR/kafka/server.properties.in" > "$(node_conf "$i")"
}

# Every node's storage is formatted once with the cluster's one id, so data
# survives every later restart.
kafka_format() {
    local i=$1
    [ -f "$(node_dir "$i")/data/meta.properties" ] && return 0
    local cid
    mkdir -p "$KAFKA_DIR"
    if [ -s "$KAFKA_DIR/cluster.id" ]; then
        cid=$(cat "$KAFKA_DIR/cluster.id")
    else
        # Same format as `StorageTool random-uuid` (16 random bytes,
        # URL-safe base64, no padding) without paying for a JVM start. Like
        # Kafka's own Uuid.randomUuid, it never begins with '-' (1 draw in
        # 64 would), which a tool's argument parser takes for an option.
        cid=-
        while [[ $cid == -* ]]; do
            cid=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
        done
        echo "$cid" > "$KAFKA_DIR/cluster.id"
    fi
    echo "$KAFKA_NODES" > "$KAFKA_DIR/nodes"
    log "$(node_name "$i"): formatting storage (cluster id $cid)"
    # --cluster-id=ID, one word: a stored id that begins with '-' (drawn
    # before the loop above) still reads as the option's value.
    kafka_java kafka.tools.StorageTool format "--cluster-id=$cid" -c "$(node_conf "$i")" \
        --ignore-formatted >> "$(node_log "$i")" 2>&1 \
        || die "StorageTool format failed; see $(node_log "$i")"
}

# Start one node without waiting for it (so `up` can start the others
# meanwhile; a cluster's nodes wait for each other's votes); kafka_wait
# blocks until it serves metadata. KAFKA_WAS_RUNNING lists nodes found up.
KAFKA_WAS_RUNNING=" "
kafka_launch() {
    local i=$1 name port cport
    name=$(node_name "$i") port=$(node_port "$i") cport=$(node_controller_port "$i")
    if kafka_node_running "$i"; then
        KAFKA_WAS_RUNNING+="$i "
        return 0
    fi
    ensure_port_free "$port" "$name"
    ensure_port_free "$cport" "$name controller"
    kafka_render_config "$i"
    kafka_format "$i"
    log "$name: starting on 127.0.0.1:$port (controller 127.0.0.1:$cport)"
    # shellcheck disable=SC2086 # heap options are a word list
    spawn_java "$(node_pidfile "$i")" "$(node_log "$i")" "$JAVA" $(kafka_heap_opts) \
        -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
        -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
        "-Dlog4j2.configurationFile=$INFRA_DIR/kafka/log4j2.properties" \
        -cp "$KAFKA_JARS/*" kafka.Kafka "$(node_conf "$i")"
}

kafka_wait() {
    local i=$1 name pid
    name=$(node_name "$i") pid=$(read_pid "$(node_pidfile "$i")")
    wait_for "$name" "$(node_log "$i")" "$pid" "$(node_marker "$i")" kafka_node_ready "$i"
    case $KAFKA_WAS_RUNNING in
        *" $i "*) log "$name: already running (pid $pid)" ;;
        *) log "$name: ready (pid $pid)" ;;
    esac
}

kafka_prepare() {
    require "$JAVA" kcat jq
    kafka_validate
    fetch_jars "$INFRA_DIR/kafka" kafka
}

# kafka-start [NODE]: every node, or one (e.g. after kafka-kill9 NODE).
kafka_start() {
    kafka_prepare
    local i nodes; nodes=$(kafka_pick "${1:-}")
    for i in $nodes; do kafka_launch "$i"; done
    for i in $nodes; do kafka_wait "$i"; done
}

# The nodes a command names: all, or the one given (checked).
kafka_pick() {
    if [ -z "$1" ]; then kafka_nodes; return; fi
    is_count "$1" && [ "$1" -le "$KAFKA_NODES" ] \
        || die "no Kafka node '$1': this stack has nodes 1..$KAFKA_NODES"
    echo "$1"
}

# kafka-stop [NODE]. One node of a cluster stops cleanly: its controlled
# shutdown moves its leaders to the others. When the whole cluster stops,
# the nodes get SIGTERM together, but the last one left may still wait for
# the controller quorum to approve its controlled shutdown, and Kafka waits
# minutes for a quorum that is gone; so it gets SIGKILL after
# WA_KAFKA_QUORUM_GRACE seconds. Nothing is lost (the kernel still holds
# what it wrote); its next start recovers its logs first.
KAFKA_QUORUM_GRACE=${WA_KAFKA_QUORUM_GRACE:-15}
kafka_stop() {
    local i pids=() nodes; nodes=$(kafka_pick "${1:-}")
    # stop_pid waits $TIMEOUT; a local one shadows it for the calls below.
    local TIMEOUT=$TIMEOUT
    if ! single && [ "$(wc -w <<< "$nodes")" -gt 1 ]; then TIMEOUT=$KAFKA_QUORUM_GRACE; fi
    for i in $nodes; do
        stop_pid "$(node_name "$i")" "$(node_pidfile "$i")" "$(node_marker "$i")" TERM & pids+=($!)
    done
    local p rc=0
    for p in "${pids[@]}"; do wait "$p" || rc=1; done
    return "$rc"
}

# kafka-kill9 NODE: a broker lost, as a crash or a pulled plug loses it (tests).
kafka_kill9() {
    [ -n "$1" ] || die "usage: $0 kafka-kill9 NODE (1..$KAFKA_NODES)"
    local i; i=$(kafka_pick "$1")
    local pid; pid=$(read_pid "$(node_pidfile "$i")")
    pid_matches "$pid" "$(node_marker "$i")" || die "$(node_name "$i") is not running"
    kill -s KILL "$pid"
    # SIGKILL is delivered asynchronously: return once it is really gone.
    local _
    for _ in $(seq 100); do pid_matches "$pid" "$(node_marker "$i")" || break; sleep 0.05; done
    rm -f "$(node_pidfile "$i")"
    log "$(node_name "$i"): killed (SIGKILL, pid $pid)"
}

# Create one topic with Kafka's own admin tool (what bin/kafka-topics.sh
# runs). Output goes to $2 so parallel runs do not interleave.
kafka_create_topic() {
    local spec=$1 out=$2 name parts conf kv
    IFS=: read -r name parts conf <<< "$spec"
    local args=(--bootstrap-server "$KAFKA_BOOTSTRAP" --create --if-not-exists
                --topic "$name" --partitions "$parts" --replication-factor "$KAFKA_RF"
                --config "min.insync.replicas=$KAFKA_MIN_ISR")
    if [ -n "$conf" ]; then
        local confs; IFS=, read -r -a confs <<< "$conf"
        for kv in "${confs[@]}"; do args+=(--config "$kv"); done
    fi
    kafka_topic_cmd "${args[@]}" > "$out" 2>&1
}

kafka_topics() {
    # One cheap metadata call (kcat) decides which topics are missing, so a
    # warm `up` starts no JVM at all.
    local existing
    existing=$(kcat -b "$KAFKA_BOOTSTRAP" -L -m 5 -J \
        | jq -r '.topics[] | "\(.topic):\(.partitions | length):\(.partitions[0].replicas | length)"') \
        || die "cannot list topics; see $KAFKA_LOG"
    local spec name parts have rf missing=()
    for spec in "${KAFKA_TOPICS[@]}"; do
        IFS=: read -r name parts _ <<< "$spec"
        IFS=: read -r _ have rf <<< "$(printf '%s\n' "$existing" | awk -F: -v t="$name" '$1 == t')"
        if [ -z "$have" ]; then
            missing+=("$spec")
        elif [ "$have" != "$parts" ]; then
            log "kafka: WARNING topic $name has $have partitions, expected $parts (reset recreates it)"
        elif [ "$rf" != "$KAFKA_RF" ]; then
            log "kafka: WARNING topic $name has replication factor $rf, expected $KAFKA_RF (reset recreates it)"
        fi
    done
    [ ${#missing[@]} -gt 0 ] || return 0
    log "kafka: creating topics (replication $KAFKA_RF, min.insync.replicas $KAFKA_MIN_ISR): ${missing[*]%%:*}"
    local tmp; tmp=$(mktemp -d)
    local i j pids failed=()
    # Two at a time suits 2 cores. Without the CDS archive the first one
    # runs alone, since it writes the archive.
    local n=${WA_TOPIC_JOBS:-2} step
    for (( i = 0; i < ${#missing[@]}; i += step )); do
        step=$n
        [ -f "$TOOLS_JSA" ] || step=1
        pids=()
        for (( j = i; j < i + step && j < ${#missing[@]}; j++ )); do
            kafka_create_topic "${missing[j]}" "$tmp/$j" & pids[j]=$!
        done
        for j in "${!pids[@]}"; do
            if ! wait "${pids[j]}"; then
                failed+=("${missing[j]%%:*}")
                cat "$tmp/$j" >> "$KAFKA_LOG"
            fi
        done
    done
    rm -rf "$tmp"
    [ ${#failed[@]} -eq 0 ] || die "creating topics failed: ${failed[*]}; see $KAFKA_LOG"
}

# kafka-topic NAME:PARTITIONS: one topic that is not the product's (a benchmark's own).
kafka_extra_topic() {
    [[ $1 =~ ^[A-Za-z0-9._-]+:[0-9]+$ ]] || die "kafka-topic: want NAME:PARTITIONS, got '$1'"
    kafka_validate
    local out; out=$(mktemp)
    kafka_create_topic "$1" "$out" || { cat "$out" >&2; rm -f "$out"; die "kafka-topic: cannot create ${1%%:*}"; }
    rm -f "$out"
}

# kafka-describe: leaders, replicas, in-sync replicas and configs of our
# topics, as Kafka's own tool prints them.
kafka_describe() {
    require "$JAVA"
    local spec names=()
    for spec in "${KAFKA_TOPICS[@]}"; do names+=("${spec%%:*}"); done
    kafka_topic_cmd --bootstrap-server "$KAFKA_BOOTSTRAP" --describe \
        --topic "$(IFS='|'; echo "${names[*]}")"
}

# ---------------------------------------------------------------------------
# S3Proxy

S3_DIR=$STATE/s3
S3_CONF=$STATE/s3proxy.conf
S3_PIDFILE=$STATE/s3proxy.pid
S3_LOG=$LOG_DIR/s3proxy.log
S3_MARKER=org.gaul.s3proxy.Main
S3_ENDPOINT=http://127.0.0.1:$S3_PORT

# curl 7.88 (bookworm) does not add x-amz-content-sha256 by itself and
# S3Proxy rejects a SigV4 request without it.
s3_curl() {
    curl -sS --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$S3_IDENTITY:$S3_CREDENTIAL" \
        -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@"
}

# A signed ListBuckets: proves the server is up and the credentials work.
s3_ready() { [ "$(s3_curl -o /dev/null -w '%{http_code}' "$S3_ENDPOINT/" 2>/dev/null)" = 200 ]; }

s3_running() { pid_matches "$(read_pid "$S3_PIDFILE")" "$S3_MARKER"; }

s3_launch() {
    require "$JAVA" curl
    fetch_jars "$INFRA_DIR/s3proxy" s3proxy
    if s3_running; then
        S3_WAS_RUNNING=1
        return 0
    fi
    S3_WAS_RUNNING=
    ensure_port_free "$S3_PORT" s3proxy
    mkdir -p "$S3_DIR"
    sed -e "s#@STATE@#$STATE#g" -e "s#@S3_PORT@#$S3_PORT#g" \
        "$INFRA_DIR/s3proxy/s3proxy.conf.in" > "$S3_CONF"
    log "s3proxy: starting on $S3_ENDPOINT"
    # shellcheck disable=SC2086 # heap options are a word list
    spawn_java "$S3_PIDFILE" "$S3_LOG" "$JAVA" $S3PROXY_HEAP_OPTS \
        -Djava.awt.headless=true \
        "-Dlogback.configurationFile=$INFRA_DIR/s3proxy/logback.xml" \
        -cp "$S3PROXY_JARS/*" org.gaul.s3proxy.Main --properties "$S3_CONF"
}

# Wait for S3Proxy, then make sure the bucket exists.
s3_wait() {
    wait_for s3proxy "$S3_LOG" "$(read_pid "$S3_PIDFILE")" "$S3_MARKER" s3_ready
    if [ -n "$S3_WAS_RUNNING" ]; then
        log "s3proxy: already running (pid $(read_pid "$S3_PIDFILE"))"
    else
        log "s3proxy: ready (pid $(read_pid "$S3_PIDFILE"))"
    fi
    local code
    code=$(s3_curl -o /dev/null -w '%{http_code}' -I "$S3_ENDPOINT/$S3_BUCKET")
    if [ "$code" != 200 ]; then
        log "s3proxy: creating bucket $S3_BUCKET"
        code=$(s3_curl -o /dev/null -w '%{http_code}' -X PUT "$S3_ENDPOINT/$S3_BUCKET")
        # 409 = BucketAlreadyOwnedByYou (a concurrent `up`): fine.
        case $code in 200|409) ;; *) die "creating bucket $S3_BUCKET failed (HTTP $code); see $S3_LOG" ;; esac
    fi
}

s3_stop() { stop_pid s3proxy "$S3_PIDFILE" "$S3_MARKER" TERM; }

# ---------------------------------------------------------------------------
# commands

write_env() {
    cat > "$STATE/stack.env" <<EOF
# Written by infra/stack.sh up. Source it: set -a; . $STATE/stack.env; set +a
KAFKA_BROKERS=$KAFKA_BOOTSTRAP
DATABASE_URL=postgresql://wa:wa@127.0.0.1:$PG_PORT/wa
S3_ENDPOINT=http://127.0.0.1:$S3_PORT
S3_BUCKET=$S3_BUCKET
S3_ACCESS_KEY=$S3_IDENTITY
S3_SECRET_KEY=$S3_CREDENTIAL
S3_REGION=$S3_REGION
EOF
}

cmd_up() {
    local t0; t0=$(now)
    require "$JAVA" kcat jq curl ss
    [ -x "$PG_BIN/postgres" ] || die "no $PG_BIN/postgres; run infra/stack.sh install (or set WA_PG_BIN)"
    mkdir -p "$STATE" "$LOG_DIR"
    kafka_validate
    fetch_all_jars
    # The JVMs start in the background while Postgres comes up.
    local i
    for i in $(kafka_nodes); do kafka_launch "$i"; done
    s3_launch
    pg_start
    for i in $(kafka_nodes); do kafka_wait "$i"; done
    kafka_topics
    s3_wait
    write_env
    log "up: ready in $(( $(now) - t0 ))s; environment in $STATE/stack.env"
}

cmd_down() {
    s3_stop
    kafka_stop
    pg_stop
}

status_line() {
    local name=$1 pidfile=$2 marker=$3 port=$4 logfile=$5
    local pid; pid=$(read_pid "$pidfile")
    if pid_matches "$pid" "$marker"; then
        printf '%-9s running  pid=%-7s port=%-6s log=%s\n' "$name" "$pid" "$port" "$logfile"
    else
        printf '%-9s stopped  pid=%-7s port=%-6s log=%s\n' "$name" - "$port" "$logfile"
    fi
}

cmd_status() {
    # postmaster.pid is authoritative for postgres (pg_ctl may have been
    # used by hand).
    local pgpid=$PG_PIDFILE
    [ -f "$PG_DATA/postmaster.pid" ] && pgpid=$PG_DATA/postmaster.pid
    status_line postgres "$pgpid" "$PG_MARKER" "$PG_PORT" "$PG_LOG"
    local i
    for i in $(kafka_nodes); do
        status_line "$(node_name "$i")" "$(node_pidfile "$i")" "$(node_marker "$i")" \
            "$(node_port "$i")" "$(node_log "$i")"
    done
    status_line s3proxy "$S3_PIDFILE" "$S3_MARKER" "$S3_PORT" "$S3_LOG"
}

cmd_reset() {
    cmd_down
    # Guard against WA_STATE pointing somewhere unfortunate.
    case $STATE in ''|/|"$HOME"|"$ROOT_DIR") die "refusing to delete STATE=$STATE" ;; esac
    log "reset: deleting $STATE"
    rm -rf -- "$STATE"
}

usage() {
    cat >&2 <<EOF
usage: $0 COMMAND
  install      apt packages (if missing) and Kafka/S3Proxy jars from Maven Central
  up           start postgres, kafka, s3proxy; create topics and bucket (idempotent)
  down         stop all three
  status       one line per component (per Kafka node)
  kafka-stop [NODE]   stop only kafka, or one node of a cluster (data is kept)
  kafka-start [NODE]  start only kafka, or one node of a cluster
  kafka-kill9 NODE    SIGKILL one Kafka node: a broker lost (tests; kafka-start NODE restarts it)
  kafka-describe      leaders, replicas, in-sync replicas and configs of the topics
  kafka-topic NAME:PARTITIONS  create one more topic, if missing (benchmarks write to their own)
  pg-stop      stop only postgres (fast shutdown; data is kept)
  pg-start     start only postgres
  pg-freeze    SIGSTOP postgres and its backends: it takes connections, never answers (tests)
  pg-thaw      SIGCONT: undo pg-freeze
  reset        down, then delete \$STATE ($STATE)
env: WA_STATE WA_PG_PORT WA_KAFKA_PORT WA_KAFKA_CONTROLLER_PORT WA_S3_PORT WA_TIMEOUT
     WA_KAFKA_NODES (1; 3 runs a local cluster) KAFKA_REPLICATION_FACTOR KAFKA_MIN_INSYNC_REPLICAS
EOF
    exit 2
}

case ${1:-} in
    install) cmd_install ;;
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    kafka-stop) kafka_stop "${2:-}" ;;
    kafka-start) mkdir -p "$STATE" "$LOG_DIR"; kafka_start "${2:-}" ;;
    kafka-kill9) kafka_kill9 "${2:-}" ;;
    kafka-describe) kafka_describe ;;
    kafka-topic) kafka_extra_topic "${2:-}" ;;
    pg-stop) pg_stop ;;
    pg-start) mkdir -p "$STATE" "$LOG_DIR"; pg_start ;;
    pg-freeze) pg_signal_all STOP ;;
    pg-thaw) pg_signal_all CONT ;;
    reset) cmd_reset ;;
    *) usage ;;
esac
