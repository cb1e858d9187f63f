import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { type ChatBus, type ChatEvent, feedSeq, type FrameEvent, type RoomFrameEvent } from '../../src/chat/events.js'
import { withTimeout } from '../../src/timeouts.js'
import { redisClient, scopedKey } from '../redis.js'
import { frameBytes, withFrame } from './hub.js'

/** The pub/sub channel of instances on one database. */
export const channelFor = (scope: string): string => scopedKey(scope, 'events')

export interface RedisFanoutOptions {
  url: string
  /** Instances of one deployment (`config.scope`) share a channel; others never cross-talk. */
  scope: string
  log: FastifyBaseLogger
  /** How long start-up waits for the subscription before going on without it. */
  connectTimeoutMs?: number
  /**
   * Told when events of other instances may have been lost: this instance's subscription is back
   * after Redis was away (called once it listens again), or another instance's publisher is.
   */
  onMissed?: () => void
}

/**
 * Carries the bus between instances over Redis pub/sub: every event published on this
 * instance's bus goes to the channel, and every event another instance published comes out of
 * this instance's bus as `receive`d. Local subscribers (the hub) never wait for Redis, so local
 * delivery goes on while Redis is away. One publisher and one subscriber connection per instance;
 * ioredis reconnects (and resubscribes) by itself. A message on the channel is one header line,
 * then, for room frames, the frame exactly as sockets receive it (no instance serializes it again):
 *
 *     <instance id> r <room id> <seq>\n<frame>        a frame for the room's sockets (a feed change at <seq>; 0: none)
 *     <instance id> r <room id> 0 <user id>\n<frame>  the same, skipping that user's sockets (typing, presence)
 *     <instance id> u <user id>\n<frame>              a frame for that user's sockets (read)
 *     <instance id> j <user id> <room id>\n           the user created the room: subscribe their sockets
 *     <instance id> k <user id> <version>\n           the user's tokens older than <version> were revoked
 *     <instance id> c\n                               that instance could not publish for a while: what it published meanwhile was lost
 *
 * Redis pub/sub delivers nothing that was published while a subscriber was away, nor what a
 * publisher could not send: the hub's sequencers fill such gaps from the database when the next
 * frame of the room arrives, and `onMissed` has them look for gaps nothing followed.
 *
 * Returns the function that stops it.
 */
export async function redisFanout (bus: ChatBus, options: RedisFanoutOptions): Promise<() => void> {
  const instanceId = randomUUID()
  const channel = channelFor(options.scope)
  const { log } = options
  const whileDown = 'realtime events reach this instance\'s sockets only'
  // The publisher never queues: while Redis is down, a publish fails at once (local delivery is done already).
  const publisher = await redisClient(options.url, { name: `chat-pub-${instanceId}`, log, whileDown })
  const subscriber = await redisClient(options.url, { name: `chat-sub-${instanceId}`, log, whileDown, subscriber: true })

  subscriber.on('messageBuffer', (_channel: Buffer, message: Buffer) => {
    const newline = message.indexOf(10)
    if (newline < 0) return
    const [origin, ...header] = message.subarray(0, newline).toString().split(' ')
    if (origin === instanceId) return
    if (header[0] === 'c') {
      options.onMissed?.()
      return
    }
    const event = decode(header, message.subarray(newline + 1))
    if (event !== undefined) bus.receive(event)
  })
  // After every (re)connection: once Redis confirms the subscription (ioredis resubscribes by
  // itself; a second SUBSCRIBE is answered after it), what was missed meanwhile is looked for.
  subscriber.on('ready', () => {
    subscriber.subscribe(channel).then(() => options.onMissed?.(), () => {})
  })
  // A publisher back after failing: the others look for what it could not send. Its first
  // connection may be ready already (the subscriber's client was made in between).
  let publisherReady = publisher.status === 'ready'
  publisher.on('ready', () => {
    if (publisherReady) publisher.publish(channel, `${instanceId} c\n`).catch(() => {})
    publisherReady = true
  })

  const subscribed = await withTimeout(subscriber.subscribe(channel).then(() => true, () => false), options.connectTimeoutMs ?? 3000, false)
  if (!subscribed) log.warn({ channel }, 'Redis not reachable at start-up: serving local sockets; will subscribe when it answers')

  const unsubscribe = bus.subscribe((event, remote) => {
    if (remote) return
    const line = Buffer.from(`${instanceId} ${encode(event)}\n`)
    const body = 'payload' in event ? Buffer.concat([line, frameBytes(event)]) : line
    publisher.publish(channel, body).catch((err: Error) => {
      if (publisher.status === 'ready') log.warn({ err }, 'Redis publish failed: the event reached this instance\'s sockets only')
    })
  })

  return () => {
    unsubscribe()
    publisher.disconnect()
    subscriber.disconnect()
  }
}

function encode (event: ChatEvent): string {
  switch (event.type) {
    case 'room:subscribe': return `j ${event.user_id} ${event.room_id}`
    case 'user:revoked': return `k ${event.user_id} ${event.token_version}`
    case 'read':
    case 'room:invited':
    case 'room:added': return `u ${event.user_id}`
    case 'typing':
    case 'presence': return `r ${event.room_id} 0 ${event.payload.user_id}`
    default: return `r ${event.room_id} ${feedSeq(event) ?? 0}`
  }
}

function decode ([kind, a, b]: string[], frame: Buffer): ChatEvent | undefined {
  if (kind === 'j') return { type: 'room:subscribe', user_id: Number(a), room_id: Number(b) }
  if (kind === 'k') return { type: 'user:revoked', user_id: Number(a), token_version: Number(b) }
  if (kind !== 'r' && kind !== 'u') return undefined
  const { type, payload } = JSON.parse(frame.toString()) as { type: FrameEvent['type'], payload: never }
  if (kind === 'u') return withFrame({ type, user_id: Number(a), payload } as FrameEvent, frame)
  return withFrame({ type, room_id: Number(a), payload } as RoomFrameEvent, frame)
}
