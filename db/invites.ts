import type { MyInviteView, RoomInviteView } from '../src/schemas/rooms.js'
import type { Db } from './database.js'
import { asView, roomsSeenBy } from './rooms.js'

const inviteColumns = ['room_id', 'user_id', 'invited_by', 'created_at'] as const

/** Stores an invite; undefined when the user already had one to this room (it is kept as it was). */
export async function insertInvite (db: Db, roomId: number, userId: number, invitedBy: number): Promise<RoomInviteView | undefined> {
  return await db.insertInto('room_invites').values({ room_id: roomId, user_id: userId, invited_by: invitedBy })
    .onConflict(oc => oc.columns(['room_id', 'user_id']).doNothing())
    .returning(inviteColumns)
    .executeTakeFirst()
}

export async function findInvite (db: Db, roomId: number, userId: number): Promise<RoomInviteView | undefined> {
  return await db.selectFrom('room_invites').select(inviteColumns).where('room_id', '=', roomId).where('user_id', '=', userId).executeTakeFirst()
}

/** A user's pending invites, newest first, each with its room as they see it (one query, on room_invites_user_id_idx). */
export async function invitesOfUser (db: Db, userId: number, page: { limit: number, offset: number }): Promise<MyInviteView[]> {
  const rows = await roomsSeenBy(db, userId)
    .innerJoin('room_invites as invite', 'invite.room_id', 'rooms.id')
    .select(['invite.invited_by', 'invite.created_at as invited_at'])
    .where('invite.user_id', '=', userId)
    .orderBy('invite.created_at', 'desc').orderBy('invite.room_id', 'desc')
    .limit(page.limit).offset(page.offset)
    .execute()
  return rows.map(({ invited_by: invitedBy, invited_at: invitedAt, ...room }) => ({
    room_id: room.id, user_id: userId, invited_by: invitedBy, created_at: invitedAt, room: asView(room)
  }))
}
