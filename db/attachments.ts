import { sql } from 'kysely'
import type { AttachmentView } from '../src/schemas/messages.js'
import type { Db } from './database.js'

const viewColumns = ['attachments.id', 'attachments.filename', 'attachments.content_type', 'attachments.size', 'attachments.sha256',
  'attachments.width', 'attachments.height', 'attachments.created_at'] as const

type ViewRow = Omit<AttachmentView, 'size'> & { size: string }
const toView = ({ size, ...row }: ViewRow): AttachmentView => ({ ...row, size: Number(size) })

export interface NewAttachment {
  user_id: number
  storage_key: string
  filename: string
  content_type: string
  size: number
  sha256: string
  width: number | null
  height: number | null
}

export async function insertAttachment (db: Db, row: NewAttachment): Promise<AttachmentView> {
  return toView(await db.insertInto('attachments').values(row).returning(viewColumns).executeTakeFirstOrThrow())
}

/** An attachment as a download needs it, and whether `userId` may read it (the uploader, or a member of the room it was posted in). */
export interface StoredAttachment extends AttachmentView {
  storage_key: string
  thumbnail_key: string | null
  readable: boolean
}

/** The attachment, unless it is being deleted, with whether `userId` may read it; one query. */
export async function attachmentFor (db: Db, id: number, userId: number): Promise<StoredAttachment | undefined> {
  const row = await db.selectFrom('attachments')
    .leftJoin('room_members', join => join.onRef('room_members.room_id', '=', 'attachments.room_id').on('room_members.user_id', '=', userId))
    .select([...viewColumns, 'attachments.storage_key', 'attachments.thumbnail_key', 'attachments.user_id', 'room_members.user_id as member'])
    .where('attachments.id', '=', id)
    .where('attachments.deleted_at', 'is', null)
    .executeTakeFirst()
  if (row === undefined) return undefined
  const { storage_key: storageKey, thumbnail_key: thumbnailKey, user_id: owner, member, ...view } = row
  return { ...toView(view), storage_key: storageKey, thumbnail_key: thumbnailKey, readable: owner === userId || member !== null }
}

/**
 * Attaches the user's uploads (not attached yet, not being deleted) to a message; returns those
 * attached, in id order. Fewer than asked: some id was not such an upload (the caller rolls back).
 */
export async function attachToMessage (db: Db, messageId: number, roomId: number, userId: number, ids: number[]): Promise<AttachmentView[]> {
  const rows = await db.updateTable('attachments').set({ message_id: messageId, room_id: roomId })
    .where('id', '=', sql<number>`any(${ids}::integer[])`)
    .where('user_id', '=', userId).where('message_id', 'is', null).where('deleted_at', 'is', null)
    .returning(viewColumns)
    .execute()
  return rows.map(toView).sort((a, b) => a.id - b.id)
}

/** A file to delete: the upload's bytes and its thumbnail, if any. */
export interface DoomedFile { id: number, storage_key: string, thumbnail_key: string | null }

const doomedColumns = ['id', 'storage_key', 'thumbnail_key'] as const

/** Marks a message's attachments for deletion (never served again); returns their files. */
export async function markMessageFilesDeleted (db: Db, messageId: number): Promise<DoomedFile[]> {
  return await db.updateTable('attachments').set({ deleted_at: sql<Date>`now()` })
    .where('message_id', '=', messageId).where('deleted_at', 'is', null)
    .returning(doomedColumns).execute()
}

/** Marks a room's attachments for deletion (before the room goes: the foreign key then forgets it). */
export async function markRoomFilesDeleted (db: Db, roomId: number): Promise<DoomedFile[]> {
  return await db.updateTable('attachments').set({ deleted_at: sql<Date>`now()` })
    .where('room_id', '=', roomId).where('deleted_at', 'is', null)
    .returning(doomedColumns).execute()
}

/**
 * Marks uploads never attached within `ttlHours` for deletion. A send attaching one at the same
 * moment either wins (the row is attached, this skips it) or finds it marked (INVALID_ATTACHMENT):
 * the row lock decides, and the condition is checked again after it.
 */
export async function markExpiredUploads (db: Db, ttlHours: number): Promise<number> {
  const result = await db.updateTable('attachments').set({ deleted_at: sql<Date>`now()` })
    .where('message_id', 'is', null).where('deleted_at', 'is', null)
    .where('created_at', '<', sql<Date>`now() - make_interval(hours => ${ttlHours}::integer)`)
    .executeTakeFirst()
  return Number(result.numUpdatedRows)
}

/** Rows whose files are still to be deleted (oldest first). */
export async function filesToDelete (db: Db, limit: number): Promise<DoomedFile[]> {
  return await db.selectFrom('attachments').select(doomedColumns)
    .where('deleted_at', 'is not', null).orderBy('deleted_at').limit(limit).execute()
}

export async function deleteAttachmentRows (db: Db, ids: number[]): Promise<void> {
  if (ids.length === 0) return
  await db.deleteFrom('attachments').where('id', '=', sql<number>`any(${ids}::integer[])`).execute()
}

/** Records a thumbnail unless another request stored one first; whether this one was kept. */
export async function setThumbnail (db: Db, id: number, key: string): Promise<boolean> {
  const result = await db.updateTable('attachments').set({ thumbnail_key: key })
    .where('id', '=', id).where('thumbnail_key', 'is', null).where('deleted_at', 'is', null).executeTakeFirst()
  return result.numUpdatedRows > 0n
}

/** Takes the sweep's lock for the transaction, if no other instance holds it. */
export async function trySweepLock (db: Db): Promise<boolean> {
  const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_xact_lock(hashtext('chat-app:attachment-sweep')) as locked`.execute(db)
  return rows[0]?.locked === true
}
