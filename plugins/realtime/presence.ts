import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { redisClient, scopedKey } from '../redis.js'

/**
 * Who is online: a user with at least one open socket, on any instance. Each instance counts its
 * own sockets per user; `connected` and `disconnected` say when a user's count across all
 * instances went from 0 to 1 (online) or from 1 to 0 (offline).
 */
export interface Presence {
  /** Counts in a socket of the user; true when it is the user's first anywhere. */
  connected: (userId: number) => Promise<boolean>
  /** Counts it out; true when it was the user's last anywhere. */
  disconnected: (userId: number) => Promise<boolean>
  /** Which of these users have a socket open (on any instance). */
  online: (userIds: number[]) => Promise<Set<number>>
  /** How many sockets are open on every instance (the sum of every user's count). */
  sockets: () => Promise<number>
  close: () => Promise<void>
}

/** This instance's sockets per user: the whole truth with one instance, and this instance's share with several. */
class LocalCounts {
  readonly counts = new Map<number, number>()

  /** Returns the new count. */
  add (userId: number, delta: 1 | -1): number {
    const n = Math.max(0, (this.counts.get(userId) ?? 0) + delta)
    if (n === 0) this.counts.delete(userId)
    else this.counts.set(userId, n)
    return n
  }

  /** This instance's sockets. */
  total (): number {
    let sum = 0
    for (const n of this.counts.values()) sum += n
    return sum
  }
}

/** One instance: the counts of this process are all there is. */
export function localPresence (): Presence {
  const local = new LocalCounts()
  return {
    connected: async userId => local.add(userId, 1) === 1,
    disconnected: async userId => local.add(userId, -1) === 0,
    online: async userIds => new Set(userIds.filter(id => local.counts.has(id))),
    sockets: async () => local.total(),
    close: async () => {}
  }
}

/*
 * Redis keys, under `chat-app:presence:<scope hash>`:
 *   :online            hash  user id -> open sockets on all instances (the sum of the next)
 *   :instance:<id>     hash  user id -> open sockets on that instance
 *   :alive:<id>        string, expires unless the instance refreshes it (heartbeat)
 *   :instances         set of instance ids that may have counts
 * Every change is one Lua script, so the sum and the shares never disagree.
 */

/** KEYS: online, instance, alive, instances. ARGV: user id, instance id, ttl ms. Returns the user's new total. */
const CONNECT = `
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('SADD', KEYS[4], ARGV[2])
redis.call('SET', KEYS[3], '1', 'PX', ARGV[3])
return redis.call('HINCRBY', KEYS[1], ARGV[1], 1)`

/** KEYS: online, instance. ARGV: user id. Returns the user's new total, or -1 when this instance had not counted the user (Redis lost it). */
const DISCONNECT = `
local mine = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if mine <= 0 then return -1 end
if mine == 1 then redis.call('HDEL', KEYS[2], ARGV[1]) else redis.call('HINCRBY', KEYS[2], ARGV[1], -1) end
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if n <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
return n`

/** KEYS: online. Returns the sum of every user's total: the sockets open on all instances. */
const SOCKETS = `
local sum = 0
for _, n in ipairs(redis.call('HVALS', KEYS[1])) do sum = sum + tonumber(n) end
return sum`

/** Takes an instance's share out of the totals; returns the users whose total fell to 0. (Inlined below.) */
const TAKE_BACK = `
local function take_back (online, instance)
  local gone = {}
  local old = redis.call('HGETALL', instance)
  for i = 1, #old, 2 do
    local n = redis.call('HINCRBY', online, old[i], -tonumber(old[i + 1]))
    if n <= 0 then
      redis.call('HDEL', online, old[i])
      table.insert(gone, old[i])
    end
  end
  redis.call('DEL', instance)
  return gone
end`

/**
 * KEYS: online, instance, alive, instances. ARGV: instance id, ttl ms, then user id, count pairs.
 * Replaces this instance's share with what it counts now (after Redis restarted, or after another
 * instance took it for dead).
 */
const REGISTER = `${TAKE_BACK}
take_back(KEYS[1], KEYS[2])
for i = 3, #ARGV, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('SET', KEYS[3], '1', 'PX', ARGV[2])
return 1`

/** KEYS: alive. ARGV: ttl ms. 1: refreshed; 0: the key was gone (Redis restarted or this instance was swept). */
const HEARTBEAT = `
if redis.call('PEXPIRE', KEYS[1], ARGV[1]) == 1 then return 1 end
return 0`

/** KEYS: online, instances. ARGV: key prefix. Takes back the shares of instances that stopped refreshing; returns the users who went offline. */
const SWEEP = `${TAKE_BACK}
local gone = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if redis.call('EXISTS', ARGV[1] .. ':alive:' .. id) == 0 then
    for _, user in ipairs(take_back(KEYS[1], ARGV[1] .. ':instance:' .. id)) do
      if redis.call('HEXISTS', KEYS[1], user) == 0 then table.insert(gone, user) end
    end
    redis.call('SREM', KEYS[2], id)
  end
end
return gone`

