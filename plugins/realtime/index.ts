import fastifyWebsocket from '@fastify/websocket'
import type { FastifyBaseLogger } from 'fastify'
import fp from 'fastify-plugin'
import type { Duplex } from 'node:stream'
import type { WebSocket } from 'ws'
import { lastSeqsOfRooms, roomsOfUser } from '../../db/rooms.js'
import type { Config } from '../../src/config.js'
import { announcePresence, announcePresenceOf } from '../../src/chat/presence.js'
import { feedAfter } from '../../src/chat/feed.js'
import { FreshReads } from '../../src/fresh-reads.js'
import { BODY_MAX_BYTES } from '../../src/limits.js'
import { TYPING_INTERVAL_MS } from '../../src/schemas/realtime.js'
import { FrameBudget } from './budget.js'
import { redisFanout } from './fanout.js'
import { CloseCode, Hub, type Place } from './hub.js'
import { localPresence, type Presence, redisPresence } from './presence.js'
import { type ServeOptions, serveSession, Session } from './session.js'
import { Throttle } from './throttle.js'

/** What a socket starts with, read before the upgrade completes so it is subscribed the moment it opens. */
export interface SocketStart {
  user: { id: number, username: string }
  /** The token's version (`ver`): revoking it closes the socket with 4401. */
  tokenVersion: number
  /** The upgrade's TCP connection (the socket's frames are written to it). */
  connection: Duplex
  /** Its place under the per-user and per-address socket caps (see `Hub.reserve`). */
  place: Place
  /** The user's rooms, each with its last seq as read before the socket opened: its live frames start after it (none read for a socket past a cap: it is closed as it opens). */
  rooms: Array<{ room_id: number, last_seq: number }>
  log: FastifyBaseLogger
}

declare module 'fastify' {
  interface FastifyInstance {
    realtime: {
      /** This instance's sockets. */
      hub: Hub
      /** Who has a socket open, on any instance. */
      presence: Presence
      /** `typing` events forwarded per user and room: one per 2 s. */
      typing: Throttle
      /**
       * For a socket about to open (the upgrade's `connection`): refuses it (429) while the user's
       * frame budget is spent, holds its place under the socket caps (a unit of the budget when it
       * is past one), and reads the user's rooms.
       */
      prepare: (user: SocketStart['user'], tokenVersion: number, address: string, connection: Duplex, log: FastifyBaseLogger) => Promise<SocketStart>
      /** Takes in an upgraded socket and serves it (see `serveSession`). */
      open: (socket: WebSocket, start: SocketStart, options: OpenOptions) => void
    }
  }
}

export interface RealtimeOptions {
  config: Pick<Config, 'redisUrl' | 'scope' | 'websocket' | 'rateLimit' | 'feed'>
  /** Ping every socket this often; a socket that has not answered the previous ping is dropped. Default 25 s. */
  heartbeatMs?: number
  /** Close (1013) a socket whose unsent buffer passes this. Default 1 MiB. */
  maxBufferedBytes?: number
  /** With Redis: how long a crashed instance's users stay online (its presence share's time to live). Default 30 s. */
  presenceTtlMs?: number
}

export interface OpenOptions extends ServeOptions {
  /** The rooms `start` catches up on (`?since=`): their live frames are held from the moment the socket opens until their replay is sent. */
  catchingUp?: number[]
}

/** How long shutdown waits for clients to finish the closing handshake before dropping them. */
const CLOSE_GRACE_MS = 2000
/** The frame budget holds this many seconds' worth of its rate: a client may burst that much. */
const BUDGET_BURST_S = 6

/**
 * @fastify/websocket, the hub of this instance's sockets, and what feeds it: every event on the
 * bus (this instance's, and with Redis the other instances') is delivered to the sockets it
 * concerns; with Redis, this instance's events are carried to the others.
 */
