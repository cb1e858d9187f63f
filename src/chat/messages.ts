import { appendEvent, lockRoom } from '../../db/feed.js'
import { findByClientMsgId, insertMessages, isDuplicateClientMsgId, isReplyTarget, listMessages, listReplies, markDeleted, type MessageAccess, type MessageRow, messageFor, type NewMessage, roomOfMessage, updateContent } from '../../db/messages.js'
import { attachToMessage, markMessageFilesDeleted } from '../../db/attachments.js'
import { clearReactions } from '../../db/reactions.js'
import type { Db } from '../../db/database.js'
import { assertMember, assertNotMuted, assertReadsMessage, messageNotFound } from './access.js'
import { badRequest, conflict, forbidden, isDatabaseUnavailable } from '../errors.js'
import type { EditMessageInput, HistoryPage, MessageView, SendMessageInput } from '../schemas/messages.js'
import type { ChatBus, RoomFeedEvent } from './events.js'
import { isoOrNull } from './feed.js'
import { messageView, messageViews, newMessageView } from './message-views.js'
import type { SendQueue } from './send-queue.js'
import { checkMessageText } from './text.js'
import { purgeFiles } from './attachments.js'
import { ATTACHMENTS_MAX } from '../limits.js'
import type { Storage } from '../storage/index.js'

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
    stored = (await insertMessages(db, batch)).map(row => fulfilled(row === undefined ? undefined : newMessageView(row)))
  } catch (err) {
    if (isDatabaseUnavailable(err) || (batch.length === 1 && !isDuplicateClientMsgId(err))) throw err
    stored = []
    for (const send of batch) {
      stored.push(await insertMessages(db, [send]).then(([row]) => fulfilled(row === undefined ? undefined : newMessageView(row)),
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
 * the original message is returned instead. A send without attachments is submitted to the queue
 * before the first await: calls made one after the other keep their order in the room (the
 * WebSocket handler lets a socket's next frame start then: routes/ws/handlers.ts).
 */
export async function sendMessage ({ db, sends, bus }: { db: Db, sends: MessageSends, bus: ChatBus }, userId: number, input: SendMessageInput): Promise<SentMessage> {
  const attachmentIds = input.attachment_ids ?? []
  if (attachmentIds.length > ATTACHMENTS_MAX || new Set(attachmentIds).size !== attachmentIds.length) {
    throw invalidAttachment(`attachment_ids must name at most ${ATTACHMENTS_MAX} different uploads`)
  }
  // A lone surrogate can't be stored: PostgreSQL would keep U+FFFD, and a retry would then differ
  // from what was stored. Normalised first, so what is stored is what is compared. With
  // attachments, the text may be empty.
  const raw = input.content.toWellFormed()
  const content = attachmentIds.length > 0 && raw.trim() === '' ? '' : checkMessageText(raw)
  const send: NewMessage = { room_id: input.room_id, user_id: userId, content, client_msg_id: input.client_msg_id?.toWellFormed() ?? null, reply_to: input.reply_to ?? null }
  // A second try when nothing refuses the send any longer: the user joined since the statement
  // ran, or the original of a retry is gone.
  for (let attempt = 0; attempt < 2; attempt++) {
    const message = attachmentIds.length === 0 ? await sends.submit(send) : await storeWithAttachments({ db, bus }, send, attachmentIds)
    if (message !== undefined) return { message, created: true }
    // Refused: say why. 404 or 403 first (nothing about the room is told to a non-member), then a mute.
    assertNotMuted(await assertMember(db, userId, input.room_id))
    // A retry of a send already stored (or two copies racing): the database kept one.
    const original = send.client_msg_id === null ? undefined : await findByClientMsgId(db, userId, send.client_msg_id)
    if (original !== undefined) return await replay(db, userId, original, input.room_id, content)
    if (send.reply_to !== null && !await isReplyTarget(db, input.room_id, send.reply_to)) {
      throw badRequest('reply_to must be a message of this room that is not deleted', 'INVALID_REPLY_TO')
    }
  }
  // The user left again in between.
  throw forbidden('You are not a member of this room', 'NOT_A_MEMBER')
}

const invalidAttachment = (message = 'attachment_ids must name your own uploads that are not attached to a message yet'): Error =>
  badRequest(message, 'INVALID_ATTACHMENT')

/**
 * A send that carries attachments: the insert (the same statement as a batch's, for this send
 * alone) and the attaching in one transaction, so a message never shows without its files nor
 * takes files it may not have (any id not the sender's own unattached upload: 400
 * INVALID_ATTACHMENT, nothing stored, no seq used). Sends without attachments never come here:
 * they keep the group commit's one statement. Undefined when the insert was refused (the caller asks why).
 */
async function storeWithAttachments ({ db, bus }: { db: Db, bus: ChatBus }, send: NewMessage, ids: number[]): Promise<MessageView | undefined> {
  let message: MessageView | undefined
  try {
    message = await db.transaction().execute(async trx => {
      const [row] = await insertMessages(trx, [send])
      if (row === undefined) return undefined
      const attached = await attachToMessage(trx, row.id, row.room_id, send.user_id, ids)
      if (attached.length !== ids.length) throw invalidAttachment()
      return { ...newMessageView(row), attachments: attached }
    })
  } catch (err) {
    // A retry racing its original: refused, and the caller finds the original.
    if (isDuplicateClientMsgId(err)) return undefined
    throw err
  }
  if (message !== undefined) bus.publish({ type: 'message:new', room_id: message.room_id, payload: message })
  return message
}

/** A retry must be the same send: the same room and content. Anything else reuses an id by mistake. */
async function replay (db: Db, userId: number, original: MessageRow, roomId: number, content: string): Promise<SentMessage> {
  if (original.room_id !== roomId || original.content !== content) {
    throw conflict('client_msg_id was already used for a different message', 'CLIENT_MSG_ID_REUSED')
  }
  return { message: await messageView(db, userId, original), created: false }
}

export async function roomHistory ({ db }: { db: Db }, userId: number, roomId: number, page: HistoryPage): Promise<MessageView[]> {
  if (page.before !== undefined && page.after !== undefined) throw badRequest('use either before or after, not both')
  await assertMember(db, userId, roomId)
  return await messageViews(db, userId, await listMessages(db, roomId, page))
}

/** Who is acting: their id and their site role (`admin` may delete any message). */
export interface Actor { id: number, role: string }

/**
 * Runs `change` in a transaction that holds the message's room lock (the feed's counter), with the
 * message as it is under that lock and the actor's membership of its room; what `change` returns
 * is published after the commit. 404 MESSAGE_NOT_FOUND when there is no such message, or (unless
 * `anyRoom`) the actor is not a member of its room.
 */
export async function changeMessage<T> (
  { db, bus }: Deps, actorId: number, messageId: number, anyRoom: boolean,
  change: (trx: Db, access: MessageAccess) => Promise<{ result: T, event?: RoomFeedEvent }>
): Promise<T> {
  const roomId = await roomOfMessage(db, messageId)
  if (roomId === undefined) throw messageNotFound()
  const { result, event } = await db.transaction().execute(async trx => {
    if (!await lockRoom(trx, roomId)) throw messageNotFound()
    const access = await messageFor(trx, messageId, actorId)
    if (access === undefined) throw messageNotFound()
    if (!anyRoom) assertReadsMessage(access)
    return await change(trx, access)
  })
  if (event !== undefined) bus.publish(event)
  return result
}

interface Deps { db: Db, bus: ChatBus }

/**
 * Edits a message's content (its author only, not while muted, within `editWindowMs` of sending; 0: no limit). The
 * send rules apply to the content. Unchanged content answers the message and changes nothing;
 * otherwise the feed gets `message:updated`.
 */
export async function editMessage (deps: Deps, userId: number, messageId: number, input: EditMessageInput, editWindowMs: number): Promise<MessageView> {
  const content = checkMessageText(input.content.toWellFormed())
  const row = await changeMessage(deps, userId, messageId, false, async (trx, access) => {
    const { message } = access
    if (message.user_id !== userId) throw forbidden('Only its author may edit a message', 'NOT_AUTHOR')
    assertNotMuted(access)
    if (message.deleted_at !== null) throw conflict('The message was deleted', 'MESSAGE_DELETED')
    if (editWindowMs > 0 && Date.now() - new Date(message.created_at).getTime() > editWindowMs) {
      throw forbidden(`Messages can only be edited within ${Math.round(editWindowMs / 1000)} seconds of sending`, 'EDIT_WINDOW_PASSED')
    }
    if (message.content === content) return { result: message }
    const editedAt = await updateContent(trx, message.id, content)
    const seq = await appendEvent(trx, message.room_id, 'message:updated', { message_id: message.id }, message.id)
    const edited = { ...message, content, edited_at: editedAt }
    return {
      result: edited,
      event: { type: 'message:updated', room_id: message.room_id, payload: { seq, room_id: message.room_id, message_id: message.id, content, edited_at: isoOrNull(editedAt) } }
    }
  })
  return await messageView(deps.db, userId, row)
}

/**
 * Deletes a message: its author, the room's owner (and moderators), and site admins may. It stays
 * as a tombstone (content gone, reactions gone, place kept); the feed gets `message:deleted`.
 * Deleting it again changes nothing.
 */
export async function deleteMessage (deps: Deps & FileDeps, actor: Actor, messageId: number): Promise<void> {
  const admin = actor.role === 'admin'
  const files = await changeMessage(deps, actor.id, messageId, admin, async (trx, { message, role }) => {
    const allowed = message.user_id === actor.id || role === 'owner' || role === 'moderator' || admin
    if (!allowed) throw forbidden('Only its author, the room\'s owner and moderators, and admins may delete a message', 'NOT_ALLOWED')
    if (message.deleted_at !== null) return { result: [] }
    await markDeleted(trx, message)
    await clearReactions(trx, message.id)
    // Marked in the transaction (never served from the commit on); the files go after it.
    const doomed = await markMessageFilesDeleted(trx, message.id)
    const seq = await appendEvent(trx, message.room_id, 'message:deleted', { message_id: message.id }, message.id)
    return { result: doomed, event: { type: 'message:deleted', room_id: message.room_id, payload: { seq, room_id: message.room_id, message_id: message.id } } }
  })
  await purgeFiles(deps, files)
}

/** What deleting files needs: storage, and a log for the deletes that fail (the sweep retries them). */
export interface FileDeps { storage: Storage, log: { warn: (obj: object, msg: string) => void } }

/** A message the user may read (a member of its room), with their reactions; 404 otherwise. */
export async function readableMessage (db: Db, userId: number, messageId: number): Promise<MessageRow> {
  const access = await messageFor(db, messageId, userId)
  assertReadsMessage(access)
  return access.message
}

/**
 * A page of a thread: the replies of the message's thread root (the message itself, or the root it
 * replies to), oldest first, tombstones included. Members of the room only (404 otherwise).
 */
export async function threadReplies ({ db }: { db: Db }, userId: number, messageId: number, page: { limit: number, before?: number | undefined, after?: number | undefined }): Promise<MessageView[]> {
  if (page.before !== undefined && page.after !== undefined) throw badRequest('use either before or after, not both')
  const message = await readableMessage(db, userId, messageId)
  return await messageViews(db, userId, await listReplies(db, message.reply_to ?? message.id, page))
}
