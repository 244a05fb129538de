# S3Proxy (filesystem backend) from the jars infra/s3proxy/pom.xml pins (Maven Central), on
# Debian's JRE: the S3 storage `make run` uses, as the compose file's default object store.
# Build from the repository root:  docker build -f deploy/s3proxy.Dockerfile -t wa-broker-s3proxy .
# Environment: S3_ACCESS_KEY, S3_SECRET_KEY, S3PROXY_PORT (9000), S3_BUCKET (created at start).

# ---- the jars: Maven resolves infra/s3proxy/pom.xml ----------------------------------------
FROM debian:bookworm-slim AS jars
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      maven openjdk-17-jdk-headless ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# Extra CA certificates for this stage only (deploy/build-ca/README.md).
COPY deploy/build-ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates >/dev/null
WORKDIR /build
COPY infra/s3proxy/pom.xml ./
RUN mvn -B -q dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=/opt/s3proxy/libs \
 && rm -rf /root/.m2

# ---- runtime -----------------------------------------------------------------------------
FROM debian:bookworm-slim
# curl signs requests itself (--aws-sigv4): the healthcheck and the bucket creation.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      openjdk-17-jre-headless curl \
 && rm -rf /var/lib/apt/lists/*
COPY --from=jars /opt/s3proxy/libs/ /opt/s3proxy/libs/
COPY infra/s3proxy/logback.xml /opt/s3proxy/logback.xml
COPY deploy/s3proxy-entrypoint.sh /opt/s3proxy/entrypoint.sh
COPY deploy/s3proxy-ready.sh /usr/local/bin/s3proxy-ready
RUN useradd --system --no-create-home --shell /usr/sbin/nologin s3proxy \
 && mkdir -p /data && chown s3proxy: /data
USER s3proxy
VOLUME ["/data"]
ENTRYPOINT ["/opt/s3proxy/entrypoint.sh"]
