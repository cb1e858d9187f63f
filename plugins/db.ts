import type { PGlite } from '@electric-sql/pglite'
import fp from 'fastify-plugin'
import { type Kysely, sql } from 'kysely'
import type pg from 'pg'
import { connectDatabase, type Engine } from '../db/connect.js'
import type { Database } from '../db/database.js'
import { migrateToLatest } from '../db/migrate.js'
import type { Config } from '../src/config.js'

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
  /** An open embedded database to use instead of opening DATA_DIR (tests). */
  pglite?: PGlite
}

export default fp<DbPluginOptions>(async function dbPlugin (app, opts) {
  const { db, engine, pool } = await connectDatabase({
    databaseUrl: opts.config.databaseUrl,
    dataDir: opts.config.dataDir,
    pglite: opts.pglite,
    onPoolError: err => app.log.warn({ err }, 'idle database connection lost; the pool will reconnect')
  })
  app.decorate('db', db)
  app.decorate('dbEngine', engine)
  app.decorate('dbPool', pool)
  app.decorate('dbReachable', async (timeoutMs = 2000) => {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<false>(resolve => { timer = setTimeout(() => resolve(false), timeoutMs) })
    try {
      return await Promise.race([sql`select 1`.execute(db).then(() => true, () => false), timeout])
    } finally {
      clearTimeout(timer)
    }
  })
  // The caller owns a PGlite it handed in; otherwise closing Kysely closes the pool or the engine.
  app.addHook('onClose', async () => { if (opts.pglite === undefined) await db.destroy() })

  if (opts.migrate !== false) {
    const started = Date.now()
    await migrateToLatest(db)
    app.log.info({ engine, ms: Date.now() - started }, 'database schema up to date')
  }
}, { name: 'db' })
