import type { Db } from './database.js'

/** The key that makes a pair's DM unique (`rooms.direct_key`): `<smaller id>:<larger id>`. */
export const directKey = (a: number, b: number): string => `${Math.min(a, b)}:${Math.max(a, b)}`

/**
 * Creates the pair's DM with both users as members (role `member`) in one transaction, unless it
 * exists: `on conflict (direct_key) do nothing` waits for a concurrent creator to commit, then
 * inserts nothing. Returns the new room's id, or undefined when it already existed (read it with
 * `directRoomId`).
 */
export async function insertDirectRoom (db: Db, room: { name: string, created_by: number, direct_key: string }, memberIds: [number, number]): Promise<number | undefined> {
  return await db.transaction().execute(async trx => {
    const created = await trx.insertInto('rooms')
      .values({ ...room, description: null, is_private: true, is_direct: true, member_count: memberIds.length })
      .onConflict(oc => oc.column('direct_key').doNothing())
      .returning('id')
      .executeTakeFirst()
    if (created === undefined) return undefined
    await trx.insertInto('room_members').values(memberIds.map(id => ({ room_id: created.id, user_id: id, role: 'member' }))).execute()
    return created.id
  })
}

/** The id of the DM with this key, if there is one. */
export async function directRoomId (db: Db, key: string): Promise<number | undefined> {
  const row = await db.selectFrom('rooms').select('id').where('direct_key', '=', key).executeTakeFirst()
  return row?.id
}
