import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { PGlite } from '@electric-sql/pglite'
import type { FastifyInstance, FastifyServerOptions, LightMyRequestResponse } from 'fastify'
import { sql } from 'kysely'
import pg from 'pg'
import type { Test } from 'tap'
import { openEmbedded } from '../db/embedded.js'
import { insertUser } from '../db/users.js'
import { buildApp } from '../src/app.js'
import { checkUsername } from '../src/chat/text.js'
import { loadConfig, type Config } from '../src/config.js'
import { checkResponse } from './openapi-validator.js'

/** The server the suite uses; each test file gets a fresh database on it. */
export const adminUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
export const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const requireServices = process.env.REQUIRE_SERVICES === '1'

let reachable: Promise<boolean> | undefined
/** Whether the PostgreSQL test server answers (asked once per process). */
export async function postgresReachable (): Promise<boolean> {
  reachable ??= (async () => {
    const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 2000 })
    try {
      await client.connect()
      await client.end()
      return true
    } catch {
      return false
    }
  })()
  return await reachable
}

async function admin<T> (fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

/** Creates an empty database on the test server, dropped when `t` ends; returns its URL. */
export async function freshDatabase (t: Test): Promise<string> {
  const name = `chat_test_${process.pid}_${randomBytes(4).toString('hex')}`
  await admin(c => c.query(`CREATE DATABASE ${name}`))
  t.teardown(async () => { await admin(c => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)) })
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return url.toString()
}

let template: Promise<string> | undefined

/**
 * A database the migrations of this checkout have been applied to (by the app, as at any start),
 * made once by whichever test file needs it first and never connected to again: `build` copies it
 * (CREATE DATABASE … TEMPLATE) instead of migrating each fresh database, which cost a second or
 * more per app on a busy machine. Its name carries a hash of db/ and src/ (the migrations and
 * what they import), so a changed migration gets a template of its own.
 */
async function migratedTemplate (): Promise<string> {
  template ??= (async () => {
    const hash = createHash('sha256')
    for (const dir of ['../db', '../src']) {
      const root = new URL(`${dir}/`, import.meta.url)
      for (const file of (readdirSync(root, { recursive: true }) as string[]).filter(f => f.endsWith('.ts')).sort()) {
        hash.update(`${dir}/${file}\0`).update(readFileSync(new URL(file, root)))
      }
    }
    const name = `chat_template_${hash.digest('hex').slice(0, 20)}`
    await admin(async c => {
      // One file builds it; the others wait for it here, then find it.
      await c.query('SELECT pg_advisory_lock(hashtext($1))', ['chat-app:test-template'])
      try {
        if ((await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount !== 0) return
        // Templates of other sources (one per edit of db/ or src/) would pile up on the server: the
        // four newest are kept, for other checkouts testing at the same time, and an older one in
        // use (being copied) is left for the next time.
        const stale = await c.query<{ datname: string }>(
          "SELECT datname FROM pg_database WHERE datname ~ '^chat_template_[0-9a-f]{20}$' ORDER BY oid DESC OFFSET 4")
        for (const { datname } of stale.rows) await c.query(`DROP DATABASE IF EXISTS ${datname}`).catch(() => {})
        const building = `${name}_${process.pid}`
        await c.query(`DROP DATABASE IF EXISTS ${building} WITH (FORCE)`)
        await c.query(`CREATE DATABASE ${building}`)
        const url = new URL(adminUrl)
        url.pathname = `/${building}`
        const app = buildApp(testConfig({ DATABASE_URL: url.toString() }), { logger: false })
        try {
          await app.ready()
        } finally {
          await app.close()
        }
        // Published whole, under its final name, only once migrated.
        await c.query(`ALTER DATABASE ${building} RENAME TO ${name}`)
      } finally {
        await c.query('SELECT pg_advisory_unlock(hashtext($1))', ['chat-app:test-template'])
      }
    })
    return name
  })()
  return await template
}

/** A fresh database (dropped when `t` ends) with the current migrations applied; returns its URL. */
export async function freshMigratedDatabase (t: Test): Promise<string> {
  const from = await migratedTemplate()
  const name = `chat_test_${process.pid}_${randomBytes(4).toString('hex')}`
  await admin(c => c.query(`CREATE DATABASE ${name} TEMPLATE ${from}`))
  t.teardown(async () => { await admin(c => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)) })
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return url.toString()
}

