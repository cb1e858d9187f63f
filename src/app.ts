import type { PGlite } from '@electric-sql/pglite'
import type { DatabaseHandle } from '../db/connect.js'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { randomUUID } from 'node:crypto'
import type { IncomingMessage, Server as HttpServer } from 'node:http'
import type { Server as HttpsServer } from 'node:https'
import Fastify, { type FastifyHttpOptions, type FastifyHttpsOptions, type FastifyInstance, type FastifyLoggerOptions, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import authPlugin from '../plugins/auth/index.js'
import busPlugin from '../plugins/bus.js'
import dbPlugin from '../plugins/db.js'
import drainPlugin from '../plugins/drain.js'
import errorsPlugin, { clientErrorHandler, frameworkErrors } from '../plugins/errors.js'
import metricsPlugin from '../plugins/metrics.js'
import passwordsPlugin from '../plugins/passwords/index.js'
import pressurePlugin from '../plugins/pressure.js'
import rollupPlugin from '../plugins/rollup.js'
import realtimePlugin, { type RealtimeOptions } from '../plugins/realtime/index.js'
import schemasPlugin from '../plugins/schemas.js'
import securityPlugin from '../plugins/security.js'
import storagePlugin from '../plugins/storage.js'
import sendsPlugin from '../plugins/sends.js'
import swaggerPlugin from '../plugins/swagger.js'
import adminRoutes from '../routes/admin/index.js'
import attachmentRoutes from '../routes/attachments/index.js'
import dmRoutes from '../routes/dms/index.js'
import healthRoutes from '../routes/health/index.js'
import messageRoutes from '../routes/messages/index.js'
import metricsRoutes from '../routes/metrics/index.js'
import roomRoutes from '../routes/rooms/index.js'
import searchRoutes from '../routes/search/index.js'
import userRoutes from '../routes/users/index.js'
import webRoutes from '../routes/web/index.js'
import wsRoutes from '../routes/ws/index.js'
import type { Config } from './config.js'
import { buildSerializer } from './schemas/serializer.js'
import { buildValidator } from './schemas/validator.js'
import { BODY_MAX_BYTES } from './limits.js'

export interface BuildOptions {
  /** Run migrations at start-up (default true). */
  migrate?: boolean
  /** The database already being opened (the server starts it while these modules load), or an open embedded engine (tests); the app closes it. */
  database?: Promise<DatabaseHandle> | PGlite
  /** Fastify's logger option; default: pino at LOG_LEVEL. */
  logger?: FastifyServerOptions['logger']
  /** Realtime tuning (tests): heartbeat interval, slow-consumer threshold. */
  realtime?: Pick<RealtimeOptions, 'heartbeatMs' | 'maxBufferedBytes' | 'presenceTtlMs'>
}

/** Query parameters whose value is a credential (the WebSocket upgrade's `?token=`), by their decoded, lower-cased name. */
const CREDENTIAL_PARAMS = new Set(['token', 'access_token'])

/** Whether a query parameter's raw name names a credential once decoded as Fastify's parser decodes it (`%74oken` is `token`). */
function isCredentialParam (rawName: string): boolean {
  try {
    return CREDENTIAL_PARAMS.has(decodeURIComponent(rawName.replaceAll('+', ' ')).toLowerCase())
  } catch {
    // A name that cannot be decoded could be anything: treat its value as a secret.
    return true
  }
}

/**
 * A URL as logged: the value of every query parameter whose decoded name is `token` or
 * `access_token` replaced, however the name is spelt (`?%74oken=` authenticates like `?token=`).
 */
export function redactUrl (url: string): string {
  const start = url.indexOf('?')
  if (start === -1) return url
  const params = url.slice(start + 1).split('&').map(param => {
    const name = param.split('=', 1)[0]!
    return isCredentialParam(name) ? `${name}=[redacted]` : param
  })
  return `${url.slice(0, start)}?${params.join('&')}`
}

/** How often Node checks the headers and request deadlines (its default is 30 s). */
const TIMEOUT_CHECK_MS = 1000

/** A client's X-Request-Id is kept only when it is a short, safe token; anything else is replaced. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/

/**
 * Fastify's `genReqId`: the client's X-Request-Id when it is at most 64 of `[A-Za-z0-9._-]`
 * (sent once), else a fresh UUID, so a client cannot put kilobytes or odd characters into every log line.
 */
export function requestId (request: IncomingMessage): string {
  const sent = request.headers['x-request-id']
  return typeof sent === 'string' && SAFE_REQUEST_ID.test(sent) ? sent : randomUUID()
}

/**
 * The production logger: pino at `level`, never writing a credential (test/security/logging.test.ts
 * uses this same setting). Fastify's request line is its own, with the URL's token redacted.
 * `pretty` (config.logPretty: development on a terminal) writes through pino-pretty; otherwise JSON lines.
 */
export function loggerOptions (level: string, pretty = false): FastifyLoggerOptions & { redact: { paths: string[], censor: string } } {
  return {
    level,
    // Redaction and serializers run before the line is written, so they hold for pretty output too.
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'req.query.token'], censor: '[redacted]' },
    serializers: {
      req: (request: FastifyRequest) => ({ method: request.method, url: redactUrl(request.url), host: request.host, remoteAddress: request.ip, remotePort: request.socket?.remotePort })
    }
  }
}

