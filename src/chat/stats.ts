import type { Db } from '../../db/database.js'
import { busiestRooms, dailyStats, messageCounts, roomCounts, userActivity, userCounts, userDaily } from '../../db/stats.js'
import { forbidden, notFound } from '../errors.js'
import type { AdminStatsView, UserStatsView } from '../schemas/stats.js'
import { rollUp } from './rollup.js'

/** At most this many rooms in `busiest_rooms`. */
const BUSIEST_ROOMS = 10

/** Site admins only (403 ADMIN_ONLY), as for PATCH /users/{id}. */
export function assertSiteAdmin (viewer: { role: string }): void {
  if (viewer.role !== 'admin') throw forbidden('Only an admin may read the site\'s statistics', 'ADMIN_ONLY')
}

/**
 * Before reading, the rows sent since the job's last run are rolled up here (under the same lock;
 * if another run holds it, that run is rolling them up now and this answer may miss what it is
 * adding): the numbers are current, and the cost follows what was written since the last run.
 */
async function catchUp (db: Db): Promise<void> {
  await rollUp(db)
}

/** GET /admin/stats: every number from the daily rows or small tables, never from counting messages. */
export async function siteStats (deps: { db: Db, sockets: () => Promise<number> }, viewer: { role: string }): Promise<AdminStatsView> {
  assertSiteAdmin(viewer)
  const { db } = deps
  await catchUp(db)
  const [users, rooms, messages, daily, busiest, sockets] = await Promise.all([
    userCounts(db), roomCounts(db), messageCounts(db), dailyStats(db), busiestRooms(db, BUSIEST_ROOMS), deps.sockets()
  ])
  return { users, rooms, messages, sockets_connected: sockets, daily, busiest_rooms: busiest }
}

/** A user's numbers (GET /users/me/stats, GET /admin/users/{id}/activity); 404 USER_NOT_FOUND. */
export async function userStats (db: Db, userId: number): Promise<UserStatsView> {
  await catchUp(db)
  const [activity, daily] = await Promise.all([userActivity(db, userId), userDaily(db, userId)])
  if (activity === undefined) throw notFound('User not found', 'USER_NOT_FOUND')
  return { ...activity, daily }
}

/** GET /admin/users/{id}/activity: site admins only. */
export async function activityOf (db: Db, viewer: { role: string }, userId: number): Promise<UserStatsView> {
  assertSiteAdmin(viewer)
  return await userStats(db, userId)
}
