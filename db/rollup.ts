import { sql, type RawBuilder } from 'kysely'
import type { Db } from './database.js'

/** The advisory lock key one rollup run holds for its transaction ('chat' and 13, the migration). */
export const ROLLUP_LOCK_KEY = 0x6368_6174_0013

/**
 * How long an id the watermark passed while it was not visible (a send still in flight, or one that
 * rolled back and never will be) is looked for again. A send is one statement, and statements end
 * within db/connect.ts's STATEMENT_TIMEOUT_MS (10 s): ten minutes is far past the last moment it can appear.
 */
const GAP_HORIZON = sql`interval '10 minutes'`

const utcDay = (column: string): ReturnType<typeof sql> => sql`(${sql.ref(column)} at time zone 'UTC')::date`

type Source = 'messages' | 'users'

/**
 * The `fresh` CTE of a pass over `source`: its rows past the watermark, and those below it that an
 * earlier pass found missing (rollup_gaps), each with its UTC day and the `extra` columns.
 */
function fresh (source: Source, watermark: string, extra?: RawBuilder<unknown>): RawBuilder<unknown> {
  const columns = extra === undefined
    ? sql`t.id, ${utcDay('t.created_at')} as day`
    : sql`t.id, ${utcDay('t.created_at')} as day, ${extra}`
  return sql`fresh as materialized (
      select ${columns} from ${sql.table(source)} t where t.id > ${watermark}::bigint
      union all
      select ${columns} from rollup_gaps g join ${sql.table(source)} t on t.id = g.id where g.source = ${sql.lit(source)}
    )`
}

/**
 * The gap bookkeeping of a pass over `source` (CTEs after `fresh`): ids found now leave
 * rollup_gaps, and ids between the watermark and the newest fresh one that are not visible yet
 * (a send still committing, or one that rolled back) enter it.
 */
function gapBookkeeping (source: Source, watermark: string): RawBuilder<unknown> {
  return sql`found as (
      delete from rollup_gaps where source = ${sql.lit(source)} and id in (select id from fresh)
    ),
    missing as (
      insert into rollup_gaps (source, id)
      select ${sql.lit(source)}, g from generate_series(${watermark}::bigint + 1, (select max(id) from fresh where id > ${watermark}::bigint)) g
      except select ${sql.lit(source)}, id from fresh
    )`
}

export interface RollupCounts {
  /** Messages added to the daily rows by this run. */
  messages: number
  /** Users added to the daily rows by this run. */
  users: number
}

/**
 * Takes the rollup's lock for the transaction, or answers false at once when another run (another
 * instance, or a request) holds it. Call inside a transaction.
 */
export async function tryRollupLock (trx: Db): Promise<boolean> {
  const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_xact_lock(${ROLLUP_LOCK_KEY}::bigint) as locked`.execute(trx)
  return rows[0]?.locked === true
}

/**
 * Adds the messages and users past the watermark (and the ones below it that were missing until
 * now) to the daily rows, then moves the watermark: inside a transaction that holds the rollup lock.
 * One pass over the new rows of each table, by primary key: its cost follows what was written since
 * the last run, never the history.
 */
export async function rollUpPastWatermark (trx: Db): Promise<RollupCounts> {
  const state = await sql<{ last_message_id: string, last_user_id: string }>`
    select last_message_id::text, last_user_id::text from rollup_state where id = 1 for update`.execute(trx)
  const { last_message_id: lastMessageId, last_user_id: lastUserId } = state.rows[0] ?? { last_message_id: '0', last_user_id: '0' }

  const messages = await sql<{ top: string | null, counted: number }>`
    with ${fresh('messages', lastMessageId, sql`t.room_id, t.user_id`)},
    daily as (
      insert into daily_stats (day, messages) select day, count(*) from fresh group by day
      on conflict (day) do update set messages = daily_stats.messages + excluded.messages
    ),
    by_user as (
      insert into user_daily_messages (user_id, day, messages) select user_id, day, count(*) from fresh where user_id is not null group by user_id, day
      on conflict (user_id, day) do update set messages = user_daily_messages.messages + excluded.messages
    ),
    by_room as (
      insert into room_daily_messages (room_id, day, messages) select room_id, day, count(*) from fresh group by room_id, day
      on conflict (room_id, day) do update set messages = room_daily_messages.messages + excluded.messages
    ),
    ${gapBookkeeping('messages', lastMessageId)}
    select (select max(id) from fresh)::text as top, (select count(*) from fresh)::int as counted`.execute(trx)

  const users = await sql<{ top: string | null, counted: number }>`
    with ${fresh('users', lastUserId)},
    daily as (
      insert into daily_stats (day, new_users) select day, count(*) from fresh group by day
      on conflict (day) do update set new_users = daily_stats.new_users + excluded.new_users
    ),
    ${gapBookkeeping('users', lastUserId)}
    select (select max(id) from fresh)::text as top, (select count(*) from fresh)::int as counted`.execute(trx)

  await sql`delete from rollup_gaps where seen_at < now() - ${GAP_HORIZON}`.execute(trx)
  const messageTop = messages.rows[0]?.top ?? null
  const userTop = users.rows[0]?.top ?? null
  // Nothing new (most runs of a quiet site, and most stats requests): the state row is left alone.
  if (messageTop === null && userTop === null) return { messages: 0, users: 0 }
  await sql`update rollup_state set
      last_message_id = greatest(last_message_id, coalesce(${messageTop}::bigint, 0)),
      last_user_id = greatest(last_user_id, coalesce(${userTop}::bigint, 0)),
      rolled_up_at = now()
    where id = 1`.execute(trx)
  return { messages: messages.rows[0]?.counted ?? 0, users: users.rows[0]?.counted ?? 0 }
}
