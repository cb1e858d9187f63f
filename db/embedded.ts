import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PGlite } from '@electric-sql/pglite'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const pgliteVersion = (JSON.parse(readFileSync(join(root, 'node_modules', '@electric-sql', 'pglite', 'package.json'), 'utf8')) as { version: string }).version

/**
 * A freshly initialised, empty PGlite data directory (no tables), made once by `npm ci`
 * (postinstall) for the installed PGlite version. Loading it takes about a second; running
 * initdb in WebAssembly takes five or more, which is most of a first `npm start`.
 */
export const templateFile = join(root, 'node_modules', '.cache', 'chat-app', `pglite-${pgliteVersion}-initdb.tar.gz`)

function template (): Blob | undefined {
  return existsSync(templateFile) ? new Blob([readFileSync(templateFile)]) : undefined
}

/** Opens the embedded engine: `memory://` keeps nothing; a new directory starts from the template. */
export async function openEmbedded (dataDir: string): Promise<PGlite> {
  if (dataDir === 'memory://') return await PGlite.create({ loadDataDir: template() })
  const fresh = !existsSync(join(dataDir, 'PG_VERSION'))
  mkdirSync(dataDir, { recursive: true })
  return await PGlite.create(dataDir, { loadDataDir: fresh ? template() : undefined })
}

/** Writes the template (postinstall). */
export async function writeTemplate (): Promise<void> {
  const pglite = await PGlite.create()
  const dump = await pglite.dumpDataDir('gzip')
  await pglite.close()
  mkdirSync(dirname(templateFile), { recursive: true })
  writeFileSync(templateFile, Buffer.from(await dump.arrayBuffer()))
}
