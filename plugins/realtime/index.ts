import fastifyWebsocket from '@fastify/websocket'
import fp from 'fastify-plugin'
import { roomIdsOfUser } from '../../db/rooms.js'
import { findUserById } from '../../db/users.js'
import { type Fanout, localFanout, redisFanout } from './fanout.js'
import { CloseCode, Hub } from './hub.js'
import { announce, localPresence, type Presence, redisPresence } from './presence.js'
import { Throttle } from './throttle.js'
import { BODY_MAX_BYTES } from '../../src/limits.js'
import { TYPING_INTERVAL_MS } from '../../src/schemas/realtime.js'

declare module 'fastify' {
  interface FastifyInstance {
    realtime: {
      /** This instance's sockets. */
      hub: Hub
      /** How events reach every instance's sockets (in-process, or Redis pub/sub). */
      fanout: Fanout
      /** Who has a socket open, on any instance. */
      presence: Presence
      /** `typing` events forwarded per user and room: one per 2 s. */
      typing: Throttle
    }
  }
}

export interface RealtimeOptions {
  /** Fan out through Redis pub/sub when set; in-process otherwise. */
  redisUrl?: string | undefined
  /** Instances on the same database share events: what names that database (never sent anywhere). */
  scope: string
  /** Ping every socket this often; a socket that has not answered the previous ping is dropped. Default 25 s. */
  heartbeatMs?: number
  /** Close (1013) a socket whose unsent buffer passes this. Default 1 MiB. */
  maxBufferedBytes?: number
  /** Largest frame a client may send; a bigger one closes the socket with 1009. Default 64 KiB. */
  maxPayload?: number
  /** With Redis: how long a crashed instance's users stay online (its presence share's time to live). Default 30 s. */
  presenceTtlMs?: number
}

/** How long shutdown waits for clients to finish the closing handshake before dropping them. */
const CLOSE_GRACE_MS = 2000

/**
 * @fastify/websocket, the hub of this instance's sockets, and the fan-out that feeds it: every
 * committed room event on `app.events` is serialized once and delivered to every member socket,
 * on this instance and (with Redis) on the others.
 */
export default fp<RealtimeOptions>(async function realtimePlugin (app, opts) {
  const hub = new Hub({
    maxBufferedBytes: opts.maxBufferedBytes ?? 1024 * 1024,
    onSlowConsumer: client => app.log.warn({ userId: client.userId }, 'closing a websocket that reads too slowly (1013)'),
    // A revocation from this instance or another one: REST stops accepting the old tokens too.
    onRevoke: (userId, tokenVersion) => { app.authStates.revoke(userId, tokenVersion) }
  })
  const fanout = opts.redisUrl === undefined
    ? localFanout(hub)
    : await redisFanout(hub, { url: opts.redisUrl, scope: opts.scope, log: app.log })
  /** Announces users to their rooms' members; looks up what the caller does not know (a swept user, a REST join). */
  async function announceFromDb (userId: number, roomIds: number[] | undefined, status: 'online' | 'offline'): Promise<void> {
    const user = await findUserById(app.db, userId)
    if (user === undefined) return
    announce(fanout, user, roomIds ?? await roomIdsOfUser(app.db, userId), status)
  }
  const presence = opts.redisUrl === undefined
    ? localPresence()
    : redisPresence({
      url: opts.redisUrl,
      scope: opts.scope,
      log: app.log,
      ttlMs: opts.presenceTtlMs,
      onSwept: userIds => {
        for (const userId of userIds) {
          announceFromDb(userId, undefined, 'offline').catch((err: unknown) => { app.log.warn({ err }, 'could not announce a swept user offline') })
        }
      }
    })
  const typing = new Throttle(TYPING_INTERVAL_MS)
  app.decorate('realtime', { hub, fanout, presence, typing })

  const unsubscribe = app.events.subscribe(event => {
    if (event.type === 'member:joined') {
      fanout.publishJoin(event.user_id, event.room_id)
      // A new member who is online shows up as online to the room's other members.
      presence.online([event.user_id])
        .then(async online => { if (online.has(event.user_id)) await announceFromDb(event.user_id, [event.room_id], 'online') })
        .catch((err: unknown) => { app.log.warn({ err }, 'could not announce a new member\'s presence') })
    } else if (event.type === 'user:revoked') {
      fanout.publishRevoke(event.user_id, event.token_version)
    } else {
      fanout.publishRoom(event.room_id, Buffer.from(JSON.stringify({ type: event.type, payload: event.payload })), event.payload.seq)
    }
  })

  // Before @fastify/websocket's own preClose (which closes without a code): every socket gets 1001.
  app.addHook('preClose', async () => {
    // While closing, Fastify answers every request with its own 503 before any hook runs, so
    // @fastify/websocket never destroys the socket of a refused upgrade: it stayed half-open and held
    // server.close() (and the process) until close-with-grace's 10 s limit. End it once answered.
    app.server.on('upgrade', (_request, socket) => { socket.end(() => socket.destroy()) })
    const sockets = [...app.websocketServer.clients]
    if (sockets.length === 0) return
    const closed = sockets.map(socket => new Promise<void>(resolve => {
      if (socket.readyState === socket.CLOSED) resolve()
      else socket.once('close', () => resolve())
    }))
    for (const socket of sockets) socket.close(CloseCode.GOING_AWAY, 'Server shutting down')
    let timer: NodeJS.Timeout | undefined
    await Promise.race([Promise.all(closed), new Promise(resolve => { timer = setTimeout(resolve, CLOSE_GRACE_MS) })])
    clearTimeout(timer)
    for (const socket of sockets) socket.terminate()
  })

  await app.register(fastifyWebsocket, {
    options: { maxPayload: opts.maxPayload ?? BODY_MAX_BYTES },
    errorHandler (err, socket, request) {
      request.log.warn({ err }, 'websocket error')
      // A protocol error (an oversize frame: 1009) already started the closing handshake with
      // its code; let it finish (ws enforces a timeout). Anything else: drop the socket.
      if (socket.readyState !== socket.CLOSING) socket.terminate()
    }
  })

  const heartbeat = setInterval(() => {
    typing.prune()
    for (const client of hub.clients) {
      if (!client.alive) {
        client.socket.terminate()
        continue
      }
      client.alive = false
      client.socket.ping()
    }
  }, opts.heartbeatMs ?? 25_000)
  heartbeat.unref()

  app.addHook('onClose', async () => {
    clearInterval(heartbeat)
    unsubscribe()
    await presence.close()
    await fanout.close()
  })
}, { name: 'realtime', dependencies: ['auth', 'events', 'db'] })
