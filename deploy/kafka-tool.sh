#!/bin/sh
# Kafka's command-line tools by the names Kafka's own bin/ gives them (kafka-topics.sh, ...),
# run from the image's jars: one short-lived JVM, warnings only.
set -eu
case $(basename "$0") in
    kafka-topics.sh) main=org.apache.kafka.tools.TopicCommand ;;
    kafka-broker-api-versions.sh) main=org.apache.kafka.tools.BrokerApiVersionsCommand ;;
    kafka-storage.sh) main=kafka.tools.StorageTool ;;
    *) echo "kafka-tool.sh: unknown tool name $(basename "$0")" >&2; exit 2 ;;
esac
# C1 only and the serial GC: a tool starts about a quarter faster.
exec java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Dwa.log.level=warn \
    -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties \
    -cp '/opt/kafka/libs/*' "$main" "$@"
