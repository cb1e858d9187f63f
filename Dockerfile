# The production image. No Docker engine exists where this project is built and tested, so this
# file has never been built there: test/deploy.test.ts validates it with dockerfile-utils, checks
# its shape, and runs what its runtime stage runs (a production-only install, the compiled server
# started by its CMD, its HEALTHCHECK command) without Docker. See README, "Docker".
#
# Node 24: an LTS line supported until April 2028 (the code also runs on Node 20 and 22).

# --- build: every dependency, tsc to dist/, the embedded database's template ---
FROM node:24-trixie-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Dependencies first, in a layer of their own; the install scripts run below, once the sources are here.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY . .
# What `npm ci` runs after installing: the build (dist/, with its source hash) and the template.
RUN node scripts/postinstall.mjs

# --- runtime: production dependencies only, the compiled code, node as PID 1 ---
FROM node:24-trixie-slim AS runtime
# NODE_COMPILE_CACHE: node 22+ keeps the compiled code of the modules it loaded, for quicker restarts.
ENV NODE_ENV=production \
    DATA_DIR=/data \
    NODE_COMPILE_CACHE=/tmp/node-compile-cache
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: there is nothing to build here, the build stage did it.
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY --from=build /app/node_modules/.cache/chat-app ./node_modules/.cache/chat-app
# The embedded engine's files (when no DATABASE_URL / DB_HOST is set) and the development JWT
# secret live in DATA_DIR: the only place the server writes, owned by the user it runs as.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node
EXPOSE 8080
# Liveness, without touching the database; the slim image has no curl: node's own fetch.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || process.env.APP_PORT || 8080) + '/health/live').then(r => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))"]
# node itself as PID 1: SIGTERM reaches the server, which closes gracefully and exits 0 (with
# `npm start` as PID 1, npm would exit 143). No stale-build check here: dist/ was built from
# exactly the sources of this image.
CMD ["node", "dist/bundle/server.js"]
