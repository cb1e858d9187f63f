import { createHash } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { Redis, RedisOptions } from 'ioredis'

/**
 * Redis keys and channels of one deployment (its database, `config.scope`): instances that
 * share it share them; other deployments on the same Redis never cross-talk. The scope itself
 * (a server address) never reaches Redis, only a hash of it.
 */
export function scopedKey (scope: string, kind: string): string {
  return `chat-app:${kind}:${createHash('sha256').update(scope).digest('hex').slice(0, 16)}`
}

export interface RedisClientOptions {
  /** The connection's name in `CLIENT LIST`, and in the log. */
  name: string
  log: FastifyBaseLogger
  /** What stops working while Redis is unreachable, for the one warning per outage. */
  whileDown: string
  /** A pub/sub subscriber: commands wait for the connection (and it resubscribes by itself). */
  subscriber?: boolean
  /** Extra ioredis options (timeouts). */
  options?: RedisOptions
}

/**
 * A Redis connection as every part of the server wants it (ioredis is loaded here, on the first
 * one: a server without REDIS_URL never loads it, which saved a tenth of a second or more of every
 * start, bench/README P8): reconnecting with a capped backoff,
 * and logging an outage once (a warning naming what stops working) and its end once, not once
 * per reconnect attempt. Anything but a subscriber fails at once while Redis is down (no offline
 * queue, no retries): callers degrade instead of waiting.
 */
export async function redisClient (url: string, { name, log, whileDown, subscriber = false, options }: RedisClientOptions): Promise<Redis> {
  // `.default`: ioredis is CommonJS (see plugins/metrics.ts).
  const { Redis } = (await import('ioredis')).default
  const redis = new Redis(url, {
    retryStrategy: times => Math.min(100 * times, 2000),
    connectionName: name,
    ...(subscriber ? { maxRetriesPerRequest: null, autoResubscribe: true } : { enableOfflineQueue: false, maxRetriesPerRequest: 0 }),
    ...options
  })
  let down = false
  redis.on('error', (err: Error) => {
    if (!down) log.warn({ err, redis: name }, `Redis unreachable: ${whileDown} until it reconnects`)
    down = true
  })
  redis.on('ready', () => {
    if (down) log.info({ redis: name }, 'Redis reconnected')
    down = false
  })
  return redis
}
