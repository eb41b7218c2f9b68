# syntax=docker/dockerfile:1.7
# One parameterised, multi-stage Dockerfile for every image of the project; pick one with --target:
#   docker build --target stream-listener -t octi-defender/stream-listener .
#   docker build --target defender-writer -t octi-defender/defender-writer .
#   docker build --target sighting-reporter -t octi-defender/sighting-reporter .
#   docker build --target emulators       -t octi-defender/emulators .      (demo / tests only)
#
# Node.js 24 runs the TypeScript sources directly (type stripping), so there is no compile step: an
# image is production node_modules (npm ci --omit=dev for that one workspace, and the command line's
# in the service images) plus the sources of the workspace and of the @octi-defender/* libraries it
# depends on (scripts/image-workspaces.ts).
# Runtime: node:24-bookworm-slim without what only builds need (npm, yarn, corepack, the C headers),
# tini as PID 1 (forwards SIGTERM to Node and reaps zombies; the services install their own SIGTERM
# handlers for graceful shutdown), non-root uid 1000, a read-only root filesystem (the writer's
# local state database goes to WRITER_STATE_DIR, /tmp by default: mount an emptyDir or tmpfs there).
# Build in Docker format (podman build --format docker): the OCI format has no HEALTHCHECK.
#
# Behind a TLS-inspecting proxy, give npm ci the proxy's CA bundle as a build secret (never stored in
# an image):  docker build --secret id=npm-ca,src=/etc/ssl/certs/ca-certificates.crt …
# `npm run images:test` (scripts/images.ts) builds, runs and checks all three images.

ARG NODE_IMAGE=node:24-bookworm-slim

# ---------------------------------------------------------------------------------------------------
# manifests: just what npm ci needs, so the dependency layer is cached until a manifest changes.
FROM ${NODE_IMAGE} AS manifests
WORKDIR /app
COPY package.json package-lock.json ./
COPY libs/emulators/package.json libs/emulators/
COPY libs/indicators/package.json libs/indicators/
COPY libs/kafka/package.json libs/kafka/
COPY libs/platform/package.json libs/platform/
COPY services/cli/package.json services/cli/
COPY services/defender-writer/package.json services/defender-writer/
COPY services/sighting-reporter/package.json services/sighting-reporter/
COPY services/stream-listener/package.json services/stream-listener/

# ---------------------------------------------------------------------------------------------------
# sources: the TypeScript sources (tests, benchmarks and docs are excluded by .dockerignore).
FROM scratch AS sources
COPY scripts/image-workspaces.ts /scripts/
COPY libs/ /libs/
COPY services/ /services/

# ---------------------------------------------------------------------------------------------------
# build-<target>: production dependencies of one workspace (npm ci --omit=dev --workspace), then
# /out = package.json + node_modules + the folders of that workspace and of the libraries it depends
# on. Links to workspaces the image does not ship (dev-only ones, e.g. the emulators) are dropped, and
# so are the source maps and type declarations of the dependencies (Node.js loads neither).
FROM manifests AS build-stream-listener
ENV WORKSPACE=services/stream-listener
RUN --mount=type=cache,target=/root/.npm --mount=type=secret,id=npm-ca \
    if [ -f /run/secrets/npm-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm-ca; fi \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --no-update-notifier --workspace "$WORKSPACE" --workspace services/cli
COPY --from=sources / ./
# npm ci links a bin only when its file exists, and it ran before the sources were copied.
RUN mkdir -p node_modules/.bin && ln -sf ../../services/cli/src/bin.ts node_modules/.bin/octi-defender \
 && mkdir /out \
 && cp -a --parents package.json node_modules $(node scripts/image-workspaces.ts "$WORKSPACE" services/cli) /out/ \
 && find /out/node_modules -maxdepth 2 -xtype l -delete \
 && find /out/node_modules -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) -delete

FROM manifests AS build-defender-writer
ENV WORKSPACE=services/defender-writer
RUN --mount=type=cache,target=/root/.npm --mount=type=secret,id=npm-ca \
    if [ -f /run/secrets/npm-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm-ca; fi \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --no-update-notifier --workspace "$WORKSPACE" --workspace services/cli
COPY --from=sources / ./
# npm ci links a bin only when its file exists, and it ran before the sources were copied.
RUN mkdir -p node_modules/.bin && ln -sf ../../services/cli/src/bin.ts node_modules/.bin/octi-defender \
 && mkdir /out \
 && cp -a --parents package.json node_modules $(node scripts/image-workspaces.ts "$WORKSPACE" services/cli) /out/ \
 && find /out/node_modules -maxdepth 2 -xtype l -delete \
 && find /out/node_modules -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) -delete

