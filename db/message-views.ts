import { type RawBuilder, sql } from 'kysely'
import type { AttachmentView, ReactionView } from '../src/schemas/messages.js'
import type { Db } from './database.js'

/** What a message view adds to a message row, read with it: its reactions and its attachments (src/chat/message-views.ts). */
export interface ViewParts {
  reactions: ReactionView[]
  attachments: AttachmentView[]
}

/**
 * The reactions (`[{emoji, count, me}]` in order of first use, `me` for `viewerId`) and the
 * attachments (in upload order, none being deleted) of the message whose id is `messageId`, each as
 * one JSON column: a statement that reads messages adds them to its own select (db/search.ts
 * `searchQuery`), so a page and its views are one round trip. Both are lookups by message id
 * (reactions' unique key, attachments_message_id_idx), per row of the page.
 */
export function viewParts (messageId: RawBuilder<number>, viewerId: number | undefined): [RawBuilder<ReactionView[]>, RawBuilder<AttachmentView[]>] {
  const reactions = sql<ReactionView[]>`coalesce((select json_agg(json_build_object('emoji', r.emoji, 'count', r.count, 'me', r.me) order by r.first)
    from (select emoji, count(*)::int as count, coalesce(bool_or(user_id = ${viewerId ?? null}::integer), false) as me, min(id) as first
      from reactions where message_id = ${messageId} group by emoji) r), '[]'::json)`
  // created_at as Date.toISOString writes it (milliseconds, UTC): the same text as the upload's answer.
  const attachments = sql<AttachmentView[]>`coalesce((select json_agg(json_build_object('id', a.id, 'filename', a.filename,
      'content_type', a.content_type, 'size', a.size, 'sha256', a.sha256, 'width', a.width, 'height', a.height,
      'created_at', to_char(a.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) order by a.id)
    from attachments a where a.message_id = ${messageId} and a.deleted_at is null), '[]'::json)`
  return [reactions, attachments]
}

/** The view parts of many messages at once (a page of history, a catch-up): one statement, whatever the page's size. */
export async function viewPartsOf (db: Db, messageIds: number[], viewerId: number | undefined): Promise<Map<number, ViewParts>> {
  const byMessage = new Map<number, ViewParts>()
  if (messageIds.length === 0) return byMessage
  const [reactions, attachments] = viewParts(sql<number>`m.id`, viewerId)
  const { rows } = await sql<ViewParts & { id: number }>`select m.id, ${reactions} as reactions, ${attachments} as attachments
    from unnest(${messageIds}::integer[]) as m(id)`.execute(db)
  for (const { id, ...parts } of rows) byMessage.set(id, parts)
  return byMessage
}
