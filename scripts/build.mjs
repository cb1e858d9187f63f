// @ts-check
// `npm run build` (also run by `npm ci`, through scripts/postinstall.mjs, and by `npm start` when
// dist/ is missing or stale): compiles the TypeScript into dist/ with tsc (tsconfig.build.json),
// copies the plain JavaScript files beside it (the password worker), records the migrations'
// source hash (db/embedded.ts names the embedded template by it), and writes dist/build-info.json
// last: the hash of the sources the build was made from. `npm start` (scripts/start.mjs) compares
// that hash with the current sources' before it runs anything from dist/.
//
// Plain JavaScript, run by node itself: it is what turns the TypeScript into something node runs.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

/** The repository root. */
export const root = fileURLToPath(new URL('..', import.meta.url))

/** Written last by a build: `{ sources }`, the hash of the sources it was built from. */
export const BUILD_INFO = 'build-info.json'

/** Files every build depends on besides tsconfig.build.json's `include`. */
const RECIPE = ['tsconfig.json', 'tsconfig.build.json', 'scripts/build.mjs']

/** The demo page's sources (`buildWeb`): the page itself and the SDK it bundles. */
const WEB_INPUTS = ['web', 'sdk/src']

/** What tsc compiles (TypeScript) or the build copies (plain JavaScript), and JSON that TypeScript may import. */
const SOURCE = /\.(?:[cm]?ts|[cm]?js|json)$/
const PLAIN_JS = /\.[cm]?js$/

/**
 * Every file under `dir` (or `dir` itself when it is a file), relative to `base`, `/`-separated.
 * @param {string} base
 * @param {string} dir
 * @returns {string[]}
 */
function walk (base, dir) {
  const full = join(base, dir)
  if (!existsSync(full)) return []
  if (!statSync(full).isDirectory()) return [dir]
  return readdirSync(full, { withFileTypes: true }).flatMap(entry => {
    const path = `${dir}/${entry.name}`
    return entry.isDirectory() ? walk(base, path) : [path]
  })
}

/**
 * The build's inputs, relative to `base`, sorted: the source files under tsconfig.build.json's
 * `include` (folders walked), every file of the demo page's sources (WEB_INPUTS), and the recipe
 * (both tsconfig files and this script).
 * @param {string} [base]
 * @returns {string[]}
 */
export function sourceFiles (base = root) {
  const { include } = /** @type {{ include: string[] }} */ (JSON.parse(readFileSync(join(base, 'tsconfig.build.json'), 'utf8')))
  const files = include.flatMap(entry => walk(base, entry)).filter(file => SOURCE.test(file))
  return [...new Set([...RECIPE, ...files, ...WEB_INPUTS.flatMap(entry => walk(base, entry))])].sort()
}

/**
 * One hash of every input's path and content: any edit, addition, removal or rename changes it.
 * @param {string} [base]
 * @returns {string}
 */
export function sourcesHash (base = root) {
  const hash = createHash('sha256')
  for (const file of sourceFiles(base)) hash.update(file).update('\0').update(readFileSync(join(base, file))).update('\0')
  return hash.digest('hex')
}

/**
 * 'fresh' when `<base>/dist` was built from the current sources; otherwise why not, as a phrase.
 * @param {string} [base]
 * @returns {'fresh' | 'dist/ has not been built' | 'dist/ was built from other sources than these'}
 */
export function buildState (base = root) {
  const info = join(base, 'dist', BUILD_INFO)
  if (!existsSync(info)) return 'dist/ has not been built'
  const { sources } = /** @type {{ sources?: string }} */ (JSON.parse(readFileSync(info, 'utf8')))
  return sources === sourcesHash(base) ? 'fresh' : 'dist/ was built from other sources than these'
}

/**
 * The TypeScript compiler's entry point, or undefined in a production install (`npm ci --omit=dev`).
 * @param {string} [base]
 * @returns {string | undefined}
 */
export function compiler (base = root) {
  try {
    return createRequire(join(base, 'package.json')).resolve('typescript/bin/tsc')
  } catch {
    return undefined
  }
}

/**
 * Builds `<base>/dist`: into a folder of its own, swapped in whole at the end, so a process
 * starting meanwhile (or a second build running at once) never sees half a build.
 * @param {string} [base]
 * @returns {Promise<void>}
 */
