import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Session } from '../../plugins/realtime/session.js'
import { assertMember } from '../../src/chat/access.js'
import { sendMessage } from '../../src/chat/messages.js'
import { announceTyping, onlineMembers } from '../../src/chat/presence.js'
import { joinRoom } from '../../src/chat/rooms.js'
import { roomCatchUp } from '../../src/chat/sync.js'
import { type ClientFrameType, type ClientPayload, MAX_CATCH_UP } from '../../src/schemas/realtime.js'

/** How much of the frame budget a `sync` costs beyond its frame: a unit per this many rooms, and per this many rows replayed. */
const SYNC_ROOMS_PER_UNIT = 10
const SYNC_ROWS_PER_UNIT = 100
/** What a room's replay reserves before it is read: the cost of the longest one. */
const ROWS_RESERVED = Math.floor(MAX_CATCH_UP / SYNC_ROWS_PER_UNIT)

export type FrameHandlers = { [T in ClientFrameType]: (payload: ClientPayload<T>, session: Session) => Promise<void> }

/**
 * One handler per client frame type, each read like a REST route: the payload is already
 * validated (by the REST body validator), then it authorizes and calls the same domain function
 * the REST route calls. What a handler throws becomes an `error` frame.
 */
export function frameHandlers (app: FastifyInstance, request: FastifyRequest): FrameHandlers {
  /** `presence:list`: the room's members who have a socket open, on any instance. The caller checked membership. */
  async function sendPresenceList (session: Session, roomId: number): Promise<void> {
    const userIds = await onlineMembers(app.db, app.realtime.presence.online, roomId)
    session.send({ type: 'presence:list', payload: { room_id: roomId, user_ids: userIds } })
  }

  const handlers: FrameHandlers = {
    async 'message:send' (payload, session) {
      await app.checkSendLimit(request)
      // The sender's own sockets get the message as `message:new`, like every member's. A send
      // without attachments is in its room's queue once sendMessage has taken its first step (it
      // checks the text and submits before it awaits anything): the socket's next frame need not
      // wait for its statement. One with attachments has a transaction of its own: it is waited for.
      const sent = sendMessage(app, session.userId, payload)
      if ((payload.attachment_ids ?? []).length === 0) await session.finishLater(sent)
      else await sent
    },

    async 'room:join' ({ room_id: roomId }, session) {
      const wasSubscribed = session.listensTo(roomId)
      // Subscribe before joining, so no message stored right after the join slips past this socket.
      session.subscribe(roomId)
      try {
        // A new member's member:joined event subscribes the user's other sockets, here and on other instances.
        await joinRoom(app, session.userId, roomId)
      } catch (err) {
        if (!wasSubscribed) session.unsubscribe(roomId)
        throw err
      }
      session.send({ type: 'room:joined', payload: { room_id: roomId } })
      await sendPresenceList(session, roomId)
    },

    async sync ({ rooms }, session) {
      const entries = Object.entries(rooms)
      session.charge(Math.ceil(entries.length / SYNC_ROOMS_PER_UNIT))
      const done: Record<string, number> = {}
      for (const [key, lastSeq] of entries) {
        const roomId = Number(key)
        try {
          // A room's replay is paid for before it is read, as if it were the longest (MAX_CATCH_UP
          // rows); what it turns out not to need is given back (all of it when it was never read:
          // its socket closed while it waited for the user's previous replay). So the user's
          // sockets together have at most the budget's worth of replays queued, however many syncs
          // they send in parallel, and the hub serves them one at a time.
          session.charge(ROWS_RESERVED)
          let used = 0
          const upTo = await session.catchUp(roomId, async () => {
            const result = await roomCatchUp(app.db, session.userId, roomId, lastSeq)
            used = result.reset ? 0 : Math.floor(result.frames.length / SYNC_ROWS_PER_UNIT)
            return result
          }).finally(() => { session.refund(ROWS_RESERVED - used) })
          if (upTo !== undefined) done[key] = upTo
        } catch (err) {
          session.refuse(err, { room_id: roomId })
        }
      }
      session.send({ type: 'sync:done', payload: { rooms: done } })
    },

    async typing ({ room_id: roomId }, session) {
      // A socket that does not listen to the room (a non-member's, a former member's: the hub stops
      // it listening at `room:removed`) is answered every time, as a send would be: 404 for a room
      // it may not see, 403 NOT_A_MEMBER for a public one; never dropped unanswered by the throttle.
      if (!session.listensTo(roomId)) await assertMember(app.db, session.userId, roomId)
      // A member's typing over the throttle is dropped without a word, before any query (clients repeat typing every few seconds anyway).
      if (!app.realtime.typing.allow(`${session.userId}:${roomId}`)) return
      const state = await app.authState(session.userId)
      if (state === undefined) return
      await announceTyping(app, { id: session.userId, username: state.username }, roomId)
    },

    async 'presence:get' ({ room_id: roomId }, session) {
      await assertMember(app.db, session.userId, roomId)
      await sendPresenceList(session, roomId)
    }
  }
  return handlers
}
