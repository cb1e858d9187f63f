import { type Kysely, sql } from 'kysely'

/**
 * Search at any size (issue 15, benchmark P12): the live messages newest first, across rooms.
 * db/search.ts looks for the newest matches; when a term is in many messages (a common word), the
 * plan walks this index newest first and stops after the bound (the ranked candidates, or a page
 * for `sort=recent`), instead of gathering every match from the GIN indexes and sorting them all.
 * A rare term still starts from the GIN indexes. Partial (`deleted_at is null`): search never
 * returns a deleted message.
 */
export async function up (db: Kysely<any>): Promise<void> {
  await sql`create index messages_live_created_at_id_idx on messages (created_at, id) where deleted_at is null`.execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await sql`drop index messages_live_created_at_id_idx`.execute(db)
}
