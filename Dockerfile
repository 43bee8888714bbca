# pullthrough container image: compiled once in a build stage, run as the unprivileged `node` user.
# The base is a build argument so an offline build can pass a locally assembled Node image. The default is
# the current Node.js LTS; the code also runs on Node 20.6+ (what the test machines have).
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE}
# The image's defaults (all interfaces, storage in the volume) are a config file, not PULLTHROUGH_*
# variables: variables beat the file, so a mounted config saying `listen: ...` would lose to them (issue
# 12). A mounted config named by PULLTHROUGH_CONFIG replaces this one whole. It is made from the shipped
# default at build time, so the two cannot drift.
ENV NODE_ENV=production \
    PULLTHROUGH_CONFIG=/app/config/container.yaml
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY config ./config
RUN sed -e 's|^listen: .*|listen: 0.0.0.0:5000|' -e 's|^  path: \./data$|  path: /var/lib/pullthrough|' \
      config/default.yaml > config/container.yaml \
 && grep -q '^listen: 0.0.0.0:5000$' config/container.yaml && grep -q '^  path: /var/lib/pullthrough$' config/container.yaml \
 && ln -s /app/bin/pullthrough.js /usr/local/bin/pullthrough \
 && mkdir -p /var/lib/pullthrough && chown node:node /var/lib/pullthrough
USER node
VOLUME ["/var/lib/pullthrough"]
EXPOSE 5000
# The probe reads the config exactly as the server does (file and PULLTHROUGH_* overrides), so it checks
# whatever address the server was told to listen on.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s CMD ["node", "dist/healthcheck.js"]
# A mounted config replaces the image's: -v ./my.yaml:/etc/pullthrough.yaml:ro -e PULLTHROUGH_CONFIG=/etc/pullthrough.yaml
# The command line is there too: docker exec CONTAINER pullthrough gc --dry-run
CMD ["node", "dist/server.js"]
