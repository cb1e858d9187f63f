import { createHash } from 'node:crypto'
import fastifyCors from '@fastify/cors'
import fastifyHelmet, { type FastifyHelmetOptions } from '@fastify/helmet'
import fastifyRateLimit from '@fastify/rate-limit'
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { Redis } from 'ioredis'
import { addressKey } from '../src/chat/addresses.js'
import type { Config } from '../src/config.js'
import { tooManyRequests } from '../src/errors.js'

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
    global: true,
    ...(redis === undefined
      ? {}
      : {
          redis,
          nameSpace: `chat-app:rate-limit:${createHash('sha256').update(opts.scope).digest('hex').slice(0, 16)}:`,
          // Fail open: while Redis is unreachable requests are not counted (the login lockout, kept
          // in the database, still holds). Refusing every request, or hanging, would be worse.
          skipOnError: true
        }),
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

/**
 * The rate limiter's own Redis connection, as @fastify/rate-limit recommends: a short connect
 * timeout, no retries and no offline queue, so while Redis is down a check fails at once (and is
 * skipped) instead of holding the request. Waits up to 3 s for the first connection; closed with the app.
 */
async function rateLimitRedis (app: FastifyInstance, url: string): Promise<Redis> {
  const redis = new Redis(url, {
    connectTimeout: 500,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    commandTimeout: 1000,
    retryStrategy: times => Math.min(100 * times, 2000),
    connectionName: 'chat-rate-limit'
  })
  let down = false
  redis.on('error', (err: Error) => {
    // One warning per outage, not one per reconnect attempt.
    if (!down) app.log.warn({ err }, 'Redis unreachable: rate limits are not enforced (fail-open) until it reconnects')
    down = true
  })
  redis.on('ready', () => {
    if (down) app.log.info('Redis reconnected: rate limits are enforced again')
    down = false
  })
  app.addHook('onClose', async () => { redis.disconnect() })

  let timer: NodeJS.Timeout | undefined
  const ready = await Promise.race([
    new Promise<boolean>(resolve => redis.once('ready', () => resolve(true))),
    new Promise<boolean>(resolve => { timer = setTimeout(resolve, REDIS_READY_TIMEOUT_MS, false) })
  ])
  clearTimeout(timer)
  if (!ready) app.log.warn('Redis not reachable at start-up: rate limits are not enforced until it answers')
  return redis
}
