# The Twilio simulator (sim/twilio): a fake Messages API and Content API that sends signed
# status callbacks and inbound webhooks, for running the compose file without Twilio (profile
# sim). Build from the repository root:  docker build -f deploy/twilio-sim.Dockerfile -t wa-broker-twilio-sim .
# Never part of a production deployment: it accepts one fixed account and token.

# ---- node and the dependencies -------------------------------------------------------------
FROM debian:bookworm-slim AS deps
# Node.js 20 and npm from the npm registry, pinned and checked in deploy/install-node.sh; extra
# CA certificates for this stage only (deploy/build-ca/README.md).
COPY deploy/build-ca/ /usr/local/share/ca-certificates/
COPY deploy/install-node.sh /tmp/install-node.sh
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
RUN /tmp/install-node.sh
WORKDIR /sim
COPY sim/twilio/package.json sim/twilio/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# ---- runtime -------------------------------------------------------------------------------
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --no-create-home --shell /usr/sbin/nologin sim
COPY --from=deps /usr/local/bin/node /usr/local/bin/node
WORKDIR /sim
COPY --from=deps /sim/node_modules ./node_modules
COPY sim/twilio/ ./
USER sim
# TWILIO_SIM_LISTEN / TWILIO_SIM_CDN_LISTEN: host:port of the API and of the media "CDN".
CMD ["node", "server.mjs"]
