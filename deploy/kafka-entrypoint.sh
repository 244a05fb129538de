#!/bin/sh
# Starts one KRaft node. Every KAFKA_* variable (but KAFKA_HEAP_OPTS and KAFKA_OPTS) is a
# server.properties key: KAFKA_LOG_DIRS -> log.dirs. The log dir is formatted with CLUSTER_ID
# on the first start only, so the data survives every restart.
set -eu
: "${CLUSTER_ID:?CLUSTER_ID is required (the cluster id every node is formatted with)}"
: "${KAFKA_NODE_ID:?KAFKA_NODE_ID is required}"
: "${KAFKA_LOG_DIRS:?KAFKA_LOG_DIRS is required}"
conf=/tmp/server.properties
: > "$conf"
env | sort | while IFS='=' read -r name value; do
    case $name in
        KAFKA_HEAP_OPTS|KAFKA_OPTS) ;;
        KAFKA_*) printf '%s=%s\n' "$(echo "${name#KAFKA_}" | tr 'A-Z_' 'a-z.')" "$value" >> "$conf" ;;
    esac
done
log4j=-Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties
if [ ! -f "$KAFKA_LOG_DIRS/meta.properties" ]; then
    echo "kafka: formatting $KAFKA_LOG_DIRS (cluster id $CLUSTER_ID, node $KAFKA_NODE_ID)"
    # One word, so an id that begins with '-' is not taken for an option.
    /opt/kafka/bin/kafka-storage.sh format "--cluster-id=$CLUSTER_ID" -c "$conf" --ignore-formatted
fi
# shellcheck disable=SC2086 # the options are word lists
exec java ${KAFKA_HEAP_OPTS:--Xms512m -Xmx512m} ${KAFKA_OPTS:-} \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true "$log4j" \
    -cp '/opt/kafka/libs/*' kafka.Kafka "$conf"
