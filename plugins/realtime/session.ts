import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { RawData, WebSocket } from 'ws'
import { messagesAfterSeq } from '../../db/messages.js'
import { memberIdsOfRoom } from '../../db/rooms.js'
import { isDatabaseUnavailable } from '../errors.js'
import { assertMember, sendMessage } from '../../src/chat/messages.js'
import { joinRoom } from '../../src/chat/rooms.js'
import { AppError } from '../../src/errors.js'
import { type ClientPayload, MAX_CATCH_UP, type ServerPayload } from '../../src/schemas/realtime.js'
import { type ClientFrame, errorFrame, parseClientFrame } from '../../routes/ws/frames.js'
import { type Client, CloseCode } from './hub.js'
import { announce } from './presence.js'

type Internal = (err: unknown) => { error: string, code: string }

/** Frames a socket may have waiting; past this the server stops reading from it until they are done. */
const MAX_PENDING_FRAMES = 32
/** Abuse: a socket whose sends the rate limit refused this many times within ABUSE_WINDOW_MS is closed (1008) after its error frame. */
export const ABUSE_REFUSALS = 10
export const ABUSE_WINDOW_MS = 10_000
/** Longest delay a Node.js timer takes; a token that lives longer is checked again when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1

/** Who the socket belongs to and what it starts with, looked up before the upgrade. */
export interface SocketStart {
  user: { id: number, username: string }
  /** The user's rooms: the socket is subscribed to them the moment it opens. */
  roomIds: number[]
  /** `?since=`: caught up at once, as a `sync` frame would be. */
  since?: ClientPayload<'sync'>['rooms'] | undefined
  /** When the token expires (seconds since the epoch): the socket is closed with 4401 then. */
  exp?: number | undefined
  /** The token's version (`ver`): revoking it closes the socket with 4401. */
  tokenVersion?: number | undefined
}

/**
 * Serves one authenticated socket: subscribes it to the user's rooms, announces the user online
 * when this is their first socket, then handles its frames one at a time, in the order they
 * arrived. A refused frame gets an `error` frame; the socket stays open, unless it keeps hitting
 * the send rate limit (1008). It is closed with 4401 when its token expires.
 */
export function serveSocket (app: FastifyInstance, socket: WebSocket, request: FastifyRequest, start: SocketStart): void {
  const { hub, presence, fanout } = app.realtime
  const { user } = start
  const client = hub.add(socket, user.id, start.roomIds, start.tokenVersion)
  const log = request.log

  // Online/offline in the order the socket opened and closed (the store answers in order).
  const online = presence.connected(user.id)
    .then(first => { if (first) announce(fanout, user, start.roomIds, 'online') })
    .catch((err: unknown) => { log.warn({ err }, 'presence: could not count a socket in') })

  let queue = Promise.resolve()
  let pending = 0
  function enqueue (work: () => Promise<void>): void {
    if (++pending === MAX_PENDING_FRAMES) socket.pause()
    queue = queue
      .then(work)
      .catch(err => refused(err))
      .finally(() => { if (--pending === MAX_PENDING_FRAMES / 2) socket.resume() })
  }
  if (start.since !== undefined) {
    const rooms = start.since
    enqueue(async () => { await syncRooms(app, client, rooms, internal) })
  }
  socket.on('message', (data: RawData, isBinary: boolean) => {
    enqueue(async () => { await handle(app, client, request, start.user, parseClientFrame(data, isBinary), internal) })
  })
  socket.on('pong', () => { client.alive = true })

  let expiry: NodeJS.Timeout | undefined
  const closeWhenExpired = (): void => {
    const left = (start.exp ?? Infinity) * 1000 - Date.now()
    if (left === Infinity) return
    if (left > 0) {
      expiry = setTimeout(closeWhenExpired, Math.min(left, MAX_TIMER_MS))
      return
    }
    log.info({ userId: user.id }, 'closing a websocket whose token expired (4401)')
    socket.close(CloseCode.UNAUTHORIZED, 'Token expired')
  }
  closeWhenExpired()

  socket.on('close', () => {
    clearTimeout(expiry)
    hub.remove(client)
    const rooms = client.roomsAtRemoval
    online
      .then(async () => await presence.disconnected(user.id))
      .then(last => { if (last) announce(fanout, user, rooms, 'offline') })
      .catch((err: unknown) => { log.warn({ err }, 'presence: could not count a socket out') })
  })

  /** The error frame; a socket that keeps sending past the rate limit is closed after it. */
  function refused (err: unknown): void {
    hub.send(client, JSON.stringify(errorFrame(err, internal)))
    if (!(err instanceof AppError && err.statusCode === 429)) return
    const now = Date.now()
    const times = client.refusedSends
    times.push(now)
    while (times.length > 0 && now - times[0]! > ABUSE_WINDOW_MS) times.shift()
    if (times.length >= ABUSE_REFUSALS) {
      log.warn({ userId: user.id }, 'closing a websocket that keeps sending past the rate limit (1008)')
      socket.close(CloseCode.POLICY_VIOLATION, 'Policy violation: too many messages past the rate limit')
    }
  }

  function internal (err: unknown): { error: string, code: string } {
    if (isDatabaseUnavailable(err)) {
      log.warn({ err }, 'database unavailable (websocket frame)')
      return { error: 'The service is temporarily unavailable; please retry shortly', code: 'DATABASE_UNAVAILABLE' }
    }
    log.error({ err }, 'unexpected error handling a websocket frame')
    return { error: 'Internal server error', code: 'INTERNAL' }
  }
}

