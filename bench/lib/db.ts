import { createHmac, randomBytes } from 'node:crypto'
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import type { Database } from '../../db/database.js'
import { rollUp } from '../../src/chat/rollup.js'
import { sleep } from './proc.js'

/** The PostgreSQL server the bench creates its databases on (a throwaway database per run). */
export const adminUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

/** The JWT secret every server in the bench runs with; the bench signs its own tokens with it. */
export const JWT_SECRET = 'bench-secret-' + randomBytes(24).toString('hex')
/** The defaults of src/config.ts (JWT_ISSUER, JWT_AUDIENCE). */
const ISSUER = 'chat-app'
const AUDIENCE = 'chat-app'

const created = new Set<string>()

export async function withClient<T> (url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

/** Creates an empty database for this run; returns its URL. */
export async function createDatabase (): Promise<string> {
  const name = `chat_bench_${process.pid}_${randomBytes(3).toString('hex')}`
  await withClient(adminUrl, async c => { await c.query(`CREATE DATABASE ${name}`) })
  created.add(name)
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return url.toString()
}

/** Drops every database this run created. */
export async function dropDatabases (): Promise<void> {
  for (const name of created) {
    try {
      await withClient(adminUrl, async c => { await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) })
      created.delete(name)
    } catch (err) {
      process.stderr.write(`could not drop database ${name}: ${(err as Error).message}\n`)
    }
  }
}

/** An HS256 token as plugins/auth.ts signs them (sub, role, iss, aud, exp). */
export function signToken (userId: number, ttlSeconds = 3600): string {
  const now = Math.floor(Date.now() / 1000)
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url')
  const body = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub: String(userId), role: 'user', iat: now, exp: now + ttlSeconds, iss: ISSUER, aud: AUDIENCE })}`
  return `${body}.${createHmac('sha256', JWT_SECRET).update(body).digest('base64url')}`
}

export interface Seeded { roomId: number, userIds: number[] }

/**
 * `count` users (who cannot log in: their hash matches no password) and one room they all belong
 * to, written straight into the database: registering thousands through bcrypt would take minutes.
 */
export async function seedRoom (url: string, prefix: string, count: number): Promise<Seeded> {
  return await withClient(url, async c => {
    const users = await c.query<{ id: number }>(
      `INSERT INTO users (email, username, username_key, password_hash)
       SELECT $1 || g || '@bench.invalid', $1 || g, lower($1 || g), '$2b$04$' || repeat('x', 53) FROM generate_series(1, $2::int) g
       RETURNING id`, [prefix, count])
    const userIds = users.rows.map(r => r.id)
    const room = await c.query<{ id: number }>('INSERT INTO rooms (name, created_by) VALUES ($1, $2) RETURNING id', [`${prefix} room`, userIds[0]])
    const roomId = room.rows[0]!.id
    await c.query('INSERT INTO room_members (room_id, user_id) SELECT $1, unnest($2::int[])', [roomId, userIds])
    return { roomId, userIds }
  })
}

/**
 * Appends `count` messages to a room in one statement. When the schema numbers messages per room
 * (`messages.seq` and `rooms.last_seq`), the rows continue the room's numbering as a send would.
 */
export async function seedMessages (url: string, roomId: number, userId: number, count: number): Promise<void> {
  await withClient(url, async c => {
    const columns = await c.query<{ column_name: string }>(
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'messages' AND column_name = 'seq'")
    const content = "'history message number ' || g || ', long enough to look like a real one'"
    await c.query('BEGIN')
    if (columns.rows.length > 0) {
      await c.query(`INSERT INTO messages (room_id, user_id, content, seq)
        SELECT $1, $2, ${content}, (SELECT last_seq FROM rooms WHERE id = $1) + g FROM generate_series(1, $3::int) g`, [roomId, userId, count])
      await c.query('UPDATE rooms SET last_seq = last_seq + $2 WHERE id = $1', [roomId, count])
    } else {
      await c.query(`INSERT INTO messages (room_id, user_id, content) SELECT $1, $2, ${content} FROM generate_series(1, $3::int) g`, [roomId, userId, count])
    }
    await c.query('COMMIT')
    await c.query('VACUUM ANALYZE messages')
  })
}

export interface Spread {
  rooms: number[]
  authors: number[]
  count: number
  /** SQL of `g` (1…count), the message's number: its content. */
  content: string
  /** SQL of `g`: its created_at (default now()). */
  createdAt?: string
  /** What `content` and `createdAt` refer to as $4, $5, … */
  params?: unknown[]
}

/**
 * Appends `count` messages in one transaction: message g in room `rooms[g % rooms.length]` by
 * `authors[g % authors.length]`, each room's numbered after its `last_seq` as sends would be,
 * then every room's `last_seq` moved to its newest; then VACUUM ANALYZE (what autovacuum would do
 * to a table after a bulk load, so plans are those of a settled table).
 */
export async function seedSpread (url: string, spread: Spread): Promise<void> {
  const { rooms, authors, count, content, createdAt = 'now()', params = [] } = spread
  await withClient(url, async c => {
    await c.query('BEGIN')
    await c.query(`WITH input AS (
        SELECT g, ($2::int[])[1 + g % ${rooms.length}] AS room_id, ($3::int[])[1 + g % ${authors.length}] AS user_id FROM generate_series(1, $1::int) g
      ), numbered AS (
        SELECT input.*, r.last_seq + row_number() OVER (PARTITION BY input.room_id ORDER BY g) AS seq FROM input JOIN rooms r ON r.id = input.room_id
      )
      INSERT INTO messages (room_id, user_id, content, seq, created_at)
      SELECT room_id, user_id, ${content}, seq, ${createdAt} FROM numbered`, [count, rooms, authors, ...params])
    await c.query('UPDATE rooms SET last_seq = (SELECT coalesce(max(seq), 0) FROM messages WHERE room_id = rooms.id) WHERE id = ANY($1::int[])', [rooms])
    await c.query('COMMIT')
    await c.query('VACUUM ANALYZE messages')
  })
}

/**
 * Rolls up every message and user seeded so far (as the server's job or a stats request would),
 * before anything is measured: a bulk seed's rows are otherwise rolled up by the server's job
 * during the next measurement, in the database the measured requests use (P12 at 1M: 0.51x with
 * the job catching up during our run, 0.58x without). When a run of the job holds the rollup
 * lock, waits for it and runs again: only a run of its own says everything is in.
 */
async function rollUpAll (url: string): Promise<void> {
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1 }) }) })
  try {
    while (!(await rollUp(db)).ran) await sleep(100)
  } finally {
    await db.destroy()
  }
}

/**
 * What a scenario does between seeding and measuring: everything rolled up (`rollUpAll`), then a
 * CHECKPOINT, so the bulk load's dirty pages are written now rather than by the checkpointer during
 * the first measurement.
 */
export async function settle (url: string): Promise<void> {
  await rollUpAll(url)
  await withClient(url, async c => { await c.query('CHECKPOINT') })
}