export async function build (base = root) {
  const tsc = compiler(base)
  if (tsc === undefined) throw new Error('the TypeScript compiler is not installed (a production install?): run `npm ci` first')
  const dist = join(base, 'dist')
  const out = `${dist}.building-${process.pid}`
  rmSync(out, { recursive: true, force: true })
  // Hashed before compiling: a file edited during the build makes the next start build again.
  const sources = sourcesHash(base)

  // tsc writes its diagnostics to stdout: they go to stderr here, with the error that follows.
  const { status, error } = spawnSync(process.execPath, [tsc, '-p', join(base, 'tsconfig.build.json'), '--outDir', out], { cwd: base, stdio: ['ignore', 2, 2] })
  if (error !== undefined || status !== 0) {
    rmSync(out, { recursive: true, force: true })
    throw new Error(`tsc -p tsconfig.build.json failed (${error?.message ?? `exit ${status}`}); nothing was written to dist/`)
  }
  for (const file of sourceFiles(base).filter(f => PLAIN_JS.test(f) && !RECIPE.includes(f) && !WEB_INPUTS.some(dir => f.startsWith(`${dir}/`)))) {
    mkdirSync(dirname(join(out, file)), { recursive: true })
    copyFileSync(join(base, file), join(out, file))
  }
  try {
    await buildWeb(base, join(out, 'web'))
  } catch (err) {
    rmSync(out, { recursive: true, force: true })
    throw new Error(`the demo page's bundle (esbuild) failed (${err instanceof Error ? err.message : String(err)}); nothing was written to dist/`)
  }
  // The compiled migrations are .js files: they carry the hash of the .ts sources they came from,
  // so that compiled and TypeScript runs name (and share) the same embedded template.
  const { migrationsHash, SOURCES_HASH_FILE } = await import(pathToFileURL(join(out, 'db', 'embedded.js')).href)
  writeFileSync(join(out, 'db', 'migrations', SOURCES_HASH_FILE), `${migrationsHash(join(base, 'db', 'migrations'))}\n`)
  writeFileSync(join(out, BUILD_INFO), `${JSON.stringify({ sources }, null, 2)}\n`)

  // Swap the new build in; when another build swapped in its own meanwhile, take its place again.
  for (let attempt = 0; ; attempt++) {
    const old = `${dist}.old-${process.pid}-${attempt}`
    try {
      renameSync(dist, old)
    } catch {
      // No dist/ yet (or another build is between its two renames).
    }
    try {
      renameSync(out, dist)
      rmSync(old, { recursive: true, force: true })
      return
    } catch (err) {
      rmSync(old, { recursive: true, force: true })
      if (attempt >= 5) throw err
    }
  }
}

/**
 * The demo page (served at `/` by routes/web): web/main.ts and the SDK it imports bundled by
 * esbuild into `<out>/main.js` (one ES module for browsers, with its source map), and web/'s other
 * files (index.html, style.css) copied beside it. Part of every build, so the page is never older
 * than the server serving it: its sources are among the build's inputs (WEB_INPUTS).
 * @param {string} base
 * @param {string} out
 * @returns {Promise<void>}
 */
export async function buildWeb (base, out) {
  const esbuild = await import('esbuild')
  await esbuild.build({
    absWorkingDir: base,
    entryPoints: [join(base, 'web', 'main.ts')],
    outfile: join(out, 'main.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: true,
    logLevel: 'warning'
  })
  for (const file of walk(base, 'web').filter(f => !/\.ts$/.test(f))) copyFileSync(join(base, file), join(out, file.slice('web/'.length)))
}

// `node scripts/build.mjs [--if-stale]`: --if-stale builds only when dist/ is missing or stale (npm test).
if (process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const started = Date.now()
  const state = buildState()
  if (process.argv.includes('--if-stale') && state === 'fresh') {
    console.log('chat-app: dist/ is up to date')
  } else {
    try {
      await build()
      console.log(`chat-app: built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s`)
    } catch (err) {
      console.error(`chat-app: build failed: ${err instanceof Error ? err.message : String(err)}`)
      process.exit(1)
    }
  }
}