/**
 * The whole application. Returns at once; plugins load on `ready()` / `listen()`, so a caller
 * (a test) may still add hooks that reach every route.
 */
export function buildApp (config: Config, options: BuildOptions = {}): FastifyInstance {
  const { headersMs, requestMs, connectionMs, keepAliveMs } = config.timeouts
  // Node's own deadlines for receiving a request (slowloris, slow POST: 408, then closed), checked
  // every second rather than Node's default 30 s. An upgraded WebSocket leaves Node's HTTP
  // bookkeeping, so none of these timeouts reaches it (test/security/timeouts.test.ts).
  const receiving = { headersTimeout: headersMs, requestTimeout: requestMs, connectionsCheckingInterval: TIMEOUT_CHECK_MS }
  const app = Fastify({
    // TLS_CERT / TLS_KEY: HTTPS (and so WSS on /ws) straight from Node. Typed as the default http
    // server: the routes and plugins use nothing that differs between the two.
    https: config.tls === undefined ? null : { ...config.tls, ...receiving },
    http: receiving,
    requestTimeout: requestMs,
    // No traffic either way for this long (a stalled handler, a client that stops reading): closed.
    connectionTimeout: connectionMs,
    keepAliveTimeout: keepAliveMs,
    // TRUST_PROXY: which X-Forwarded-* to believe for request.ip (rate limits, lockout) and protocol.
    trustProxy: config.trustProxy,
    logger: options.logger ?? loggerOptions(config.logLevel, config.logPretty),
    bodyLimit: BODY_MAX_BYTES,
    // Ids larger than this are refused by the schemas anyway; keep hostile URLs short.
    routerOptions: { maxParamLength: 100, ignoreTrailingSlash: true },
    // Fastify would take X-Request-Id as it comes: `requestId` reads and checks it instead.
    requestIdHeader: false,
    genReqId: requestId,
    // One input contract: JSON bodies (and WebSocket payloads) are never coerced; query strings and params are read from text.
    // (Fastify types the factory as @fastify/ajv-compiler's, whose compile function takes the schema alone; it is called with `{ schema, httpPart, ... }`.)
    // Response serializers: Fastify's own, each built at its route's first answer (see buildSerializer).
    schemaController: { compilersFactory: { buildValidator: buildValidator as never, buildSerializer } },
    frameworkErrors,
    // Malformed HTTP, headers too large, a request too slow: refused by Node before Fastify sees it.
    clientErrorHandler,
    forceCloseConnections: 'idle',
    // Opening the embedded engine and migrating take seconds, more on a busy or slow machine;
    // Fastify's default 10 s plugin timeout then refused to start (FST_ERR_PLUGIN_TIMEOUT).
    pluginTimeout: 60_000
  } satisfies FastifyHttpsOptions<HttpsServer> & FastifyHttpOptions<HttpServer> as FastifyServerOptions).withTypeProvider<TypeBoxTypeProvider>()

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id)
    // Closing: the client must not reuse the connection (plugins/drain.ts).
    if (app.draining) reply.header('connection', 'close')
  })

  // First: its preClose hook runs before the others.
  app.register(drainPlugin)
  app.register(errorsPlugin)
  app.register(schemasPlugin)
  app.register(dbPlugin, { config, migrate: options.migrate, database: options.database })
  app.register(passwordsPlugin, { cost: config.bcryptCost })
  app.register(busPlugin)
  app.register(storagePlugin, { config })
  app.register(sendsPlugin)
  // Before the realtime plugin, so its hub can report fan-out latency to app.metrics.
  app.register(metricsPlugin, { enabled: config.metrics.enabled })
  app.register(authPlugin, { jwt: config.jwt, cacheMs: config.authCacheMs })
  app.register(securityPlugin, {
    corsOrigins: config.corsOrigins,
    rateLimit: config.rateLimit,
    hsts: config.tls !== undefined,
    redisUrl: config.redisUrl,
    scope: config.scope
  })
  // After helmet and CORS (their onRequest hooks give a shed 503 its headers), before any route work.
  app.register(pressurePlugin, config.overload)
  app.register(swaggerPlugin)
  app.register(realtimePlugin, { config, ...options.realtime })
  app.register(rollupPlugin, { intervalMs: config.rollupIntervalMs })

  app.register(healthRoutes, { prefix: '/health' })
  // Production without METRICS_TOKEN: no route at all (404, as for any unknown path).
  if (config.metrics.enabled) app.register(metricsRoutes, { prefix: '/metrics', token: config.metrics.token })
  app.register(async function api (v1) {
    v1.register(userRoutes, { prefix: '/users', config })
    v1.register(roomRoutes, { prefix: '/rooms', config })
    v1.register(messageRoutes, { prefix: '/messages', config })
    v1.register(dmRoutes, { prefix: '/dms' })
    v1.register(adminRoutes, { prefix: '/admin' })
    v1.register(searchRoutes, { prefix: '/search', config })
    v1.register(attachmentRoutes, { prefix: '/attachments', config })
  }, { prefix: '/api/v1' })
  // After the realtime plugin: WebSocket routes need @fastify/websocket registered first.
  app.register(wsRoutes, { prefix: '/ws', config })
  // The demo chat page at `/` (web/, built into dist/web).
  app.register(webRoutes)

  return app
}
