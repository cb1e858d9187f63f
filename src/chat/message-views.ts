import type { MessageRow } from '../../db/messages.js'
import { attachmentsOf } from '../../db/attachments.js'
import { reactionsOf } from '../../db/reactions.js'
import type { Db } from '../../db/database.js'
import type { MessageView } from '../schemas/messages.js'

/** A message just stored: nobody has reacted yet, nothing is attached. */
export function newMessageView (row: MessageRow): MessageView {
  return { ...row, reactions: [], attachments: [] }
}

/**
 * Messages as `viewerId` sees them: each with its reactions (`me` for that viewer) and its
 * attachments, each read for the whole list in one query. A tombstone has neither.
 */
export async function messageViews (db: Db, viewerId: number | undefined, rows: MessageRow[]): Promise<MessageView[]> {
  const live = rows.filter(row => row.deleted_at === null).map(row => row.id)
  const [reactions, attachments] = await Promise.all([reactionsOf(db, live, viewerId), attachmentsOf(db, live)])
  return rows.map(row => ({ ...row, reactions: reactions.get(row.id) ?? [], attachments: attachments.get(row.id) ?? [] }))
}

export async function messageView (db: Db, viewerId: number | undefined, row: MessageRow): Promise<MessageView> {
  const [view] = await messageViews(db, viewerId, [row])
  return view!
}
