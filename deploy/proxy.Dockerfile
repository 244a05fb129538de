# The TLS-terminating reverse proxy in front of ingress, the dashboard and the media in S3:
# Debian's nginx, pinned. Build from the repository root:
#   docker build -f deploy/proxy.Dockerfile -t wa-broker-proxy .
# What it publishes and blocks: deploy/proxy.conf.template. The certificate comes from a mounted
# directory (docker-compose.yml: PROXY_TLS_DIR, PROXY_TLS_CERT, PROXY_TLS_KEY).
FROM debian:bookworm-slim
# The version bookworm-security carries; when Debian replaces it the build fails here: bump it
# (apt-cache policy nginx) rather than unpin it. gettext-base for envsubst; curl for the
# healthcheck.
ARG NGINX_VERSION=1.22.1-9+deb12u11
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      nginx="$NGINX_VERSION" nginx-common="$NGINX_VERSION" gettext-base curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/* \
 && mkdir -p /etc/wa-proxy/tls
COPY deploy/proxy.conf.template /etc/wa-proxy/nginx.conf.template
COPY deploy/proxy-entrypoint.sh /usr/local/bin/proxy-entrypoint
# The master process stays root (port 443, the key readable by root only); the workers that
# handle requests run as www-data (the package's user; `user` in deploy/proxy.conf.template).
STOPSIGNAL SIGQUIT
ENTRYPOINT ["/usr/local/bin/proxy-entrypoint"]
