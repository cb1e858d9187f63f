import { feedEntries, type FeedEntry } from '../../db/feed.js'
import { messagesByIds } from '../../db/messages.js'
import type { Db } from '../../db/database.js'
import type { ServerFrame } from '../schemas/realtime.js'
import { messageViews } from './message-views.js'

/** One frame of a room's feed, with its seq. */
export interface FeedFrame { seq: number, frame: ServerFrame }

/**
 * A room's feed after `afterSeq`, at most `limit` frames, in seq order, as the frames that were
 * sent live but showing each message as it is now: an edited message's `message:new` (and every
 * `message:updated`) carries its current content; a deleted one is a tombstone, so its old content
 * is never sent again. `viewerId` is whose `me` the reactions show (undefined: nobody's, as live
 * frames that go to everyone). Reads the feed and the messages it names in two queries (three with
 * reactions), whatever the length. No access check: callers check membership.
 */
export async function feedAfter (db: Db, roomId: number, afterSeq: number, limit: number, viewerId?: number): Promise<FeedFrame[]> {
  const entries = await feedEntries(db, roomId, afterSeq, limit)
  const ids = [...new Set(entries.flatMap(entry => entry.message_id === null || !showsMessage(entry) ? [] : [entry.message_id]))]
  const messages = new Map((await messageViews(db, viewerId, await messagesByIds(db, ids))).map(message => [message.id, message]))
  return entries.map(entry => ({ seq: entry.seq, frame: frameOf(roomId, entry, messages) }))
}

/** Entries whose frame is rebuilt from the message's current state. */
const showsMessage = (entry: FeedEntry): boolean => entry.type === 'message:new' || entry.type === 'message:updated'

function frameOf (roomId: number, entry: FeedEntry, messages: Map<number, ServerFrame<'message:new'>['payload']>): ServerFrame {
  const { seq } = entry
  if (showsMessage(entry)) {
    const message = messages.get(entry.message_id!)
    if (message === undefined) throw new Error(`feed entry ${roomId}/${seq} names message ${String(entry.message_id)}, which is gone`)
    if (entry.type === 'message:new') return { type: 'message:new', payload: message }
    return { type: 'message:updated', payload: { seq, room_id: roomId, message_id: message.id, content: message.content, edited_at: isoOrNull(message.edited_at) } }
  }
  // Every other entry's frame is what was stored, with its place (`room:updated`: the room as that change left it, not as it is now).
  return { type: entry.type, payload: { ...entry.data, seq, room_id: roomId } } as ServerFrame
}

export function isoOrNull (value: Date | string | null): string | null {
  if (value === null) return null
  return value instanceof Date ? value.toISOString() : value
}
