# syntax=docker/dockerfile:1
# tsgi in a container: `docker build -t tsgi .` then `docker run -p 8000:8000 tsgi` serves
# examples/hello; give your own app as the command (`docker run -v $PWD:/app/srv tsgi srv/app:app`)
# or build FROM this image. docs/deploying.md has the rest. test/deploy/dockerfile.test.ts runs
# these same steps outside a container engine (RUN, COPY, ENV, WORKDIR, USER, ENTRYPOINT, CMD).

ARG NODE_VERSION=20

# ---- build: TypeScript and the PID 1 orphan reaper, with the dev dependencies ----
FROM node:${NODE_VERSION}-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json ./
RUN npm ci --no-audit --no-fund
COPY bin ./bin
COPY src ./src
COPY native ./native
RUN npm run build && npm run build:native

# ---- run: production dependencies only, a non-root user, tsgi as PID 1 ----
FROM node:${NODE_VERSION}-bookworm-slim AS run
ENV NODE_ENV=production PORT=8000 TSGI_METRICS_BIND=0.0.0.0:9191 TSGI_LOG_FORMAT=json
WORKDIR /app/tsgi
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY --from=build /src/dist ./dist
COPY --from=build /src/native/build ./native/build
COPY examples /app/examples
WORKDIR /app
# The node image's unprivileged user; the app's files need only be readable by it.
USER node
EXPOSE 8000 9191
# TERM is tsgi's graceful stop (in-flight requests finish within --graceful-timeout).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.TSGI_METRICS_BIND || ':9191').split(':').pop() + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: tsgi itself is PID 1, receives the signals, and reaps orphaned processes.
ENTRYPOINT ["node", "/app/tsgi/bin/tsgi.js"]
CMD ["examples/hello:app"]