FROM manifests AS build-sighting-reporter
ENV WORKSPACE=services/sighting-reporter
RUN --mount=type=cache,target=/root/.npm --mount=type=secret,id=npm-ca \
    if [ -f /run/secrets/npm-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm-ca; fi \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --no-update-notifier --workspace "$WORKSPACE"
COPY --from=sources / ./
RUN mkdir /out \
 && cp -a --parents package.json node_modules $(node scripts/image-workspaces.ts "$WORKSPACE") /out/ \
 && find /out/node_modules -maxdepth 2 -xtype l -delete \
 && find /out/node_modules -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) -delete

FROM manifests AS build-emulators
ENV WORKSPACE=libs/emulators
RUN --mount=type=cache,target=/root/.npm --mount=type=secret,id=npm-ca \
    if [ -f /run/secrets/npm-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm-ca; fi \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --no-update-notifier --workspace "$WORKSPACE"
COPY --from=sources / ./
RUN mkdir /out \
 && cp -a --parents package.json node_modules $(node scripts/image-workspaces.ts "$WORKSPACE") /out/ \
 && find /out/node_modules -maxdepth 2 -xtype l -delete \
 && find /out/node_modules -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) -delete

# ---------------------------------------------------------------------------------------------------
# runtime: common base of the three images. The Node.js image minus what only builds need, flattened
# into one layer (FROM scratch + COPY) so the removed files do not stay in a lower layer.
FROM ${NODE_IMAGE} AS runtime-root
RUN if ! command -v tini > /dev/null; then \
      apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*; \
    fi \
 && rm -rf /usr/local/include/node /usr/local/lib/node_modules /opt/yarn-* \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg \
      /usr/local/share/doc/node /usr/local/share/man/man1/node.1 /root/.npm /tmp/* \
 && node --version

FROM scratch AS runtime
COPY --from=runtime-root / /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    NODE_ENV=production \
    HTTP_PORT=9464
WORKDIR /app
# The official image's unprivileged user; numeric so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 9464
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||9464)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# kafkajs arms a negative timer that Node 24 reports as TimeoutNegativeWarning (harmless).
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--disable-warning=TimeoutNegativeWarning"]

# ---------------------------------------------------------------------------------------------------
# The service images also carry the operator's command line (services/cli): `octi-defender <command>`
# on PATH through node_modules/.bin, e.g. kubectl exec deploy/stream-listener -- octi-defender status.
FROM runtime AS stream-listener
ENV PATH=/app/node_modules/.bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
COPY --from=build-stream-listener --chown=0:0 /out/ /app/
LABEL org.opencontainers.image.title="octi-defender stream-listener" \
      org.opencontainers.image.description="OpenCTI live streams to indicator commands on Kafka" \
      org.opencontainers.image.licenses="Apache-2.0"
CMD ["services/stream-listener/src/main.ts"]

FROM runtime AS defender-writer
ENV PATH=/app/node_modules/.bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
COPY --from=build-defender-writer --chown=0:0 /out/ /app/
LABEL org.opencontainers.image.title="octi-defender defender-writer" \
      org.opencontainers.image.description="Indicator commands on Kafka to Microsoft Defender for Endpoint custom indicators" \
      org.opencontainers.image.licenses="Apache-2.0"
CMD ["services/defender-writer/src/main.ts"]

# Optional, one per Defender tenant: Defender alerts on our indicators back to OpenCTI as sightings.
FROM runtime AS sighting-reporter
COPY --from=build-sighting-reporter --chown=0:0 /out/ /app/
LABEL org.opencontainers.image.title="octi-defender sighting-reporter" \
      org.opencontainers.image.description="Microsoft Defender for Endpoint alerts raised by our custom indicators to OpenCTI sightings" \
      org.opencontainers.image.licenses="Apache-2.0"
CMD ["services/sighting-reporter/src/main.ts"]

# The OpenCTI and Defender emulators, for the compose demo profile and local experiments only.
FROM runtime AS emulators
COPY --from=build-emulators --chown=0:0 /out/ /app/
LABEL org.opencontainers.image.title="octi-defender emulators (demo only)" \
      org.opencontainers.image.licenses="Apache-2.0"
HEALTHCHECK NONE
CMD ["libs/emulators/src/bin/opencti.ts"]
