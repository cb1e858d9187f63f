import { sql } from 'kysely'
import type { Db } from './database.js'

/** The current UTC day, as the daily rows name it. */
const today = sql`(now() at time zone 'UTC')::date`
/** How many UTC days `daily` covers (today and the 29 before). */
export const DAILY_DAYS = 30

/**
 * A user was seen (an authenticated request, a socket opening): `last_seen_at` becomes now unless it
 * is already less than a minute old, and the first time on a UTC day the user counts in that day's
 * active users. One statement.
 */
export async function markSeen (db: Db, userId: number): Promise<void> {
  await sql`
    with seen as (
      update users set last_seen_at = now()
      where id = ${userId} and (last_seen_at is null or last_seen_at < now() - interval '1 minute')
    ),
    first_today as (
      insert into user_daily_activity (user_id, day) values (${userId}, ${today})
      on conflict do nothing
      returning day
    )
    insert into daily_stats (day, active_users) select day, 1 from first_today
    on conflict (day) do update set active_users = daily_stats.active_users + 1`.execute(db)
}

export interface UserCounts { total: number, disabled: number, active_day: number, active_week: number, active_month: number }
export interface RoomCounts { total: number, private: number, direct: number }

/** Users: counted directly (the table is small next to messages); active: seen in the last 24 hours, 7 days, 30 days. */
export async function userCounts (db: Db): Promise<UserCounts> {
  const { rows } = await sql<UserCounts>`
    select count(*)::int as total,
      count(*) filter (where disabled_at is not null)::int as disabled,
      count(*) filter (where last_seen_at >= now() - interval '1 day')::int as active_day,
      count(*) filter (where last_seen_at >= now() - interval '7 days')::int as active_week,
      count(*) filter (where last_seen_at >= now() - interval '30 days')::int as active_month
    from users`.execute(db)
  return rows[0]!
}

/** Rooms, counted directly: `private` the private rooms that are not DMs, `direct` the DMs. */
export async function roomCounts (db: Db): Promise<RoomCounts> {
  const { rows } = await sql<RoomCounts>`
    select count(*)::int as total,
      count(*) filter (where is_private and not is_direct)::int as private,
      count(*) filter (where is_direct)::int as direct
    from rooms`.execute(db)
  return rows[0]!
}

/** Messages sent, ever and today (UTC), from the daily rows: one row per day of history. */
export async function messageCounts (db: Db): Promise<{ total: number, today: number }> {
  const { rows } = await sql<{ total: number, today: number }>`
    select coalesce(sum(messages), 0)::float8 as total,
      coalesce(sum(messages) filter (where day = ${today}), 0)::float8 as today
    from daily_stats`.execute(db)
  return rows[0]!
}

export interface DailyRow { date: string, new_users: number, messages: number, active_users: number }

/** The last DAILY_DAYS UTC days, oldest first, each one there (zeros on a day with no row). */
export async function dailyStats (db: Db): Promise<DailyRow[]> {
  const { rows } = await sql<DailyRow>`
    select d.day::text as date, coalesce(s.new_users, 0)::int as new_users,
      coalesce(s.messages, 0)::float8 as messages, coalesce(s.active_users, 0)::int as active_users
    from (select (${today} - n)::date as day from generate_series(${DAILY_DAYS - 1}::int, 0, -1) n) d
    left join daily_stats s on s.day = d.day
    order by d.day`.execute(db)
  return rows
}

export interface BusyRoom { room_id: number, name: string, messages_week: number }

/** The rooms with the most messages sent in the last 7 UTC days (today and the 6 before), at most `limit`. */
export async function busiestRooms (db: Db, limit: number): Promise<BusyRoom[]> {
  const { rows } = await sql<BusyRoom>`
    select w.room_id, rooms.name, w.messages_week
    from (select room_id, sum(messages)::int as messages_week from room_daily_messages
          where day > ${today} - 7 group by room_id order by messages_week desc, room_id limit ${limit}) w
    join rooms on rooms.id = w.room_id
    order by w.messages_week desc, w.room_id`.execute(db)
  return rows
}

export interface UserActivityRow { user_id: number, messages_sent: number, rooms: number, last_seen_at: Date | null }

/** A user's totals: messages sent (from the daily rows), the rooms they are a member of, when they were last seen. */
export async function userActivity (db: Db, userId: number): Promise<UserActivityRow | undefined> {
  const { rows } = await sql<UserActivityRow>`
    select u.id as user_id, u.last_seen_at,
      (select coalesce(sum(messages), 0)::float8 from user_daily_messages where user_id = u.id) as messages_sent,
      (select count(*)::int from room_members where user_id = u.id) as rooms
    from users u where u.id = ${userId}`.execute(db)
  return rows[0]
}

/** A user's messages per UTC day, the last DAILY_DAYS days, oldest first (zeros included). */
export async function userDaily (db: Db, userId: number): Promise<Array<{ date: string, messages: number }>> {
  const { rows } = await sql<{ date: string, messages: number }>`
    select d.day::text as date, coalesce(m.messages, 0)::int as messages
    from (select (${today} - n)::date as day from generate_series(${DAILY_DAYS - 1}::int, 0, -1) n) d
    left join user_daily_messages m on m.user_id = ${userId} and m.day = d.day
    order by d.day`.execute(db)
  return rows
}
