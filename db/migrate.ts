import { promises as fs } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { FileMigrationProvider, type Kysely, Migrator, sql } from 'kysely'

export const migrationFolder = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations')

export function migrator (db: Kysely<any>): Migrator {
  return new Migrator({ db, provider: new FileMigrationProvider({ fs, path, migrationFolder }) })
}

/**
 * Whether every migration file has been applied, read without loading the migration modules or
 * taking the migration lock (which cost most of a second on the embedded engine at every start).
 */
async function upToDate (db: Kysely<any>): Promise<boolean> {
  const files = (await fs.readdir(migrationFolder)).filter(f => /^\d+_.+\.[jt]s$/.test(f) && !f.endsWith('.d.ts')).map(f => f.replace(/\.[jt]s$/, ''))
  try {
    const { rows } = await sql<{ name: string }>`select name from kysely_migration`.execute(db)
    const applied = new Set(rows.map(r => r.name))
    return files.every(f => applied.has(f))
  } catch {
    return false // no migration table yet: a new database
  }
}

/** Brings the schema up to date; throws the first failing migration's error. */
export async function migrateToLatest (db: Kysely<any>): Promise<void> {
  if (await upToDate(db)) return
  const { error, results } = await migrator(db).migrateToLatest()
  if (error !== undefined) {
    const failed = results?.find(r => r.status === 'Error')
    const cause = error instanceof Error ? error : new Error(String(error))
    throw new Error(`migration ${failed?.migrationName ?? '(unknown)'} failed: ${cause.message}`, { cause })
  }
}
