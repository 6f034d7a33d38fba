# The Gatehouse image (SPEC §13, deploy/README.md):
#
#   docker build -t gatehouse .
#   docker run --rm --read-only -p 8280:8280 \
#     -v "$PWD/config:/config:ro" gatehouse            # config/gateway.yaml and config/certs/
#
# Mount points: /config/gateway.yaml (GATEHOUSE_CONFIG) and /config/certs/, the folder the
# default certs.directory (./certs, relative to the configuration file) resolves to. Mount the
# folder /config, not the file alone: a file bind mount (like Kubernetes' subPath) keeps the old
# inode when an editor or the kubelet replaces the file, so a live reload never sees the change.
#
# Three stages: build (the compiler and the dev dependencies, thrown away), prod-deps (the
# production dependencies alone) and the image, which holds bin/, dist/, schemas/, package.json,
# LICENSE and the production node_modules: no compiler, no tests, no src/.

# The Node.js line CI runs the whole suite on (package.json "engines" allows it; test/deploy
# checks both). Debian 13 "trixie" is the current Debian stable; bookworm (Debian 12) left regular
# security support in June 2026.
ARG NODE_VERSION=24

# ---------------------------------------------------------------------------------------- build
FROM node:${NODE_VERSION}-trixie-slim AS build
WORKDIR /app
# Dependencies first: this layer is rebuilt only when the lock file changes.
COPY package.json package-lock.json ./
# --ignore-scripts: no install script runs (the build is the explicit step below, whatever
# package.json's lifecycle scripts say).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.js scripts/
COPY src/ src/
COPY schemas/ schemas/
RUN npm run build

# ------------------------------------------------------------------------------------ prod-deps
FROM node:${NODE_VERSION}-trixie-slim AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# ---------------------------------------------------------------------------------------- image
FROM node:${NODE_VERSION}-trixie-slim

# Set by the release build: docker build --build-arg VERSION=$(node -p "require('./package.json').version") --build-arg REVISION=$(git rev-parse HEAD)
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="Gatehouse" \
      org.opencontainers.image.description="Config-as-code API gateway: per-endpoint backend certificates, a JSON Schema, atomic live reload." \
      org.opencontainers.image.source="https://github.com/gatehouse/gatehouse" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"

ENV NODE_ENV=production \
    GATEHOUSE_CONFIG=/config/gateway.yaml

# Owned by root and not writable by the gateway's user: the process cannot change its own code.
WORKDIR /app
COPY --from=prod-deps /app/node_modules/ node_modules/
COPY --from=build /app/dist/ dist/
COPY package.json ./
COPY bin/ bin/
COPY schemas/ schemas/
# Apache-2.0 asks that whoever receives the software gets a copy of the license.
COPY LICENSE ./

# A default configuration (no API; the admin address on loopback, which HEALTHCHECK reaches):
# the image starts as is, and any mount on /config replaces it.
COPY deploy/docker/gateway.yaml /config/gateway.yaml
COPY deploy/docker/certs/ /config/certs/

# The image's `node` user, by number, so that Kubernetes' runAsNonRoot can verify it is not root.
USER 1000:1000
# The configuration folder: relative paths given on the command line resolve where the files are.
WORKDIR /config

# Client HTTP (listen.http), client HTTPS (listen.https.address), admin (admin.address).
EXPOSE 8280 8243 9901

# SIGTERM: /readyz answers 503 at once, the listeners accept for listen.shutdownDelay, then drain
# within listen.shutdownTimeout, and the gateway exits 0. Give `docker stop -t` more than their sum.
STOPSIGNAL SIGTERM

# Slim images have no curl: node itself asks the admin address. It follows admin.address of the
# default configuration; a configuration that moves the admin port needs --health-cmd to match.
# Kubernetes ignores HEALTHCHECK and uses the probes of deploy/kubernetes/.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9901/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Exec form, node itself: SIGTERM and SIGHUP (reload) reach the gateway, not a shell or npm. Node
# as PID 1 has no default signal handlers, which the gateway does not need (it handles SIGTERM,
# SIGINT and SIGHUP itself); to reap stray children anyway, run with `docker run --init`.
ENTRYPOINT ["node", "/app/bin/gatehouse.js"]
CMD ["run"]
