import { createHash } from 'node:crypto'
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PGlite } from '@electric-sql/pglite'
import { Kysely } from 'kysely'
import { PGliteDialect } from 'kysely-pglite-dialect'
import { migrateToLatest, migrationFolder } from './migrate.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const pgliteVersion = (JSON.parse(readFileSync(join(root, 'node_modules', '@electric-sql', 'pglite', 'package.json'), 'utf8')) as { version: string }).version

/** Names the current migrations by their content: a template made from other migrations is never used. */
function migrationsHash (): string {
  const hash = createHash('sha256')
  for (const file of readdirSync(migrationFolder).filter(f => /\.[jt]s$/.test(f)).sort()) {
    hash.update(file).update(readFileSync(join(migrationFolder, file)))
  }
  return hash.digest('hex').slice(0, 12)
}

/**
 * A migrated, empty PGlite data directory, made once by `npm ci` (postinstall) for the installed
 * PGlite version and the current migrations, as a directory (copied for a new DATA_DIR) and as
 * a tarball (loaded for `memory://`). Copying it takes a fraction of a second; initdb in
 * WebAssembly plus the migrations take five or more, which was most of a first `npm start`.
 */
export const templateDir = join(root, 'node_modules', '.cache', 'chat-app', `pglite-${pgliteVersion}-${migrationsHash()}`)
const templateTarball = `${templateDir}.tar.gz`
/** Present only once the template is complete. */
const templateReady = join(templateDir, 'PG_VERSION')

/** Opens the embedded engine: `memory://` keeps nothing; a new directory starts as a copy of the template. */
export async function openEmbedded (dataDir: string): Promise<PGlite> {
  if (dataDir === 'memory://') {
    return await PGlite.create({ loadDataDir: existsSync(templateTarball) ? new Blob([readFileSync(templateTarball)]) : undefined })
  }
  if (!existsSync(join(dataDir, 'PG_VERSION')) && existsSync(templateReady)) {
    mkdirSync(dataDir, { recursive: true })
    cpSync(templateDir, dataDir, { recursive: true })
  }
  mkdirSync(dataDir, { recursive: true })
  return await PGlite.create(dataDir)
}

/** Writes the template (postinstall): initdb and every migration, into a directory and a tarball. */
export async function writeTemplate (): Promise<string> {
  const building = `${templateDir}.building-${process.pid}`
  rmSync(building, { recursive: true, force: true })
  mkdirSync(building, { recursive: true })
  const pglite = await PGlite.create(building)
  await migrateToLatest(new Kysely<any>({ dialect: new PGliteDialect(pglite) }))
  const dump = await pglite.dumpDataDir('gzip')
  await pglite.close()
  writeFileSync(templateTarball, Buffer.from(await dump.arrayBuffer()))
  rmSync(templateDir, { recursive: true, force: true })
  renameSync(building, templateDir)
  return templateDir
}
