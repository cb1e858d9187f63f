import { Type, type Static } from '@sinclair/typebox'
import { ROOM_NAME_MAX } from '../limits.js'
import { Id, Timestamp } from './common.js'

const count = (description: string): ReturnType<typeof Type.Integer> =>
  Type.Integer({ format: 'int64', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description })
const UtcDate = Type.String({ format: 'date', maxLength: 10, description: 'A UTC day', examples: ['2026-01-28'] })

export const DailyStats = Type.Object({
  date: UtcDate,
  new_users: count('Accounts created that day'),
  messages: count('Messages sent that day (deleting one later does not take it back)'),
  active_users: count('Users seen that day (an authenticated request or a socket opening)')
}, { $id: 'DailyStats', title: 'DailyStats' })

export const BusyRoom = Type.Object({
  room_id: Id,
  name: Type.String({ maxLength: ROOM_NAME_MAX }),
  messages_week: count('Messages sent in it in the last 7 UTC days (today and the 6 before)')
}, { $id: 'BusyRoom', title: 'BusyRoom' })

export const AdminStats = Type.Object({
  users: Type.Object({
    total: count('Every account'),
    disabled: count('Accounts disabled by an admin'),
    active_day: count('Users seen in the last 24 hours'),
    active_week: count('Users seen in the last 7 days'),
    active_month: count('Users seen in the last 30 days')
  }),
  rooms: Type.Object({
    total: count('Every room, DMs included'),
    private: count('Private rooms that are not DMs'),
    direct: count('Direct-message rooms')
  }),
  messages: Type.Object({
    total: count('Messages ever sent (deleted ones included: a delete does not take a send back)'),
    today: count('Messages sent today (UTC)')
  }),
  sockets_connected: count('WebSockets open on every instance'),
  daily: Type.Array(Type.Ref(DailyStats), { minItems: 30, maxItems: 30, description: 'The last 30 UTC days, oldest first; a day with nothing is there with zeros' }),
  busiest_rooms: Type.Array(Type.Ref(BusyRoom), { maxItems: 10, description: 'The rooms with the most messages in the last 7 UTC days, most first (ties: by id)' })
}, { $id: 'AdminStats', title: 'AdminStats' })

export const UserDailyMessages = Type.Object({
  date: UtcDate,
  messages: count('Messages the user sent that day')
}, { $id: 'UserDailyMessages', title: 'UserDailyMessages' })

export const UserStats = Type.Object({
  user_id: Id,
  messages_sent: count('Messages ever sent (deleted ones included)'),
  rooms: count('Rooms the user is a member of now, DMs included'),
  last_seen_at: Type.Union([Timestamp, Type.Null()], { description: 'The last authenticated request or socket opening, to the minute (null: never seen)' }),
  daily: Type.Array(Type.Ref(UserDailyMessages), { minItems: 30, maxItems: 30, description: 'The last 30 UTC days, oldest first; zeros included' })
}, { $id: 'UserStats', title: 'UserStats' })

export type AdminStatsView = Static<typeof AdminStats>
export type UserStatsView = Static<typeof UserStats>