export default fp<RealtimeOptions>(async function realtimePlugin (app, opts) {
  const { config } = opts
  const hub = new Hub({
    maxBufferedBytes: opts.maxBufferedBytes ?? 1024 * 1024,
    maxSocketsPerUser: config.websocket.maxSocketsPerUser,
    maxSocketsPerAddress: config.websocket.maxSocketsPerAddress,
    onSlowConsumer: client => app.log.warn({ userId: client.userId }, 'closing a websocket that reads too slowly (1013)'),
    feed: {
      gapWaitMs: config.feed.gapWaitMs,
      readFeed: async (roomId, afterSeq, limit) => await feedAfter(app.db, roomId, afterSeq, limit),
      readLastSeqs: async roomIds => await lastSeqsOfRooms(app.db, roomIds),
      onGiveUp: (roomId, gap, err) => {
        app.log.error({ err, roomId, gap }, 'could not read missing feed frames from the database: delivering past them (clients close the gap with sync)')
      }
    }
  })
  const stopHub = app.bus.subscribe(event => {
    hub.handle(event)
    // Stored (the database's clock) to written to this instance's sockets (this machine's clock).
    if (event.type === 'message:new') app.metrics.observeFanout((Date.now() - new Date(event.payload.created_at).getTime()) / 1000)
  })
  const stopFanout = config.redisUrl === undefined
    ? () => {}
    : await redisFanout(app.bus, {
      url: config.redisUrl,
      scope: config.scope,
      log: app.log,
      onMissed: () => {
        hub.recheck().catch((err: unknown) => { app.log.error({ err }, 'could not look for feed frames missed while Redis was away: they arrive with the room\'s next frame') })
      }
    })
  const presence = config.redisUrl === undefined
    ? localPresence()
    : await redisPresence({
      url: config.redisUrl,
      scope: config.scope,
      log: app.log,
      ttlMs: opts.presenceTtlMs,
      onSwept: userIds => {
        for (const userId of userIds) {
          announcePresenceOf(app, userId, undefined, 'offline').catch((err: unknown) => { app.log.warn({ err }, 'could not announce a swept user offline') })
        }
      }
    })
  // A new member who is online shows up as online to the room's other members (once: where the join happened).
  const stopAnnouncing = app.bus.subscribe((event, remote) => {
    if (event.type !== 'member:joined' || remote) return
    const userId = event.payload.user.id
    presence.online([userId])
      .then(async online => { if (online.has(userId)) await announcePresenceOf(app, userId, [event.room_id], 'online') })
      .catch((err: unknown) => { app.log.warn({ err }, 'could not announce a new member\'s presence') })
  })
  const typing = new Throttle(TYPING_INTERVAL_MS)
  const { enabled, wsFrames } = config.rateLimit
  const budget = enabled ? new FrameBudget(wsFrames / 60 * BUDGET_BURST_S, wsFrames / 60) : undefined

  // A user's sockets opening at the same time share a read of their rooms (each one begun after the upgrade asked).
  const userRooms = new FreshReads(async (userId: number) => await roomsOfUser(app.db, userId))
  async function prepare (user: SocketStart['user'], tokenVersion: number, address: string, connection: Duplex, log: FastifyBaseLogger): Promise<SocketStart> {
    // A user who spent the frame budget is refused (429) before any work.
    budget?.check(user.id)
    const place = hub.reserve(user.id, address)
    // Past a cap the socket is closed as it opens (1013), and the attempt costs a unit: a user who
    // opens more sockets than allowed, to multiply their work, spends the budget on the refusals.
    if (!place.held) budget?.take(user.id, 1)
    // An upgrade that never completes (refused, or the client went away) gives its place back.
    if (connection.destroyed) hub.release(place)
    else connection.once('close', () => { hub.release(place) })
    try {
      // A socket past a cap is closed as it opens (1013): its rooms are not read.
      const rooms = place.held ? await userRooms.get(user.id) : []
      // What is left (the handshake, joining the hub, or the 1013) is done one socket a turn: a
      // burst of upgrades that shared a read would otherwise all go on in the turn it came back.
      await hub.nextTurn()
      return { user, tokenVersion, connection, place, log, rooms }
    } catch (err) {
      hub.release(place)
      throw err
    }
  }

  function open (socket: WebSocket, start: SocketStart, options: OpenOptions): void {
    const { user, log } = start
    const client = hub.add(socket, start.connection, start.place, start.tokenVersion)
    if (client === undefined) return
    app.markSeen(user.id)
    const catchingUp = options.catchingUp ?? []
    for (const roomId of catchingUp) hub.holdForCatchUp(client, roomId)
    for (const room of start.rooms) hub.subscribe(client, room.room_id, room.last_seq)
    const roomIds = start.rooms.map(room => room.room_id)
    // Online/offline in the order the socket opened and closed (the store answers in order).
    const online = presence.connected(user.id)
      .then(first => { if (first) announcePresence(app.bus, user, roomIds, 'online') })
      .catch((err: unknown) => { log.warn({ err }, 'presence: could not count a socket in') })
    serveSession(new Session(hub, client, log, budget), {
      ...options,
      start: async session => {
        try {
          await options.start?.(session)
        } finally {
          for (const roomId of catchingUp) hub.releaseHeld(client, roomId)
        }
      },
      onClose: session => {
        hub.remove(client)
        const rooms = client.roomsAtRemoval
        online
          .then(async () => await presence.disconnected(user.id))
          // Under the user's name now (they may have renamed themselves since the socket opened).
          .then(async last => { if (last) announcePresence(app.bus, { id: user.id, username: (await app.authState(user.id))?.username ?? user.username }, rooms, 'offline') })
          .catch((err: unknown) => { log.warn({ err }, 'presence: could not count a socket out') })
        options.onClose?.(session)
      }
    })
  }

  app.decorate('realtime', { hub, presence, typing, prepare, open })

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

  // An upgrade refused before @fastify/websocket's own onRequest hook saw it (load shedding, the
  // global rate limit) gets its HTTP answer, but @fastify/websocket destroys only the connections
  // of upgrades it marked: without this one stayed half-open (and held shutdown for 10 s).
  app.addHook('onResponse', (request, _reply, done) => {
    if (request.ws !== true && request.headers.upgrade?.toLowerCase() === 'websocket') request.raw.socket.destroy()
    done()
  })

  await app.register(fastifyWebsocket, {
    options: { maxPayload: BODY_MAX_BYTES },
    errorHandler (err, socket, request) {
      request.log.warn({ err }, 'websocket error')
      // A protocol error (an oversize frame: 1009) already started the closing handshake with
      // its code; let it finish (ws enforces a timeout). Anything else: drop the socket.
      if (socket.readyState !== socket.CLOSING) socket.terminate()
    }
  })

  const heartbeat = setInterval(() => {
    typing.prune()
    budget?.prune()
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
    stopAnnouncing()
    stopHub()
    hub.close()
    stopFanout()
    await presence.close()
  })
}, { name: 'realtime', dependencies: ['auth', 'bus', 'db', 'metrics'] })
