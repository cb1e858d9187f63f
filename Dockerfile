# Not built or run in this project's CI (no Docker engine there); kept for deployments.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
EXPOSE 8080
USER node
CMD ["npm", "start"]
