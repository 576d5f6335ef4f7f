# smartpush-guard container image.
#
#   docker build -t smartpush-guard .              # runtime image (final stage)
#   docker build --target test .                   # install dev deps and type-check
#   docker run -p 8080:8080 -p 9090:9090 \
#     -v "$PWD/guard.yaml:/etc/smartpush-guard/config.yaml:ro" smartpush-guard
#
# The TypeScript sources are bundled by esbuild into dist/smartpush-guard.mjs (built in the runtime
# stage, before dropping root),
# so the running process needs no TypeScript loader; the sources ship too, for the policy/config
# tools and as the fallback bin/smartpush-guard.js uses when the bundle is missing.
#
# The mounted config must listen on 0.0.0.0 (listen.host, and admin.host if the admin listener is
# to be reached from outside the container) and name its policy by a path that exists in the
# container: relative paths resolve against the config file's folder, so use
# `policy: /app/policies/smartpush.yaml` or mount a policy next to the config.
# `scripts/docker-build-steps.sh` replays these steps without a Docker engine.

# ---------------------------------------------------------------------------------------------
# deps: production dependencies only. The build tools stay in this stage; native addons
# (better-sqlite3) are compiled here and only their output is copied into the final image.
# ---------------------------------------------------------------------------------------------
FROM node:20-bookworm-slim AS deps
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# Manifests first, so the dependency layer is rebuilt only when they change.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# ---------------------------------------------------------------------------------------------
# test (optional target): every dependency, then the type check. `docker build --target test .`
# Note: .dockerignore leaves test/ and bench/ out of the build context, so this checks the
# shipped code (src/, demo/, bin/); `npm run typecheck` on a checkout covers the rest.
# ---------------------------------------------------------------------------------------------
FROM deps AS test
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY demo ./demo
RUN npm run typecheck

# ---------------------------------------------------------------------------------------------
# runtime: slim Node, no compilers, no dev dependencies, not root.
# ---------------------------------------------------------------------------------------------
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
# Application files stay owned by root (read-only for the process); only var/ is writable.
COPY package.json ./
# tsx reads its JSX settings (react-jsx, jsxImportSource preact) from tsconfig.json in the working
# directory; without it every page fails at runtime with "React is not defined".
COPY tsconfig.json ./
COPY bin ./bin
COPY scripts/build.mjs ./scripts/build.mjs
COPY src ./src
COPY demo ./demo
COPY config ./config
COPY policies ./policies
COPY schema ./schema
# The demo writes its generated secrets, outbox and audit log to /app/var (mode 0700).
# The bundle is built here, after every source it comes from, so it is never older than them.
RUN node scripts/build.mjs \
 && mkdir -p /app/var /etc/smartpush-guard \
 && chown node:node /app/var \
 && chmod 0700 /app/var
# The official image's unprivileged `node` user (uid 1000).
USER node
EXPOSE 8080 9090
# No curl in slim images: Node's global fetch against the admin listener inside the container.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.GUARD_ADMIN_PORT || 9090) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# No init (tini/--init) is needed: the app itself is PID 1 and handles its signals — `serve`
# drains in-flight requests on SIGTERM/SIGINT and then exits — and it spawns no child processes
# that would need reaping.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/smartpush-guard.js"]
CMD ["serve", "--config", "/etc/smartpush-guard/config.yaml"]