/** The configuration tests run with: fast bcrypt, quiet logs, limits (and load shedding) out of the way unless a test sets them. */
export function testConfig (env: Record<string, string> = {}): Config {
  return loadConfig({
    JWT_SECRET: 'test-secret-that-is-at-least-32-characters-long',
    BCRYPT_COST: '10',
    LOG_LEVEL: 'silent',
    DATA_DIR: 'memory://',
    RATE_LIMIT_REGISTER: '100000',
    RATE_LIMIT_LOGIN: '100000',
    RATE_LIMIT_MESSAGES: '100000',
    RATE_LIMIT_GLOBAL: '100000',
    RATE_LIMIT_ROOMS: '100000',
    RATE_LIMIT_WS_FRAMES: '10000000',
    // A shared, busy test machine stalls the event loop at start-up; load shedding is tested on its own.
    OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
    ...env
  })
}

export type Engine = 'postgres' | 'embedded'

export interface BuildOptions {
  env?: Record<string, string>
  /** `postgres` (default) falls back to the embedded engine when no server is reachable, unless REQUIRE_SERVICES=1. */
  engine?: Engine
  /** An existing database (another instance's) instead of a fresh one; postgres only. */
  databaseUrl?: string
  /** Fastify's logger option (default: no logging). */
  logger?: FastifyServerOptions['logger']
}

/**
 * The app on a fresh, migrated database, closed when `t` ends. Every response it gives is checked
 * against openapi.yaml; a response the document doesn't describe fails the test.
 */
export async function build (t: Test, options: BuildOptions = {}): Promise<FastifyInstance> {
  let engine = options.engine ?? 'postgres'
  if (engine === 'postgres' && !await postgresReachable()) {
    if (requireServices) throw new Error(`REQUIRE_SERVICES=1 but PostgreSQL at ${adminUrl} is unreachable`)
    t.comment(`# SKIP PostgreSQL: ${adminUrl} is unreachable; ${t.name} runs on the embedded engine instead`)
    engine = 'embedded'
  }
  const env = { ...options.env }
  let pglite: PGlite | undefined
  if (engine === 'postgres') {
    env.DATABASE_URL = options.databaseUrl ?? await freshMigratedDatabase(t)
  } else {
    // Handed over: the app closes it.
    pglite = await openEmbedded('memory://')
  }
  const app = buildApp(testConfig(env), { database: pglite, logger: options.logger ?? false })
  checkResponsesAgainstOpenApi(t, app)
  await app.ready()
  return app
}

/**
 * Closes the app when `t` ends, and fails `t` if any response it gave is not one openapi.yaml
 * describes. Call before `ready()`, so the hook reaches every route.
 */
export function checkResponsesAgainstOpenApi (t: Test, app: FastifyInstance): void {
  const violations: string[] = []
  app.addHook('onSend', async (request, reply, payload) => {
    if (typeof payload === 'string') {
      const problem = checkResponse(request.method, request.routeOptions.url, reply.statusCode, payload)
      if (problem !== undefined) violations.push(problem)
    }
    return payload
  })
  t.teardown(async () => {
    await app.close()
    if (violations.length > 0) throw new Error(`responses that do not match openapi.yaml:\n${violations.join('\n')}`)
  })
}

/**
 * A self-signed certificate for localhost and 127.0.0.1 (P-256, one day), made with openssl in a
 * test directory; returns the paths of the PEM files.
 */
export function selfSignedCertificate (t: Test): { cert: string, key: string } {
  const dir = t.testdir()
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  execFileSync('/usr/bin/openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'pipe' })
  return { cert, key }
}

export { freePort } from '../scripts/free-port.js'

/** The first line where two texts differ, for a drift message a person can act on. */
export function firstDifference (a: string, b: string): string {
  const left = a.split('\n')
  const right = b.split('\n')
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    if (left[i] !== right[i]) return `line ${i + 1}: committed ${JSON.stringify(left[i])}, generated ${JSON.stringify(right[i])}`
  }
  return 'no line differs'
}

