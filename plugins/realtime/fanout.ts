import { createHash, randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { Redis } from 'ioredis'
import type { Hub } from './hub.js'

/**
 * Carries realtime events to every instance's hub. Local delivery always happens first and never
 * depends on Redis; with Redis, the same event also goes to the other instances.
 */
export interface Fanout {
  /**
   * Delivers an already-serialized frame to every socket subscribed to the room, on every instance.
   * `seq`: the message's position in the room; `exceptUserId`: skip that user's sockets.
   */
  publishRoom: (roomId: number, frame: Buffer, seq?: number, exceptUserId?: number) => void
  /** Subscribes every socket of the user, on every instance, to the room (the user joined it). */
  publishJoin: (userId: number, roomId: number) => void
  /** Closes (4401) every socket of the user, on every instance, opened with a token older than `tokenVersion`. */
  publishRevoke: (userId: number, tokenVersion: number) => void
  close: () => Promise<void>
}

export function localFanout (hub: Hub): Fanout {
  return {
    publishRoom: (roomId, frame, seq, exceptUserId) => { hub.deliver(roomId, frame, seq, exceptUserId) },
    publishJoin: (userId, roomId) => { hub.subscribeUser(userId, roomId) },
    publishRevoke: (userId, tokenVersion) => { hub.revokeUser(userId, tokenVersion) },
    close: async () => {}
  }
}

export interface RedisFanoutOptions {
  url: string
  /** Instances that share this key (the same database) share a channel; others never cross-talk. */
  scope: string
  log: FastifyBaseLogger
  /** How long start-up waits for the subscription before going on without it. */
  connectTimeoutMs?: number
}

/** What names a database for the channel: host, port and name of a server (never its password), or the embedded engine's directory. */
export function databaseScope (databaseUrl: string | undefined, dataDir: string): string {
  if (databaseUrl === undefined) return `embedded:${dataDir}`
  const url = new URL(databaseUrl)
  return `postgres://${url.hostname}:${url.port || '5432'}${url.pathname}`
}

/** The pub/sub channel for instances on one database. */
export function channelFor (scope: string): string {
  return `chat-app:events:${createHash('sha256').update(scope).digest('hex').slice(0, 16)}`
}

/**
 * Redis pub/sub: one publisher and one subscriber connection per instance. A message on the
 * channel is one header line, then the frame exactly as sockets receive it (so no instance
 * serializes it again):
 *
 *     <instance id> r <room id> <seq>\n<frame>      deliver <frame> (a message at <seq>, 0: none) to the room's sockets
 *     <instance id> r <room id> 0 <user id>\n<frame>  the same, skipping that user's sockets (typing, presence)
 *     <instance id> j <user id> <room id>\n   subscribe the user's sockets to the room
 *     <instance id> k <user id> <version>\n   close (4401) the user's sockets whose token is older than <version>
 *
 * An instance delivers its own events locally before publishing and skips them when Redis echoes
 * them back, so each socket gets each event once, and local delivery goes on while Redis is away.
 * ioredis reconnects (and resubscribes) by itself.
 */
export async function redisFanout (hub: Hub, options: RedisFanoutOptions): Promise<Fanout> {
  const instanceId = randomUUID()
  const channel = channelFor(options.scope)
  const { log } = options
  const retryStrategy = (times: number): number => Math.min(100 * times, 2000)
  // The publisher never queues: while Redis is down, a publish fails at once (local delivery is done already).
  const publisher = new Redis(options.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy, connectionName: `chat-pub-${instanceId}` })
  const subscriber = new Redis(options.url, { maxRetriesPerRequest: null, autoResubscribe: true, retryStrategy, connectionName: `chat-sub-${instanceId}` })

  let down = false
  const onError = (role: string) => (err: Error) => {
    // One warning per outage, not one per reconnect attempt.
    if (!down) log.warn({ err, role }, 'Redis unreachable: realtime events reach this instance\'s sockets only until it reconnects')
    down = true
  }
  publisher.on('error', onError('publisher'))
  subscriber.on('error', onError('subscriber'))
  const onReady = (): void => {
    if (down && publisher.status === 'ready' && subscriber.status === 'ready') {
      down = false
      log.info('Redis reconnected: cross-instance realtime delivery resumed')
    }
  }
  publisher.on('ready', onReady)
  subscriber.on('ready', onReady)

  subscriber.on('messageBuffer', (_channel: Buffer, message: Buffer) => {
    const newline = message.indexOf(10)
    if (newline < 0) return
    const [origin, kind, a, b, c] = message.subarray(0, newline).toString().split(' ')
    if (origin === instanceId) return
    if (kind === 'r') {
      const seq = Number(b)
      hub.deliver(Number(a), message.subarray(newline + 1), seq > 0 ? seq : undefined, c === undefined ? undefined : Number(c))
    } else if (kind === 'j') {
      hub.subscribeUser(Number(a), Number(b))
    } else if (kind === 'k') {
      hub.revokeUser(Number(a), Number(b))
    }
  })

  let timer: NodeJS.Timeout | undefined
  const subscribed = await Promise.race([
    subscriber.subscribe(channel).then(() => true, () => false),
    new Promise<false>(resolve => { timer = setTimeout(resolve, options.connectTimeoutMs ?? 3000, false) })
  ])
  clearTimeout(timer)
  if (!subscribed) log.warn({ channel }, 'Redis not reachable at start-up: serving local sockets; will subscribe when it answers')

  const publish = (header: string, frame?: Buffer): void => {
    const line = Buffer.from(`${instanceId} ${header}\n`)
    publisher.publish(channel, frame === undefined ? line : Buffer.concat([line, frame])).catch((err: Error) => {
      if (!down) log.warn({ err }, 'Redis publish failed: the event reached this instance\'s sockets only')
    })
  }

  return {
    publishRoom (roomId, frame, seq, exceptUserId) {
      hub.deliver(roomId, frame, seq, exceptUserId)
      publish(`r ${roomId} ${seq ?? 0}${exceptUserId === undefined ? '' : ` ${exceptUserId}`}`, frame)
    },
    publishJoin (userId, roomId) {
      hub.subscribeUser(userId, roomId)
      publish(`j ${userId} ${roomId}`)
    },
    publishRevoke (userId, tokenVersion) {
      hub.revokeUser(userId, tokenVersion)
      publish(`k ${userId} ${tokenVersion}`)
    },
    async close () {
      publisher.disconnect()
      subscriber.disconnect()
    }
  }
}
