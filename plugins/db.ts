import type { PGlite } from '@electric-sql/pglite'
import fp from 'fastify-plugin'
import { type Kysely, sql } from 'kysely'
import type pg from 'pg'
import { connectDatabase, type DatabaseHandle, type Engine } from '../db/connect.js'
import type { Database } from '../db/database.js'
import { migrateToLatest } from '../db/migrate.js'
import { checkSearchLanguage } from '../src/chat/search.js'
import type { Config } from '../src/config.js'
import { withTimeout } from '../src/timeouts.js'

declare module 'fastify' {
  interface FastifyInstance {
    db: Kysely<Database>
    dbEngine: Engine
    /** The pg pool (for its counts: total, idle, waiting); undefined on the embedded engine. */
    dbPool: pg.Pool | undefined
    /** True when the database answers `select 1` within the timeout. */
    dbReachable: (timeoutMs?: number) => Promise<boolean>
  }
}

export interface DbPluginOptions {
  config: Config
  /** Run migrations at start-up (default true). */
  migrate?: boolean
  /**
   * The database already being opened (`startDatabase`, called by the server while the
   * application's modules load), or an open embedded engine (tests): handed over, closed with the app.
   */
  database?: Promise<DatabaseHandle> | PGlite
}

/** Opens the configured database: a pg pool on DATABASE_URL, or the embedded engine in DATA_DIR. */
export async function startDatabase (config: Pick<Config, 'databaseUrl' | 'dataDir'>, pglite?: PGlite): Promise<DatabaseHandle> {
  return await connectDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, pglite })
}

/** Kysely on the database, and the only place it is opened and closed. */
export default fp<DbPluginOptions>(async function dbPlugin (app, opts) {
  const handle = opts.database instanceof Promise || opts.database === undefined
    ? await (opts.database ?? startDatabase(opts.config))
    : await startDatabase(opts.config, opts.database)
  const { db, engine, pool } = handle
  // An idle client that loses its server emits 'error' on the pool; unhandled, it would kill the process.
  pool?.on('error', err => app.log.warn({ err }, 'idle database connection lost; the pool will reconnect'))
  app.decorate('db', db)
  app.decorate('dbEngine', engine)
  app.decorate('dbPool', pool)
  app.decorate('dbReachable', async (timeoutMs = 2000) => await withTimeout(sql`select 1`.execute(db).then(() => true, () => false), timeoutMs, false))
  // Closing Kysely closes the pool, or the embedded engine.
  app.addHook('onClose', async () => { await db.destroy() })

  if (opts.migrate !== false) {
    const started = Date.now()
    await migrateToLatest(db)
    app.log.info({ engine, ms: Date.now() - started }, 'database schema up to date')
    // SEARCH_LANGUAGE against the database's text search configurations and the stored words'.
    const warning = await checkSearchLanguage(db, opts.config.search.language)
    if (warning !== undefined) app.log.warn(warning)
  }
}, { name: 'db' })