let counter = 0
/** A unique email for this process. */
export function uniqueEmail (prefix = 'user'): string {
  return `${prefix}.${process.pid}.${++counter}.${randomBytes(3).toString('hex')}@example.com`
}

export interface Session { token: string, id: number, email: string, username: string, auth: { authorization: string } }

/** Registers and logs in a user through the API. */
export async function signUp (app: FastifyInstance, fields: { email?: string, username?: string, password?: string } = {}): Promise<Session> {
  const email = fields.email ?? uniqueEmail()
  const password = fields.password ?? 'correct horse battery staple'
  const username = fields.username ?? email.split('@')[0]!
  const registered = await app.inject({ method: 'POST', url: '/api/v1/users/register', payload: { email, password, username } })
  if (registered.statusCode !== 201) throw new Error(`register failed: ${registered.statusCode} ${registered.body}`)
  const login = await app.inject({ method: 'POST', url: '/api/v1/users/login', payload: { email, password } })
  if (login.statusCode !== 200) throw new Error(`login failed: ${login.statusCode} ${login.body}`)
  const { token, user } = login.json() as { token: string, user: { id: number } }
  return { token, id: user.id, email, username, auth: { authorization: `Bearer ${token}` } }
}

const FIXTURE_PASSWORD = 'correct horse battery staple'
let fixtureHash: Promise<string> | undefined

/**
 * A user for a test that is not about registering or logging in: the row written as registration
 * writes it (the same username check, a real bcrypt hash of the password, made once per process
 * by the app's own hasher and shared), the token signed as login signs it. Each signUp costs two
 * bcrypt operations (seconds on a busy two-core machine for a cast of five); this costs none after
 * the first. The password logs in through the API like any other.
 */
export async function fixtureUser (app: FastifyInstance, fields: { email?: string, username?: string } = {}): Promise<Session> {
  const email = fields.email ?? uniqueEmail()
  const { username, key } = checkUsername(fields.username ?? email.split('@')[0]!)
  fixtureHash ??= app.passwords.hash(FIXTURE_PASSWORD)
  const user = await insertUser(app.db, { email, username, username_key: key, password_hash: await fixtureHash })
  if (user === undefined) throw new Error(`fixture user: ${email} is taken`)
  const token = app.signToken(user)
  return { token, id: user.id, email, username, auth: { authorization: `Bearer ${token}` } }
}

/** Creates a room through the API; returns its id. */
export async function createRoom (app: FastifyInstance, owner: Session, name: string): Promise<number> {
  const response = await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: owner.auth, payload: { name } })
  if (response.statusCode !== 201) throw new Error(`create room: ${response.statusCode} ${response.body}`)
  return response.json<{ id: number }>().id
}

/** Joins a room through the API. */
export async function joinRoom (app: FastifyInstance, user: Session, roomId: number): Promise<void> {
  const response = await app.inject({ method: 'POST', url: `/api/v1/rooms/${roomId}/join`, headers: user.auth })
  if (response.statusCode !== 200) throw new Error(`join: ${response.statusCode} ${response.body}`)
}

/** Sends a message through the API (201 expected); returns it. */
export async function sendAs (app: FastifyInstance, user: Session, roomId: number, content: string): Promise<{ id: number, seq: number }> {
  const response = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: user.auth, payload: { room_id: roomId, content } })
  if (response.statusCode !== 201) throw new Error(`send: ${response.statusCode} ${response.body}`)
  return response.json()
}

/** Appends `count` messages to a room in one statement, numbered as sends would number them. */
export async function seedMessages (app: FastifyInstance, roomId: number, userId: number, count: number, prefix = 'seeded'): Promise<void> {
  await sql`WITH r AS (UPDATE rooms SET last_seq = last_seq + ${count} WHERE id = ${roomId} RETURNING last_seq - ${count} AS base)
    INSERT INTO messages (room_id, user_id, content, seq)
    SELECT ${roomId}, ${userId}, ${prefix} || ' ' || g, r.base + g FROM r, generate_series(1, ${count}::int) g`.execute(app.db)
}

export function json<T = any> (response: LightMyRequestResponse): T {
  return response.json() as T
}
