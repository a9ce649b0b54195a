# syntax=docker/dockerfile:1
#
# One image for both roles: `serve` (the HTTP API; in Redis mode it loads no model) and `worker`.
#   docker build -t marine-classifier .                                 # model baked in (needs network at build)
#   docker build -t marine-classifier --build-arg MODEL_ID= .           # no model baked in: mount one at /models
# See docs/scaling-out.md.

ARG NODE_IMAGE=node:20-bookworm-slim

# --- build: all dependencies, compile TypeScript to dist/ (npm ci runs `prepare`, the build), then
# drop the dev dependencies (TypeScript, tsx, test tools). onnxruntime-node's install script would fetch
# its CUDA libraries from NuGet on linux/x64: ONNXRUNTIME_NODE_INSTALL=skip stops it (the npm 10 of this
# image does not read package.json's allowScripts), so npm ci downloads nothing from outside the registry
# and onnxruntime-node uses the CPU binaries in its package.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV ONNXRUNTIME_NODE_INSTALL=skip
# better-sqlite3 (the class-set store) is compiled here rather than downloaded from GitHub
# (.prebuild-installrc), and so is the libjpeg-turbo addon (binding.gyp): they need a C/C++ toolchain
# and libjpeg-turbo's headers in this stage only.
RUN apt-get update && apt-get install -y --no-install-recommends g++ make python3 libjpeg62-turbo-dev \
    && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json .prebuild-installrc tsconfig.json tsconfig.build.json binding.gyp ./
COPY scripts/copy-assets.mjs scripts/build-native.mjs ./scripts/
COPY native ./native
COPY src ./src
RUN npm ci --no-audit --no-fund --loglevel=error && npm prune --omit=dev --no-audit --no-fund --loglevel=error

# --- runtime: compiled JavaScript only
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    MODEL_CACHE_DIR=/models
WORKDIR /app
# libjpeg-turbo's library for the addon built above (JPEG_DECODER=auto).
RUN apt-get update && apt-get install -y --no-install-recommends libjpeg62-turbo && rm -rf /var/lib/apt/lists/*
# The same glibc base as the build stage, so sharp's and onnxruntime's prebuilt binaries match.
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/build/Release/jpeg_decode.node ./build/Release/
COPY package.json ./
COPY bin ./bin
COPY web ./web
RUN mkdir -p /models && chown node:node /models

# The official image's unprivileged user; nothing under /app is writable by it.
USER node

# A catalogue model fetched (and sha256-verified) into MODEL_CACHE_DIR at build time, so containers start
# without network access. Empty: nothing is fetched; mount models at /models (MODEL_CACHE_DIR) or set MODEL_PATH.
ARG MODEL_ID=resnet50-v1-12
RUN if [ -n "$MODEL_ID" ]; then node dist/cli/main.js models fetch "$MODEL_ID"; fi
ENV MODEL_ID=${MODEL_ID}

EXPOSE 8000
# Liveness of the API. Worker containers serve no HTTP: docker-compose.yml disables the check for them.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Exec form: node is PID 1 and receives SIGTERM itself (serve drains requests, worker finishes its jobs).
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["serve"]
