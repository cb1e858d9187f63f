import { sql } from 'kysely'
import type { Db } from './database.js'

/** Adds one user's reaction; returns false when it was there already. */
export async function insertReaction (db: Db, messageId: number, userId: number, emoji: string): Promise<boolean> {
  const result = await db.insertInto('reactions').values({ message_id: messageId, user_id: userId, emoji })
    .onConflict(oc => oc.columns(['message_id', 'emoji', 'user_id']).doNothing())
    .executeTakeFirst()
  return Number(result.numInsertedOrUpdatedRows ?? 0) > 0
}

/** Removes one user's reaction; returns false when it was not there. */
export async function deleteReaction (db: Db, messageId: number, userId: number, emoji: string): Promise<boolean> {
  const result = await db.deleteFrom('reactions')
    .where('message_id', '=', messageId).where('user_id', '=', userId).where('emoji', '=', emoji)
    .executeTakeFirst()
  return Number(result.numDeletedRows) > 0
}

/** How many users reacted to the message with this emoji. */
export async function emojiCount (db: Db, messageId: number, emoji: string): Promise<number> {
  const row = await db.selectFrom('reactions').select(eb => eb.fn.countAll<string>().as('count'))
    .where('message_id', '=', messageId).where('emoji', '=', emoji)
    .executeTakeFirstOrThrow()
  return Number(row.count)
}

/** Whether the message already has this emoji, and how many distinct emojis it has. */
export async function emojiState (db: Db, messageId: number, emoji: string): Promise<{ present: boolean, distinct: number }> {
  const row = await db.selectFrom('reactions')
    .select(eb => [
      eb.fn.count<string>('emoji').distinct().as('distinct'),
      sql<boolean>`coalesce(bool_or(emoji = ${emoji}), false)`.as('present')
    ])
    .where('message_id', '=', messageId)
    .executeTakeFirstOrThrow()
  return { present: row.present, distinct: Number(row.distinct) }
}

/** Removes every reaction of a message (it was deleted). */
export async function clearReactions (db: Db, messageId: number): Promise<void> {
  await db.deleteFrom('reactions').where('message_id', '=', messageId).execute()
}
