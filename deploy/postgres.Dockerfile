# PostgreSQL 15 from Debian's postgresql-15, the server `infra/stack.sh` runs.
# Build from the repository root:  docker build -f deploy/postgres.Dockerfile -t wa-broker-postgres .
# Environment (read on the first start, as the postgres image reads them): POSTGRES_USER,
# POSTGRES_PASSWORD, POSTGRES_DB; POSTGRES_PORT (5432) on every start.
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      postgresql-15 \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
 && chown postgres: /var/lib/postgresql/data /var/run/postgresql \
 && chmod 700 /var/lib/postgresql/data
COPY deploy/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data
USER postgres
VOLUME ["/var/lib/postgresql/data"]
# Postgres's fast shutdown (SIGTERM would wait for every client to disconnect).
STOPSIGNAL SIGINT
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]
