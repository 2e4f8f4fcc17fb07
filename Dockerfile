# Firebreak worker + ingress, for clusters that run Temporal themselves (see docker-compose.yml).
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
COPY scripts/build-cli.mjs scripts/
# npm install, not npm ci: npm 11 drops other platforms' optional packages from the lockfile, which npm ci then rejects.
RUN npm install --omit=dev
COPY . .
# Compile the CLI (bin/firebreak.mjs runs dist/) and bundle the workflows at build time: production
# workers load a prebuilt bundle.
RUN npm run build && node --import tsx worker/bundle.ts /app/workflow-bundle.js
# The data dir keeps the bundle of every build with open incidents (docs/contributing.md): mount a
# volume there, or incidents open across an upgrade wait for a worker of their build.
RUN mkdir -p /var/lib/firebreak/data /var/lib/firebreak/postmortems && chown -R node:node /var/lib/firebreak
ENV FIREBREAK_WORKFLOW_BUNDLE=/app/workflow-bundle.js \
    FIREBREAK_DATA_DIR=/var/lib/firebreak/data \
    FIREBREAK_HOST=0.0.0.0 \
    FIREBREAK_PORT=8080
USER node
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s CMD node -e "fetch('http://127.0.0.1:8080/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "bin/firebreak.mjs", "start"]
