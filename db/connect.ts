import type { PGlite } from '@electric-sql/pglite'
import { Kysely, PostgresDialect } from 'kysely'
import { PGliteDialect } from 'kysely-pglite-dialect'
import type pg from 'pg'
import type { Database } from './database.js'
import { openEmbedded } from './embedded.js'

export type Engine = 'postgres' | 'embedded'

export interface DatabaseHandle {
  db: Kysely<Database>
  engine: Engine
  /** The pg pool under Kysely (PostgreSQL only; its counts feed the metrics): its 'error' events are idle clients it lost and replaces. */
  pool?: pg.Pool
}

export interface ConnectOptions {
  /** A PostgreSQL connection string; when absent, the embedded engine is used. */
  databaseUrl?: string | undefined
  /** Where the embedded engine keeps its files (`memory://` keeps nothing). */
  dataDir: string
  /** A prepared PGlite to use instead of opening one (tests clone a migrated template). */
  pglite?: PGlite
  poolSize?: number
}

/** How long a request waits for a pooled connection before the API answers 503. */
export const CONNECT_TIMEOUT_MS = 2000
/** No statement may hold a pooled connection longer than this. */
export const STATEMENT_TIMEOUT_MS = 10_000

export function poolConfig (databaseUrl: string, poolSize = 10): pg.PoolConfig {
  const url = new URL(databaseUrl)
  const sslmode = url.searchParams.get('sslmode')
  url.searchParams.delete('sslmode')
  // node-postgres reads sslmode from the string, but treats `require` as verify-full; map libpq's meaning:
  // require / no-verify encrypt without checking the certificate, verify-ca checks the chain but not
  // the host name, verify-full checks both; disable / allow / prefer connect in plain text.
  const ssl: pg.PoolConfig['ssl'] = sslmode === null || sslmode === 'disable' || sslmode === 'allow' || sslmode === 'prefer'
    ? undefined
    : sslmode === 'verify-full'
      ? { rejectUnauthorized: true }
      : sslmode === 'verify-ca' ? { rejectUnauthorized: true, checkServerIdentity: () => undefined } : { rejectUnauthorized: false }
  return {
    connectionString: url.toString(),
    ssl,
    max: poolSize,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    query_timeout: STATEMENT_TIMEOUT_MS + 1000,
    application_name: 'chat-app'
  }
}

/** Opens Kysely on a pg pool, or on the embedded PGlite engine when no server is configured. */
export async function connectDatabase (options: ConnectOptions): Promise<DatabaseHandle> {
  if (options.databaseUrl !== undefined) {
    // Loaded only for a server: the embedded engine's start-up does without its modules.
    const { default: pg } = await import('pg')
    const pool = new pg.Pool(poolConfig(options.databaseUrl, options.poolSize))
    // An idle client that loses its server emits 'error' on the pool; unhandled, it would kill the
    // process. The server logs them (plugins/db.ts); until then they are ignored.
    pool.on('error', () => {})
    // A client checked out by Kysely has no 'error' listener of its own: a connection lost mid-use
    // (a restarted server, a dropped link) would be an uncaught exception and kill the process.
    // The failed query already rejects with that error, and the pool drops the broken client on release.
    pool.on('connect', client => { client.on('error', () => {}) })
    return { db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), engine: 'postgres', pool }
  }
  const pglite = options.pglite ?? await openEmbedded(options.dataDir)
  return { db: new Kysely<Database>({ dialect: new PGliteDialect(pglite) }), engine: 'embedded' }
}
