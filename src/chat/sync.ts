import { messagesAfterSeq } from '../../db/messages.js'
import type { Db } from '../../db/database.js'
import { MAX_CATCH_UP, type ServerFrame } from '../schemas/realtime.js'
import { assertMember } from './messages.js'

/** One entry of a room's feed: its seq and the frame it is sent as. */
export interface FeedEntry { seq: number, frame: ServerFrame }

/** What a room's catch-up sends: the missed frames in order, or `reset` when the client is too far behind. */
export type CatchUp =
  | { reset: true }
  | { reset: false, frames: FeedEntry[], upTo: number }

/**
 * A room's feed after `afterSeq`, oldest first, at most `limit` entries, each as the frame sent
 * live. Knows no user: callers check membership (the catch-up) or serve sockets already checked
 * (the hub, reading a gap in the live order).
 */
export async function feedAfter (db: Db, roomId: number, afterSeq: number, limit: number): Promise<FeedEntry[]> {
  const messages = await messagesAfterSeq(db, roomId, afterSeq, limit)
  return messages.map(message => ({ seq: message.seq, frame: { type: 'message:new', payload: message } }))
}

/**
 * The catch-up of one room after `lastSeq` (a `sync` frame, or `?since=` on connect): members
 * only (404/403 otherwise), every feed entry after it in seq order, or `reset` past MAX_CATCH_UP
 * (the client reloads the room over REST). `upTo` is the last seq the client has once it got them.
 * Knows no socket: the hub sends the frames and merges them with live ones.
 */
export async function roomCatchUp (db: Db, userId: number, roomId: number, lastSeq: number): Promise<CatchUp> {
  await assertMember(db, userId, roomId)
  const missed = await feedAfter(db, roomId, lastSeq, MAX_CATCH_UP + 1)
  if (missed.length > MAX_CATCH_UP) return { reset: true }
  return { reset: false, frames: missed, upTo: Math.max(lastSeq, missed.at(-1)?.seq ?? 0) }
}
