# Apache Kafka (KRaft) from the jars infra/kafka/pom.xml pins (Maven Central), on Debian's JRE.
# The same jars `infra/stack.sh` runs; no image registry besides debian:bookworm-slim.
# Build from the repository root:  docker build -f deploy/kafka.Dockerfile -t wa-broker-kafka .
# Configuration: KAFKA_* variables become server.properties keys (KAFKA_NODE_ID -> node.id),
# CLUSTER_ID formats the log dir on the first start (deploy/kafka-entrypoint.sh).

# ---- the jars: Maven resolves infra/kafka/pom.xml ------------------------------------------
FROM debian:bookworm-slim AS jars
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      maven openjdk-17-jdk-headless ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# Extra CA certificates for this stage only (deploy/build-ca/README.md).
COPY deploy/build-ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates >/dev/null
WORKDIR /build
COPY infra/kafka/pom.xml ./
RUN mvn -B -q dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=/opt/kafka/libs \
 && rm -rf /root/.m2

# ---- runtime -----------------------------------------------------------------------------
FROM debian:bookworm-slim
# kcat for the healthcheck: a metadata request that names this node, without a JVM start.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      openjdk-17-jre-headless kcat \
 && rm -rf /var/lib/apt/lists/*
COPY --from=jars /opt/kafka/libs/ /opt/kafka/libs/
COPY infra/kafka/log4j2.properties /opt/kafka/config/log4j2.properties
COPY deploy/kafka-entrypoint.sh /opt/kafka/bin/kafka-entrypoint.sh
COPY deploy/kafka-tool.sh /opt/kafka/bin/kafka-tool.sh
RUN ln -s kafka-tool.sh /opt/kafka/bin/kafka-topics.sh \
 && ln -s kafka-tool.sh /opt/kafka/bin/kafka-broker-api-versions.sh \
 && ln -s kafka-tool.sh /opt/kafka/bin/kafka-storage.sh \
 && useradd --system --no-create-home --shell /usr/sbin/nologin kafka \
 && mkdir -p /var/lib/kafka/data && chown kafka: /var/lib/kafka/data
USER kafka
VOLUME ["/var/lib/kafka/data"]
ENTRYPOINT ["/opt/kafka/bin/kafka-entrypoint.sh"]
