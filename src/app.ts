import type { PGlite } from '@electric-sql/pglite'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Server as HttpsServer } from 'node:https'
import Fastify, { type FastifyHttpsOptions, type FastifyInstance, type FastifyLoggerOptions, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import authPlugin from '../plugins/auth/index.js'
import dbPlugin from '../plugins/db.js'
import errorsPlugin, { frameworkErrors } from '../plugins/errors.js'
import eventsPlugin from '../plugins/events.js'
import metricsPlugin from '../plugins/metrics.js'
import passwordsPlugin from '../plugins/passwords/index.js'
import pressurePlugin from '../plugins/pressure.js'
import realtimePlugin, { type RealtimeOptions } from '../plugins/realtime/index.js'
import securityPlugin from '../plugins/security.js'
import swaggerPlugin from '../plugins/swagger.js'
import healthRoutes from '../routes/health/index.js'
import messageRoutes from '../routes/messages/index.js'
import metricsRoutes from '../routes/metrics/index.js'
import roomRoutes from '../routes/rooms/index.js'
import userRoutes from '../routes/users/index.js'
import wsRoutes from '../routes/ws/index.js'
import type { Config } from './config.js'
import { databaseScope } from '../plugins/realtime/fanout.js'
import { BODY_MAX_BYTES } from './limits.js'

export interface BuildOptions {
  /** Run migrations at start-up (default true). */
  migrate?: boolean
  /** An open embedded database to use instead of DATA_DIR (tests). */
  pglite?: PGlite
  /** Fastify's logger option; default: pino at LOG_LEVEL. */
  logger?: FastifyServerOptions['logger']
  /** Realtime tuning (tests): heartbeat interval, slow-consumer threshold. */
  realtime?: Pick<RealtimeOptions, 'heartbeatMs' | 'maxBufferedBytes' | 'presenceTtlMs'>
}

/** A URL as logged: the value of `token` / `access_token` in its query replaced (the WebSocket upgrade's `?token=`). */
export const redactUrl = (url: string): string => url.replace(/([?&](?:access_)?token=)[^&#]*/gi, '$1[redacted]')

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
  const app = Fastify({
    // TLS_CERT / TLS_KEY: HTTPS (and so WSS on /ws) straight from Node. Typed as the default http
    // server: the routes and plugins use nothing that differs between the two.
    https: config.tls ?? null,
    // TRUST_PROXY: which X-Forwarded-* to believe for request.ip (rate limits, lockout) and protocol.
    trustProxy: config.trustProxy,
    logger: options.logger ?? loggerOptions(config.logLevel, config.logPretty),
    bodyLimit: BODY_MAX_BYTES,
    // Ids larger than this are refused by the schemas anyway; keep hostile URLs short.
    routerOptions: { maxParamLength: 100, ignoreTrailingSlash: true },
    requestIdHeader: 'x-request-id',
    genReqId: () => crypto.randomUUID(),
    ajv: { customOptions: { removeAdditional: true, coerceTypes: 'array', useDefaults: true } },
    frameworkErrors,
    forceCloseConnections: 'idle',
    // Opening the embedded engine and migrating take seconds, more on a busy or slow machine;
    // Fastify's default 10 s plugin timeout then refused to start (FST_ERR_PLUGIN_TIMEOUT).
    pluginTimeout: 60_000
  } satisfies FastifyHttpsOptions<HttpsServer> as FastifyServerOptions).withTypeProvider<TypeBoxTypeProvider>()

  app.addHook('onSend', async (request, reply) => { reply.header('x-request-id', request.id) })

  app.register(errorsPlugin)
  app.register(dbPlugin, { config, migrate: options.migrate, pglite: options.pglite })
  app.register(passwordsPlugin, { cost: config.bcryptCost })
  app.register(eventsPlugin)
  // Before the realtime plugin, so its hub can report fan-out latency to app.metrics.
  app.register(metricsPlugin, { enabled: config.metrics.enabled })
  // One deployment (its database): instances sharing it share Redis channels and rate-limit counters.
  const scope = databaseScope(config.databaseUrl, config.dataDir)
  app.register(authPlugin, { jwt: config.jwt, cacheMs: config.authCacheMs })
  app.register(securityPlugin, {
    corsOrigins: config.corsOrigins,
    rateLimit: config.rateLimit,
    hsts: config.tls !== undefined,
    redisUrl: config.redisUrl,
    scope
  })
  // After helmet and CORS (their onRequest hooks give a shed 503 its headers), before any route work.
  app.register(pressurePlugin, config.overload)
  app.register(swaggerPlugin)
  app.register(realtimePlugin, { redisUrl: config.redisUrl, scope, ...options.realtime })

  app.register(healthRoutes, { prefix: '/health' })
  // Production without METRICS_TOKEN: no route at all (404, as for any unknown path).
  if (config.metrics.enabled) app.register(metricsRoutes, { prefix: '/metrics', token: config.metrics.token })
  app.register(async function api (v1) {
    v1.register(userRoutes, { prefix: '/users', config })
    v1.register(roomRoutes, { prefix: '/rooms', config })
    v1.register(messageRoutes, { prefix: '/messages' })
  }, { prefix: '/api/v1' })
  // After the realtime plugin: WebSocket routes need @fastify/websocket registered first.
  app.register(wsRoutes, { prefix: '/ws', config })

  return app
}