export interface RedisPresenceOptions {
  url: string
  /** Instances on one database share presence (as they share the event channel). */
  scope: string
  log: FastifyBaseLogger
  /** How long an instance's share outlives its last heartbeat (a crashed instance's users go offline after this). Default 30 s. */
  ttlMs?: number
  /** Told about users who went offline because the instance that served them stopped (crashed). */
  onSwept: (userIds: number[]) => void
}

/** The key prefix for instances on one database. */
export const presencePrefix = (scope: string): string => scopedKey(scope, 'presence')

/**
 * Presence across instances, counted in Redis. Each instance keeps its share in its own hash and
 * refreshes an expiring `alive` key every ttl/3; any instance that finds another's `alive` key
 * gone takes that share out of the totals and announces those users offline, so a crashed
 * instance's users go offline within about `ttlMs`.
 *
 * What is approximate: while Redis is unreachable each instance answers from its own sockets
 * (a user online only on another instance counts as offline, and changes are announced to this
 * instance's sockets only). When Redis answers again the heartbeat notices (its `alive` key is
 * gone after a restart) and re-registers this instance's share; transitions that happened during
 * the outage are not announced afterwards (a client may ask `presence:get`).
 */
export async function redisPresence (options: RedisPresenceOptions): Promise<Presence> {
  const instanceId = randomUUID()
  const prefix = presencePrefix(options.scope)
  const keys = { online: `${prefix}:online`, instance: `${prefix}:instance:${instanceId}`, alive: `${prefix}:alive:${instanceId}`, instances: `${prefix}:instances` }
  const ttlMs = options.ttlMs ?? 30_000
  const local = new LocalCounts()
  const redis = await redisClient(options.url, { name: `chat-presence-${instanceId}`, log: options.log, whileDown: 'presence counts this instance\'s sockets only' })
  let registered = false

  async function register (): Promise<void> {
    const pairs = [...local.counts].flatMap(([user, count]) => [String(user), String(count)])
    await redis.eval(REGISTER, 4, keys.online, keys.instance, keys.alive, keys.instances, instanceId, ttlMs, ...pairs)
    registered = true
  }

  async function beat (): Promise<void> {
    if (redis.status !== 'ready') return
    if (!registered || await redis.eval(HEARTBEAT, 1, keys.alive, ttlMs) === 0) await register()
    const gone = await redis.eval(SWEEP, 2, keys.online, keys.instances, prefix) as string[]
    if (gone.length > 0) options.onSwept(gone.map(Number))
  }
  const heartbeat = setInterval(() => {
    beat().catch((err: unknown) => { options.log.debug({ err }, 'presence heartbeat failed') })
  }, Math.max(10, Math.floor(ttlMs / 3)))
  heartbeat.unref()
  redis.on('ready', () => {
    registered = false
    beat().catch((err: unknown) => { options.log.debug({ err }, 'presence registration failed') })
  })

  return {
    async connected (userId) {
      const first = local.add(userId, 1) === 1
      try {
        const total = await redis.eval(CONNECT, 4, keys.online, keys.instance, keys.alive, keys.instances, userId, instanceId, ttlMs) as number
        return total === 1
      } catch {
        registered = false
        return first
      }
    },
    async disconnected (userId) {
      const last = local.add(userId, -1) === 0
      try {
        const total = await redis.eval(DISCONNECT, 2, keys.online, keys.instance, userId) as number
        return total === -1 ? last : total === 0
      } catch {
        registered = false
        return last
      }
    },
    async online (userIds) {
      if (userIds.length === 0) return new Set()
      try {
        const counts = await redis.hmget(keys.online, ...userIds.map(String))
        return new Set(userIds.filter((_, i) => Number(counts[i] ?? 0) > 0))
      } catch {
        return new Set(userIds.filter(id => local.counts.has(id)))
      }
    },
    async sockets () {
      try {
        return await redis.eval(SOCKETS, 1, keys.online) as number
      } catch {
        return local.total()
      }
    },
    async close () {
      clearInterval(heartbeat)
      // Leaving cleanly: take this instance's share back now rather than when its key expires.
      if (redis.status === 'ready') {
        await redis.eval(`${TAKE_BACK}\ntake_back(KEYS[1], KEYS[2])\nredis.call('DEL', KEYS[3])\nredis.call('SREM', KEYS[4], ARGV[1])\nreturn 1`,
          4, keys.online, keys.instance, keys.alive, keys.instances, instanceId).catch(() => {})
      }
      redis.disconnect()
    }
  }
}
