import fastifyCors from '@fastify/cors'
import fastifyHelmet, { type FastifyHelmetOptions } from '@fastify/helmet'
import fastifyRateLimit from '@fastify/rate-limit'
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Redis } from 'ioredis'
import { addressKey } from '../src/chat/addresses.js'
import type { Config } from '../src/config.js'
import { type AppError, badRequest, forbidden, tooManyRequests } from '../src/errors.js'
import { withTimeout } from '../src/timeouts.js'
import { redisClient, scopedKey } from './redis.js'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Counts one message send for the request's user (REST and WebSocket share the count);
     * throws 429 over the limit.
     */
    checkSendLimit: (request: FastifyRequest) => Promise<void>
    /** The headers @fastify/helmet sets (read once at start-up), for answers no hook reaches. */
    securityHeaders: Record<string, string>
  }
}

export interface SecurityOptions {
  corsOrigins: Config['corsOrigins']
  rateLimit: Config['rateLimit']
  /** Send Strict-Transport-Security: only when this server itself speaks TLS. */
  hsts: boolean
  /** Count in Redis when set, so every instance shares the limits; in memory otherwise. */
  redisUrl?: string | undefined
  /** The deployment (its database): instances of one deployment share counters, other deployments on the same Redis don't. */
  scope: string
}

/** How long the rate limiter waits for Redis at start-up before serving without it. */
const REDIS_READY_TIMEOUT_MS = 3000

/**
 * The headers @fastify/helmet adds to a response with these options, read from a throwaway
 * instance (the names it adds to what plain Fastify sends).
 */
export async function helmetHeaders (options: FastifyHelmetOptions): Promise<Record<string, string>> {
  const answer = async (withHelmet: boolean): Promise<Record<string, unknown>> => {
    const probe = Fastify({ logger: false })
    if (withHelmet) await probe.register(fastifyHelmet, options)
    probe.get('/', async () => ({}))
    try {
      return (await probe.inject('/')).headers
    } finally {
      await probe.close()
    }
  }
  const [plain, helmeted] = await Promise.all([answer(false), answer(true)])
  return Object.fromEntries(Object.entries(helmeted).filter(([name]) => !(name in plain)).map(([name, value]) => [name, String(value)]))
}

/** Per user when authenticated, per client address (IPv6 by /64: `addressKey`) otherwise. */
function clientKey (request: FastifyRequest): string {
  const user = request.user as { id?: number } | undefined
  return user?.id !== undefined ? `user:${user.id}` : `ip:${addressKey(request.ip)}`
}

/**
 * The global limit's key, taken in the first onRequest hook, before authentication, so that the
 * requests refused later (401, 400, 404) count too: the user of a token whose signature and claims
 * verify (an HMAC, no database read; a revoked token still counts against its own user), else the
 * client address. A forged or expired token is an anonymous request: it cannot spend a user's budget.
 * Verifying here, rather than keying every request by address until it is authenticated, keeps the
 * users behind one address (an office's NAT) on budgets of their own; `authenticate` reuses the
 * answer (`verifyToken`), so the token is still checked once per request.
 */
async function globalKey (app: FastifyInstance, request: FastifyRequest): Promise<string> {
  // No token, or not one of ours: counted by address.
  await app.verifyToken(request)
  return clientKey(request)
}

/**
 * The refusal of an OPTIONS request that is not a CORS preflight this server grants: 400
 * INVALID_PREFLIGHT without `Origin` and `Access-Control-Request-Method`, 403 ORIGIN_NOT_ALLOWED
 * from an origin CORS_ORIGINS does not list. Undefined for any other request (a granted preflight
 * is left to @fastify/cors).
 */
function preflightRefusal (request: FastifyRequest, origins: Config['corsOrigins']): AppError | undefined {
  if (request.method !== 'OPTIONS') return undefined
  const origin = request.headers.origin
  if (origin === undefined || request.headers['access-control-request-method'] === undefined) {
    return badRequest('a CORS preflight (OPTIONS) needs the Origin and Access-Control-Request-Method headers', 'INVALID_PREFLIGHT')
  }
  if (origins !== true && (origins === false || !origins.includes(origin))) {
    return forbidden(`Origin ${origin.slice(0, 200)} is not allowed`, 'ORIGIN_NOT_ALLOWED')
  }
  return undefined
}

