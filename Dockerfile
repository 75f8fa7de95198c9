# syntax=docker/dockerfile:1
# Bellwether gateway image. Build: docker build -t bellwether .
# Run:   docker run -p 8080:8080 -v $PWD/my-config.yaml:/etc/bellwether/config.yaml:ro bellwether
# The image's Node major (24, LTS) is the one CI also runs the test suite on.
ARG NODE_IMAGE=node:24-bookworm-slim

# --- build: full install (TypeScript etc.), compile to dist/ ------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: "prepare" would build before the sources are copied.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bench ./bench
RUN npm run build

# --- runtime: production dependencies and compiled JavaScript only ------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=8080 \
    BELLWETHER_CONFIG=/etc/bellwether/config.yaml \
    LOG_LEVEL=info
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY config ./config
# The default config (simulated models) until one is mounted over it.
COPY config/default.yaml /etc/bellwether/config.yaml
# The node image's unprivileged user (uid 1000). Nothing under /app needs to be writable.
USER node
EXPOSE 8080
# No curl in slim images: probe with node itself.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "--max-semi-space-size=32", "--no-memory-reducer", "dist/src/main.js"]
