import { findByClientMsgId, insertMessage, isDuplicateClientMsgId, listMessages } from '../../db/messages.js'
import { roomAccess } from '../../db/rooms.js'
import type { Db } from '../../db/database.js'
import { badRequest, conflict, forbidden, notFound } from '../errors.js'
import type { HistoryPage, MessageView, SendMessageInput } from '../schemas/messages.js'
import type { ChatBus } from './events.js'
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

/**
 * Sends a message: the one path for REST and WebSocket. Stores it if the user is a member (one
 * statement), and only after the row is committed publishes `message:new` to the room. With a
 * `client_msg_id` the user already used, the database refuses the row and the original message
 * is returned instead.
 */
export async function sendMessage ({ db, bus }: { db: Db, bus: ChatBus }, userId: number, input: SendMessageInput): Promise<SentMessage> {
  // A lone surrogate can't be stored: PostgreSQL would keep U+FFFD, and a retry would then differ
  // from what was stored. Normalised first, so what is stored is what is compared.
  const content = checkMessageText(input.content.toWellFormed())
  const row = { room_id: input.room_id, user_id: userId, content, client_msg_id: input.client_msg_id?.toWellFormed() }
  let message: MessageView | undefined
  try {
    message = await insertMessage(db, row)
    if (message === undefined) {
      // Nothing stored: say why (404 or 403). A user who joined since the statement ran is a
      // member now: the send is tried once more.
      await assertMember(db, userId, input.room_id)
      message = await insertMessage(db, row)
    }
  } catch (err) {
    // A retry of a send already stored (or two copies racing): the database kept one.
    const original = row.client_msg_id !== undefined && isDuplicateClientMsgId(err) ? await findByClientMsgId(db, userId, row.client_msg_id) : undefined
    if (original === undefined) throw err
    return replay(original, input.room_id, content)
  }
  // The user left again in between.
  if (message === undefined) throw forbidden('You are not a member of this room', 'NOT_A_MEMBER')
  bus.publish({ type: 'message:new', room_id: message.room_id, payload: message })
  return { message, created: true }
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
