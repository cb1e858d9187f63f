import type { Db } from '../../db/database.js'
import { MAX_CATCH_UP } from '../schemas/realtime.js'
import { type FeedFrame, feedAfter } from './feed.js'
import { assertMember } from './access.js'

/** What a room's catch-up sends: the missed frames in order, or `reset` when the client is too far behind. */
export type CatchUp =
  | { reset: true }
  | { reset: false, frames: FeedFrame[], upTo: number }

/**
 * The catch-up of one room after `lastSeq` (a `sync` frame, or `?since=` on connect): members
 * only (404/403 otherwise), every feed frame after it in seq order as `userId` sees it (messages in
 * their current state), or `reset` past MAX_CATCH_UP (the client reloads the room over REST).
 * `upTo` is the last seq the client has once it got them. Knows no socket: the hub sends the frames
 * and merges them with live ones.
 */
export async function roomCatchUp (db: Db, userId: number, roomId: number, lastSeq: number): Promise<CatchUp> {
  await assertMember(db, userId, roomId)
  const missed = await feedAfter(db, roomId, lastSeq, MAX_CATCH_UP + 1, userId)
  if (missed.length > MAX_CATCH_UP) return { reset: true }
  return { reset: false, frames: missed, upTo: Math.max(lastSeq, missed.at(-1)?.seq ?? 0) }
}

/**
 * `GET /rooms/{id}/events?after&limit`: the same feed over HTTP, for clients without a socket:
 * members only, oldest first, as `[{type, payload}]`.
 */
export async function roomEvents ({ db }: { db: Db }, userId: number, roomId: number, page: { after: number, limit: number }): Promise<Array<FeedFrame['frame']>> {
  await assertMember(db, userId, roomId)
  const frames = await feedAfter(db, roomId, page.after, page.limit, userId)
  return frames.map(({ frame }) => frame)
}
