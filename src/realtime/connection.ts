import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { RawData, WebSocket } from 'ws'
import { messagesAfterSeq } from '../../db/messages.js'
import { roomAccess } from '../../db/rooms.js'
import { isDatabaseUnavailable } from '../../plugins/errors.js'
import { sendMessage } from '../domain/messages.js'
import { joinRoom } from '../domain/rooms.js'
import { forbidden, notFound } from '../errors.js'
import { MAX_CATCH_UP } from '../schemas/realtime.js'
import { type ClientFrame, errorFrame, parseClientFrame } from './frames.js'
import type { Client } from './hub.js'

type Internal = (err: unknown) => { error: string, code: string }

/** Frames a socket may have waiting; past this the server stops reading from it until they are done. */
const MAX_PENDING_FRAMES = 32

/**
 * Serves one authenticated socket: subscribes it to the user's rooms, then handles its frames one
 * at a time, in the order they arrived. A refused frame gets an `error` frame; the socket stays open.
 */
export function serveSocket (app: FastifyInstance, socket: WebSocket, request: FastifyRequest, roomIds: number[]): void {
  const { hub } = app.realtime
  const client = hub.add(socket, request.user.id, roomIds)
  const log = request.log

  let queue = Promise.resolve()
  let pending = 0
  socket.on('message', (data: RawData, isBinary: boolean) => {
    if (++pending === MAX_PENDING_FRAMES) socket.pause()
    queue = queue
      .then(async () => { await handle(app, client, request, parseClientFrame(data, isBinary), internal) })
      .catch(err => { hub.send(client, JSON.stringify(errorFrame(err, internal))) })
      .finally(() => { if (--pending === MAX_PENDING_FRAMES / 2) socket.resume() })
  })
  socket.on('pong', () => { client.alive = true })
  socket.on('close', () => { hub.remove(client) })

  function internal (err: unknown): { error: string, code: string } {
    if (isDatabaseUnavailable(err)) {
      log.warn({ err }, 'database unavailable (websocket frame)')
      return { error: 'The service is temporarily unavailable; please retry shortly', code: 'DATABASE_UNAVAILABLE' }
    }
    log.error({ err }, 'unexpected error handling a websocket frame')
    return { error: 'Internal server error', code: 'INTERNAL' }
  }
}

async function handle (app: FastifyInstance, client: Client, request: FastifyRequest, frame: ClientFrame, internal: Internal): Promise<void> {
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
      return
    }
    case 'sync': {
      const done: Record<string, number> = {}
      for (const [key, lastSeq] of Object.entries(frame.payload.rooms)) {
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
  }
}

/**
 * Sends a room's messages after `lastSeq`, in order, then lets live ones through: while the
 * catch-up is read and sent, live events for the room are held; afterwards those it already
 * covered are dropped and the rest sent in seq order. Returns the last seq the client now has,
 * or undefined when it is too far behind (`sync:reset`).
 */
async function catchUp (app: FastifyInstance, client: Client, roomId: number, lastSeq: number): Promise<number | undefined> {
  const { hub } = app.realtime
  const access = await roomAccess(app.db, roomId, client.userId)
  if (!access.exists) throw notFound('Room not found', 'ROOM_NOT_FOUND')
  if (!access.member) throw forbidden('You are not a member of this room', 'NOT_A_MEMBER')
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