export default fp<SecurityOptions>(async function securityPlugin (app, opts) {
  const helmetOptions: FastifyHelmetOptions = {
    // The API answers JSON; Swagger UI under /docs brings its own CSP hashes.
    contentSecurityPolicy: false,
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginResourcePolicy: { policy: 'cross-origin' },
    // Over plain HTTP the header means nothing to browsers and would be wrong behind a proxy that
    // may not speak TLS; a TLS-terminating proxy should send its own.
    strictTransportSecurity: opts.hsts
  }
  // Registered as a plugin, @fastify/helmet builds helmet's middleware anew for every request:
  // a quarter of the CPU of GET /health/live (bench P1: 47 → 34 µs a request without it). With
  // no CSP nonces the headers are the same for every response: read them from @fastify/helmet
  // once, set them from one synchronous hook.
  const headers = await helmetHeaders(helmetOptions)
  app.decorate('securityHeaders', headers)
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(headers)
    done()
  })
  // A preflight @fastify/cors would refuse (text/plain, or a 204 without a grant) is refused here, in our shape.
  app.addHook('onRequest', (request, _reply, done) => { done(preflightRefusal(request, opts.corsOrigins)) })
  await app.register(fastifyCors, {
    origin: opts.corsOrigins,
    methods: ['GET', 'POST', 'PATCH', 'DELETE', 'OPTIONS'],
    exposedHeaders: ['Retry-After', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset']
  })

  if (!opts.rateLimit.enabled) {
    app.decorate('checkSendLimit', async () => {})
    return
  }
  const redis = opts.redisUrl === undefined ? undefined : await rateLimitRedis(app, opts.redisUrl)
  await app.register(fastifyRateLimit, {
    // The global limit is the onRequest hook below; this registration serves the routes' own limits.
    global: false,
    ...(redis === undefined
      ? {}
      : {
          redis,
          nameSpace: `${scopedKey(opts.scope, 'rate-limit')}:`,
          // Fail open: while Redis is unreachable requests are not counted (the login lockout, kept
          // in the database, still holds). Refusing every request, or hanging, would be worse.
          skipOnError: true
        }),
    max: opts.rateLimit.global,
    timeWindow: 60_000,
    // A route's own limit without a `hook` of its own (rooms created) counts after authentication
    // and validation: per user, and only requests that could have succeeded.
    hook: 'preHandler',
    keyGenerator: clientKey,
    errorResponseBuilder: (_request, context) =>
      tooManyRequests(`Too many requests; retry in ${Math.ceil(context.ttl / 1000)} seconds`, context.ttl / 1000)
  })
  // Every request but those of routes with `rateLimit: false` (health checks), also those with a limit
  // of their own, counted before any other hook can refuse it. An app-level hook, so it runs before the
  // routes' `authenticate` and reaches the not-found handler; after CORS, which answers preflights itself.
  const globalLimiter = app.createRateLimit({ keyGenerator: async request => await globalKey(app, request) })
  app.addHook('onRequest', async request => {
    if (request.routeOptions.config.rateLimit === false) return
    const result = await globalLimiter(request)
    if (!result.isAllowed && result.isExceeded) {
      throw tooManyRequests(`Too many requests; retry in ${result.ttlInSeconds} seconds`, result.ttlInSeconds)
    }
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

/**
 * The rate limiter's own Redis connection, as @fastify/rate-limit recommends: a short connect
 * timeout, no retries and no offline queue, so while Redis is down a check fails at once (and is
 * skipped) instead of holding the request. Waits up to 3 s for the first connection; closed with the app.
 */
async function rateLimitRedis (app: FastifyInstance, url: string): Promise<Redis> {
  const redis = await redisClient(url, {
    name: 'chat-rate-limit',
    log: app.log,
    whileDown: 'rate limits are not enforced (fail-open)',
    options: { connectTimeout: 500, commandTimeout: 1000 }
  })
  app.addHook('onClose', async () => { redis.disconnect() })
  const ready = await withTimeout(new Promise<boolean>(resolve => redis.once('ready', () => resolve(true))), REDIS_READY_TIMEOUT_MS, false)
  if (!ready) app.log.warn('Redis not reachable at start-up: rate limits are not enforced until it answers')
  return redis
}
