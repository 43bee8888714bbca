# pullthrough container image: compiled once in a build stage, run as the unprivileged `node` user.
# The base is a build argument so an offline build can pass a locally assembled Node image.
ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    PULLTHROUGH_LISTEN=0.0.0.0:5000 \
    PULLTHROUGH_STORAGE_PATH=/var/lib/pullthrough
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY config ./config
RUN mkdir -p /var/lib/pullthrough && chown node:node /var/lib/pullthrough
USER node
VOLUME ["/var/lib/pullthrough"]
EXPOSE 5000
# The probe reads the config exactly as the server does (file and PULLTHROUGH_* overrides), so it checks
# whatever address the server was told to listen on.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s CMD ["node", "dist/healthcheck.js"]
# A mounted config replaces the default: -v ./my.yaml:/app/config/pullthrough.yaml -e PULLTHROUGH_CONFIG=/app/config/pullthrough.yaml
CMD ["node", "dist/server.js"]
