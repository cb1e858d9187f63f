import { findByClientMsgId, type InsertOutcome, insertMessages, isDuplicateClientMsgId, listMessages, type NewMessage } from '../../db/messages.js'
import { roomAccess } from '../../db/rooms.js'
import type { Db } from '../../db/database.js'
import { badRequest, conflict, forbidden, isDatabaseUnavailable, notFound } from '../errors.js'
import type { HistoryPage, MessageView, SendMessageInput } from '../schemas/messages.js'
import type { ChatBus } from './events.js'
import type { SendQueue } from './send-queue.js'
import { checkMessageText } from './text.js'

/** 404 for a room that doesn't exist, 403 for a user who is not a member (sends, history, typing, presence, sync). */
export async function assertMember (db: Db, userId: number, roomId: number): Promise<void> {
  const access = await roomAccess(db, roomId, userId)
  if (!access.exists) throw notFound('Room not found', 'ROOM_NOT_FOUND')
  if (!access.member) throw forbidden('You are not a member of this room', 'NOT_A_MEMBER')
}

export interface SentMessage {
  message: MessageView
  /** False when this was a retry (same client_msg_id): the original is returned, nothing new stored or published. */
  created: boolean
}

/** The app's sends waiting for their room's statement (group commit: src/chat/send-queue.ts, plugins/sends.ts). */
export type MessageSends = SendQueue<NewMessage, InsertOutcome>

const fulfilled = <R>(value: R): PromiseSettledResult<R> => ({ status: 'fulfilled', value })
const rejected = (reason: unknown): PromiseSettledResult<never> => ({ status: 'rejected', reason })

/**
 * The batch runner of `MessageSends`: stores the sends of one room that arrived together in one
 * statement, then (committed) publishes `message:new` for each stored message, in seq order. A
 * batch that fails as a whole (a client_msg_id a concurrent statement stored after this one's
 * snapshot) is sent again one send at a time, so one send's fault is only its own.
 */
export async function storeSends ({ db, bus }: { db: Db, bus: ChatBus }, roomId: number, sends: NewMessage[]): Promise<Array<PromiseSettledResult<InsertOutcome>>> {
  let settled: Array<PromiseSettledResult<InsertOutcome>>
  try {
    settled = (await insertMessages(db, roomId, sends)).map(fulfilled)
  } catch (err) {
    if (isDatabaseUnavailable(err) || (sends.length === 1 && !isDuplicateClientMsgId(err))) throw err
    settled = []
    for (const send of sends) {
      settled.push(await insertMessages(db, roomId, [send]).then(([outcome]) => fulfilled(outcome!),
        (err: unknown) => isDuplicateClientMsgId(err) ? fulfilled<InsertOutcome>({ status: 'duplicate' }) : rejected(err)))
    }
  }
  for (const result of settled) {
    if (result.status === 'fulfilled' && result.value.status === 'stored') {
      bus.publish({ type: 'message:new', room_id: roomId, payload: result.value.message })
    }
  }
  return settled
}

/**
 * Sends a message: the one path for REST and WebSocket. Stored if the user is a member, together
 * with the other sends that reach the room while its previous statement runs (one statement, see
 * `storeSends`), and published as `message:new` once committed. With a `client_msg_id` the user
 * already used, nothing is stored and the original message is returned instead.
 */
export async function sendMessage ({ db, sends }: { db: Db, sends: MessageSends }, userId: number, input: SendMessageInput): Promise<SentMessage> {
  // A lone surrogate can't be stored: PostgreSQL would keep U+FFFD, and a retry would then differ
  // from what was stored. Normalised first, so what is stored is what is compared.
  const content = checkMessageText(input.content.toWellFormed())
  const send: NewMessage = { user_id: userId, content, client_msg_id: input.client_msg_id?.toWellFormed() ?? null, reply_to: input.reply_to ?? null }
  // A second try when the first found nothing to refuse it for any longer: the user joined since
  // the statement ran, or the original of a retry is gone.
  for (let attempt = 0; attempt < 2; attempt++) {
    const outcome = await sends.submit(input.room_id, send)
    if (outcome.status === 'stored') return { message: outcome.message, created: true }
    if (outcome.status === 'invalid_reply_to') throw badRequest('reply_to must be a message of this room that is not deleted', 'INVALID_REPLY_TO')
    if (outcome.status === 'not_member') {
      // Nothing stored: say why (404 or 403).
      await assertMember(db, userId, input.room_id)
    } else {
      // A retry of a send already stored (or two copies racing): the database kept one.
      const original = await findByClientMsgId(db, userId, send.client_msg_id!)
      if (original !== undefined) return replay(original, input.room_id, content)
    }
  }
  // The user left again in between.
  throw forbidden('You are not a member of this room', 'NOT_A_MEMBER')
}

/** A retry must be the same send: the same room and content. Anything else reuses an id by mistake. */
function replay (original: MessageView, roomId: number, content: string): SentMessage {
  if (original.room_id !== roomId || original.content !== content) {
    throw conflict('client_msg_id was already used for a different message', 'CLIENT_MSG_ID_REUSED')
  }
  return { message: original, created: false }
}

export async function roomHistory ({ db }: { db: Db }, userId: number, roomId: number, page: HistoryPage): Promise<MessageView[]> {
  if (page.before !== undefined && page.after !== undefined) throw badRequest('use either before or after, not both')
  await assertMember(db, userId, roomId)
  return await listMessages(db, roomId, page)
}
