import { createHash } from 'node:crypto'
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setFlagsFromString } from 'node:v8'
import { PGlite } from '@electric-sql/pglite'
import { pg_trgm as pgTrgm } from '@electric-sql/pglite/contrib/pg_trgm'
import { unaccent } from '@electric-sql/pglite/contrib/unaccent'

/**
 * migrate.ts's folder (both files live in db/), named here so that opening the engine loads only
 * PGlite: it starts while the application's modules (Kysely's hundreds among them) load.
 */
const migrationFolder = fileURLToPath(new URL('migrations', import.meta.url))

// The node_modules that holds PGlite, found through module resolution rather than from this
// file's place (db/embedded.ts, or the compiled dist/db/embedded.js).
const pgliteEntry = createRequire(import.meta.url).resolve('@electric-sql/pglite')
const nodeModules = pgliteEntry.slice(0, pgliteEntry.lastIndexOf(`${sep}@electric-sql${sep}pglite${sep}`))
const pgliteDir = join(nodeModules, '@electric-sql', 'pglite')
const pgliteVersion = (JSON.parse(readFileSync(join(pgliteDir, 'package.json'), 'utf8')) as { version: string }).version

/**
 * Beside compiled migrations (dist/db/migrations/*.js), the build (scripts/build.mjs) writes the
 * hash of the TypeScript sources they were compiled from.
 */
export const SOURCES_HASH_FILE = 'sources-hash.txt'

/**
 * Names the migrations by their content: a template made from other migrations is never used.
 * A compiled folder answers with its sources' hash, so `npm start` (compiled) and the TypeScript
 * runs (tests, `npm run dev`) name the same template.
 */
export function migrationsHash (folder = migrationFolder): string {
  const recorded = join(folder, SOURCES_HASH_FILE)
  if (existsSync(recorded)) return readFileSync(recorded, 'utf8').trim()
  const hash = createHash('sha256')
  for (const file of readdirSync(folder).filter(f => /\.[jt]s$/.test(f)).sort()) {
    hash.update(file).update(readFileSync(join(folder, file)))
  }
  return hash.digest('hex').slice(0, 12)
}

/**
 * A migrated, empty PGlite data directory, made once by `npm ci` (postinstall) for the installed
 * PGlite version and the current migrations, as a directory (copied for a new DATA_DIR) and as
 * a tarball (loaded for `memory://`). Copying it takes a fraction of a second; initdb in
 * WebAssembly plus the migrations take five or more, which was most of a first `npm start`.
 */
export const templateDir = join(nodeModules, '.cache', 'chat-app', `pglite-${pgliteVersion}-${migrationsHash()}`)
const templateTarball = `${templateDir}.tar.gz`
/** Present only once the template is complete. */
const templateReady = join(templateDir, 'PG_VERSION')

/**
 * PostgreSQL's default 128 MB of shared buffers cost about 90 ms of every start (measured: 32 MB
 * took as long as 8 MB). One process is the only client, and pages it evicts are a read from the
 * operating system's cache away.
 */
const startParams = [...PGlite.defaultStartParams, '-c', 'shared_buffers=32MB']

/**
 * V8 gives a WebAssembly function to its optimizing compiler (TurboFan, on background threads)
 * once it has run a budget's worth of code (default 1,800,000). PostgreSQL's start runs enough of
 * its code for that to cost 0.4-0.8 s of CPU at every open, on the same two cores the server's
 * own start needs (bench/README, P8). Ten times the budget leaves most of the start-up code to
 * the baseline compiler (Liftoff); the code queries keep running is still optimized, a few seconds later.
 * Process-wide, and read when PGlite's module is instantiated: set before the first open.
 */
const WASM_TIERING_BUDGET = 18_000_000

/** The extensions the migrations create (0012: search), which PGlite must be given when it is created. */
const extensions = { pg_trgm: pgTrgm, unaccent }

/** Opens the embedded engine: `memory://` keeps nothing; a new directory starts as a copy of the template. */
export async function openEmbedded (dataDir: string): Promise<PGlite> {
  setFlagsFromString(`--wasm-tiering-budget=${WASM_TIERING_BUDGET}`)
  if (dataDir === 'memory://') {
    return await PGlite.create({ startParams, extensions, loadDataDir: existsSync(templateTarball) ? new Blob([readFileSync(templateTarball)]) : undefined })
  }
  if (!existsSync(join(dataDir, 'PG_VERSION')) && existsSync(templateReady)) {
    mkdirSync(dataDir, { recursive: true })
    cpSync(templateDir, dataDir, { recursive: true })
  }
  mkdirSync(dataDir, { recursive: true })
  return await PGlite.create(dataDir, { startParams, extensions })
}

/** Writes the template (postinstall): initdb and every migration, into a directory and a tarball. */
export async function writeTemplate (): Promise<string> {
  const building = `${templateDir}.building-${process.pid}`
  rmSync(building, { recursive: true, force: true })
  mkdirSync(building, { recursive: true })
  const pglite = await PGlite.create(building, { extensions })
  const [{ Kysely }, { PGliteDialect }, { migrateToLatest }] = await Promise.all([import('kysely'), import('kysely-pglite-dialect'), import('./migrate.js')])
  await migrateToLatest(new Kysely<any>({ dialect: new PGliteDialect(pglite) }))
  const dump = await pglite.dumpDataDir('gzip')
  await pglite.close()
  writeFileSync(templateTarball, Buffer.from(await dump.arrayBuffer()))
  rmSync(templateDir, { recursive: true, force: true })
  renameSync(building, templateDir)
  return templateDir
}
