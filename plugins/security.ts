import fastifyCors from '@fastify/cors'
import fastifyHelmet from '@fastify/helmet'
import fastifyRateLimit from '@fastify/rate-limit'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Config } from '../src/config.js'
import { tooManyRequests } from '../src/errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Counts one message send for the request's user (REST and WebSocket share the count);
     * throws 429 over the limit.
     */
    checkSendLimit: (request: FastifyRequest) => Promise<void>
  }
}

export interface SecurityOptions {
  corsOrigins: Config['corsOrigins']
  rateLimit: Config['rateLimit']
}

/** Per user when authenticated, per client address otherwise. */
function clientKey (request: FastifyRequest): string {
  const user = request.user as { id?: number } | undefined
  return user?.id !== undefined ? `user:${user.id}` : `ip:${request.ip}`
}

export default fp<SecurityOptions>(async function securityPlugin (app, opts) {
  await app.register(fastifyHelmet, {
    // The API answers JSON; Swagger UI under /docs brings its own CSP hashes.
    contentSecurityPolicy: false,
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginResourcePolicy: { policy: 'cross-origin' }
  })
  await app.register(fastifyCors, {
    origin: opts.corsOrigins,
    methods: ['GET', 'POST', 'PATCH', 'DELETE', 'OPTIONS'],
    exposedHeaders: ['Retry-After', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset']
  })

  if (!opts.rateLimit.enabled) {
    app.decorate('checkSendLimit', async () => {})
    return
  }
  await app.register(fastifyRateLimit, {
    global: true,
    max: opts.rateLimit.global,
    timeWindow: 60_000,
    // After authentication ran, so the key is the user, not a shared address.
    hook: 'preHandler',
    keyGenerator: clientKey,
    errorResponseBuilder: (_request, context) =>
      tooManyRequests(`Too many requests; retry in ${Math.ceil(context.ttl / 1000)} seconds`, context.ttl / 1000)
  })
  const sendLimiter = app.createRateLimit({
    max: opts.rateLimit.messages,
    timeWindow: 10_000,
    keyGenerator: request => `send:${clientKey(request)}`
  })
  app.decorate('checkSendLimit', async (request: FastifyRequest) => {
    const result = await sendLimiter(request)
    if (!result.isAllowed && result.isExceeded) {
      throw tooManyRequests(`Too many messages; retry in ${result.ttlInSeconds} seconds`, result.ttlInSeconds)
    }
  })
}, { name: 'security', dependencies: ['auth'] })
