import type { MessageRow } from '../../db/messages.js'
import { type ViewParts, viewPartsOf } from '../../db/message-views.js'
import type { Db } from '../../db/database.js'
import type { MessageView } from '../schemas/messages.js'

const NONE: ViewParts = { reactions: [], attachments: [] }

/** A message just stored: nobody has reacted yet, nothing is attached. */
export function newMessageView (row: MessageRow): MessageView {
  return { ...row, ...NONE }
}

/**
 * A message as its viewer sees it, from its row and its view parts (db/message-views.ts
 * `viewParts`, read with the row or by `messageViews`). A tombstone has neither reactions nor attachments.
 */
export function toMessageView (row: MessageRow, parts: ViewParts | undefined): MessageView {
  const { reactions, attachments } = row.deleted_at === null ? parts ?? NONE : NONE
  return { ...row, reactions, attachments }
}

/** Messages as `viewerId` sees them (`me` in reactions for that viewer): the view parts of the whole list in one query. */
export async function messageViews (db: Db, viewerId: number | undefined, rows: MessageRow[]): Promise<MessageView[]> {
  const parts = await viewPartsOf(db, rows.filter(row => row.deleted_at === null).map(row => row.id), viewerId)
  return rows.map(row => toMessageView(row, parts.get(row.id)))
}

export async function messageView (db: Db, viewerId: number | undefined, row: MessageRow): Promise<MessageView> {
  const [view] = await messageViews(db, viewerId, [row])
  return view!
}
