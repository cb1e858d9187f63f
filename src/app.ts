import type { PGlite } from '@electric-sql/pglite'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import authPlugin from '../plugins/auth.js'
import dbPlugin from '../plugins/db.js'
import errorsPlugin, { frameworkErrors } from '../plugins/errors.js'
import eventsPlugin from '../plugins/events.js'
import passwordsPlugin from '../plugins/passwords.js'
import realtimePlugin, { type RealtimeOptions } from '../plugins/realtime.js'
import securityPlugin from '../plugins/security.js'
import swaggerPlugin from '../plugins/swagger.js'
import healthRoutes from '../routes/health/index.js'
import messageRoutes from '../routes/messages/index.js'
import roomRoutes from '../routes/rooms/index.js'
import userRoutes from '../routes/users/index.js'
import wsRoutes from '../routes/ws/index.js'
import type { Config } from './config.js'
import { databaseScope } from './realtime/fanout.js'

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

/** 64 KiB: room for a 4,000-character message in any script, refusing anything bigger. */
export const BODY_LIMIT = 64 * 1024

/**
 * The whole application. Returns at once; plugins load on `ready()` / `listen()`, so a caller
 * (a test) may still add hooks that reach every route.
 */
export function buildApp (config: Config, options: BuildOptions = {}): FastifyInstance {
  const app = Fastify({
    logger: options.logger ?? {
      level: config.logLevel,
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'req.query.token'], censor: '[redacted]' }
    },
    bodyLimit: BODY_LIMIT,
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
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.addHook('onSend', async (request, reply) => { reply.header('x-request-id', request.id) })

  app.register(errorsPlugin)
  app.register(dbPlugin, { config, migrate: options.migrate, pglite: options.pglite })
  app.register(passwordsPlugin, { cost: config.bcryptCost })
  app.register(eventsPlugin)
  app.register(authPlugin, { jwt: config.jwt })
  app.register(securityPlugin, { corsOrigins: config.corsOrigins, rateLimit: config.rateLimit })
  app.register(swaggerPlugin)
  app.register(realtimePlugin, { redisUrl: config.redisUrl, scope: databaseScope(config.databaseUrl, config.dataDir), ...options.realtime })

  app.register(healthRoutes, { prefix: '/health' })
  app.register(async function api (v1) {
    v1.register(userRoutes, { prefix: '/users', config })
    v1.register(roomRoutes, { prefix: '/rooms' })
    v1.register(messageRoutes, { prefix: '/messages' })
  }, { prefix: '/api/v1' })
  // After the realtime plugin: WebSocket routes need @fastify/websocket registered first.
  app.register(wsRoutes, { prefix: '/ws', config })

  return app
}