async function handle (
  app: FastifyInstance, client: Client, request: FastifyRequest, user: SocketStart['user'], frame: ClientFrame, internal: Internal
): Promise<void> {
  const { hub } = app.realtime
  switch (frame.type) {
    case 'message:send': {
      await app.checkSendLimit(request)
      // The sender's own sockets get the message as `message:new`, like every member's.
      await sendMessage(app, client.userId, frame.payload)
      return
    }
    case 'room:join': {
      const roomId = frame.payload.room_id
      const wasSubscribed = client.rooms.has(roomId)
      // Subscribe before joining, so no message stored right after the join slips past this socket.
      hub.subscribe(client, roomId)
      try {
        await joinRoom(app, client.userId, roomId)
      } catch (err) {
        if (!wasSubscribed) hub.unsubscribe(client, roomId)
        throw err
      }
      // joinRoom's member:joined event subscribes the user's other sockets, here and on other instances.
      hub.send(client, JSON.stringify({ type: 'room:joined', payload: { room_id: roomId } }))
      await sendPresenceList(app, client, roomId)
      return
    }
    case 'sync': {
      await syncRooms(app, client, frame.payload.rooms, internal)
      return
    }
    case 'typing': {
      const roomId = frame.payload.room_id
      await assertMember(app.db, client.userId, roomId)
      // Over the throttle: dropped without a word (clients repeat typing every few seconds anyway).
      if (!app.realtime.typing.allow(`${client.userId}:${roomId}`)) return
      const payload: ServerPayload<'typing'> = { room_id: roomId, user_id: user.id, username: user.username }
      app.realtime.fanout.publishRoom(roomId, Buffer.from(JSON.stringify({ type: 'typing', payload })), undefined, client.userId)
      return
    }
    case 'presence:get': {
      await assertMember(app.db, client.userId, frame.payload.room_id)
      await sendPresenceList(app, client, frame.payload.room_id)
    }
  }
}

/** `presence:list`: the room's members who have a socket open, on any instance. The caller checked membership. */
async function sendPresenceList (app: FastifyInstance, client: Client, roomId: number): Promise<void> {
  const members = await memberIdsOfRoom(app.db, roomId)
  const online = await app.realtime.presence.online(members)
  const payload: ServerPayload<'presence:list'> = { room_id: roomId, user_ids: members.filter(id => online.has(id)) }
  app.realtime.hub.send(client, JSON.stringify({ type: 'presence:list', payload }))
}

/**
 * The catch-up of a `sync` frame or of `?since=` on connect: per room, the missed messages in
 * order (or `sync:reset`), an `error` naming the room for a room the user may not read, then `sync:done`.
 */
export async function syncRooms (app: FastifyInstance, client: Client, rooms: ClientPayload<'sync'>['rooms'], internal: Internal): Promise<void> {
  const { hub } = app.realtime
  const done: Record<string, number> = {}
  for (const [key, lastSeq] of Object.entries(rooms)) {
    const roomId = Number(key)
    try {
      const upTo = await catchUp(app, client, roomId, lastSeq)
      if (upTo !== undefined) done[key] = upTo
    } catch (err) {
      const refused = errorFrame(err, internal)
      refused.payload.room_id = roomId
      hub.send(client, JSON.stringify(refused))
    }
  }
  hub.send(client, JSON.stringify({ type: 'sync:done', payload: { rooms: done } }))
}

/**
 * Sends a room's messages after `lastSeq`, in order, then lets live ones through: while the
 * catch-up is read and sent, live events for the room are held; afterwards those it already
 * covered are dropped and the rest sent in seq order. Returns the last seq the client now has,
 * or undefined when it is too far behind (`sync:reset`).
 */
async function catchUp (app: FastifyInstance, client: Client, roomId: number, lastSeq: number): Promise<number | undefined> {
  const { hub } = app.realtime
  await assertMember(app.db, client.userId, roomId)
  // Subscribed (a room joined over REST since the socket opened is picked up here) and holding live events.
  hub.subscribe(client, roomId)
  if (!client.rooms.has(roomId)) return undefined // the socket closed meanwhile
  const held: Array<{ seq: number, frame: Buffer }> = []
  client.syncing.set(roomId, held)
  let floor: number | undefined
  try {
    const missed = await messagesAfterSeq(app.db, roomId, lastSeq, MAX_CATCH_UP + 1)
    if (missed.length > MAX_CATCH_UP) {
      client.floor.delete(roomId)
      hub.send(client, JSON.stringify({ type: 'sync:reset', payload: { room_id: roomId } }))
      return undefined
    }
    const seen = client.liveSeen.get(roomId)
    for (const message of missed) {
      if (seen?.has(message.seq) === true) continue
      await hub.sendPaced(client, JSON.stringify({ type: 'message:new', payload: message }))
    }
    floor = Math.max(lastSeq, missed.at(-1)?.seq ?? 0)
    client.floor.set(roomId, floor)
    client.liveSeen.delete(roomId)
    return Math.max(floor, ...held.map(h => h.seq))
  } finally {
    // Whatever happened, live events held meanwhile are not lost: those past the catch-up go out in order.
    client.syncing.delete(roomId)
    const after = floor ?? -1
    for (const { frame } of held.filter(h => h.seq > after).sort((x, y) => x.seq - y.seq)) hub.send(client, frame)
  }
}
