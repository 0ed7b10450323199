# The relay's image: this repository and its dependencies on node:22 (tsx runs the TypeScript; no build step).
#   docker build -f infra/kubernetes/relay.Dockerfile -t REGISTRY/hookflow-relay:latest .
#   docker push REGISTRY/hookflow-relay:latest
FROM node:22-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY core ./core
USER 1000
ENTRYPOINT ["node", "core/cli/bin.js"]
CMD ["relay"]
