import { findByClientMsgId, insertMessages, isDuplicateClientMsgId, isReplyTarget, listMessages, type NewMessage } from '../../db/messages.js'
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

/** The app's sends waiting for a statement (group commit: src/chat/send-queue.ts, plugins/sends.ts). */
export type MessageSends = SendQueue<NewMessage, MessageView | undefined>

const fulfilled = <R>(value: R): PromiseSettledResult<R> => ({ status: 'fulfilled', value })
const rejected = (reason: unknown): PromiseSettledResult<never> => ({ status: 'rejected', reason })

/**
 * The batch runner of `MessageSends`: stores the sends that waited together in one statement, then
 * (committed) publishes `message:new` for each stored message, a room's in seq order. Each send's
 * answer is its message, or undefined when it was refused. A second send of one client_msg_id in
 * the batch is refused without being sent (its first is the original). A batch that fails as a
 * whole (a client_msg_id a concurrent statement stored after this one's snapshot, a deadlock with
 * another instance) is sent again one send at a time, so one send's fault is only its own.
 */
export async function storeSends ({ db, bus }: { db: Db, bus: ChatBus }, sends: NewMessage[]): Promise<Array<PromiseSettledResult<MessageView | undefined>>> {
  const seen = new Set<string>()
  const firsts: number[] = []
  sends.forEach((send, i) => {
    const key = send.client_msg_id === null ? undefined : `${send.user_id}:${send.client_msg_id}`
    if (key !== undefined && seen.has(key)) return
    if (key !== undefined) seen.add(key)
    firsts.push(i)
  })
  const batch = firsts.map(i => sends[i]!)
  let stored: Array<PromiseSettledResult<MessageView | undefined>>
  try {
    stored = (await insertMessages(db, batch)).map(fulfilled)
  } catch (err) {
    if (isDatabaseUnavailable(err) || (batch.length === 1 && !isDuplicateClientMsgId(err))) throw err
    stored = []
    for (const send of batch) {
      stored.push(await insertMessages(db, [send]).then(([message]) => fulfilled(message),
        (err: unknown) => isDuplicateClientMsgId(err) ? fulfilled(undefined) : rejected(err)))
    }
  }
  for (const result of stored) {
    if (result.status === 'fulfilled' && result.value !== undefined) bus.publish({ type: 'message:new', room_id: result.value.room_id, payload: result.value })
  }
  const answers: Array<PromiseSettledResult<MessageView | undefined>> = sends.map(() => fulfilled(undefined))
  firsts.forEach((i, k) => { answers[i] = stored[k]! })
  return answers
}

/**
 * Sends a message: the one path for REST and WebSocket. Stored if the user is a member, in one
 * statement with the other sends waiting at that moment (see `storeSends`), and published as
 * `message:new` once committed. With a `client_msg_id` the user already used, nothing is stored and
 * the original message is returned instead.
 */
export async function sendMessage ({ db, sends }: { db: Db, sends: MessageSends }, userId: number, input: SendMessageInput): Promise<SentMessage> {
  // A lone surrogate can't be stored: PostgreSQL would keep U+FFFD, and a retry would then differ
  // from what was stored. Normalised first, so what is stored is what is compared.
  const content = checkMessageText(input.content.toWellFormed())
  const send: NewMessage = { room_id: input.room_id, user_id: userId, content, client_msg_id: input.client_msg_id?.toWellFormed() ?? null, reply_to: input.reply_to ?? null }
  // A second try when nothing refuses the send any longer: the user joined since the statement
  // ran, or the original of a retry is gone.
  for (let attempt = 0; attempt < 2; attempt++) {
    const message = await sends.submit(send)
    if (message !== undefined) return { message, created: true }
    // Refused: say why. 404 or 403 first (nothing about the room is told to a non-member).
    await assertMember(db, userId, input.room_id)
    // A retry of a send already stored (or two copies racing): the database kept one.
    const original = send.client_msg_id === null ? undefined : await findByClientMsgId(db, userId, send.client_msg_id)
    if (original !== undefined) return replay(original, input.room_id, content)
    if (send.reply_to !== null && !await isReplyTarget(db, input.room_id, send.reply_to)) {
      throw badRequest('reply_to must be a message of this room that is not deleted', 'INVALID_REPLY_TO')
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
