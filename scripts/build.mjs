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
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

/** The repository root. */
export const root = fileURLToPath(new URL('..', import.meta.url))

/** Written last by a build: `{ sources }`, the hash of the sources it was built from. */
export const BUILD_INFO = 'build-info.json'

/**
 * Files every build depends on besides tsconfig.build.json's `include`; package-lock.json because
 * the server's bundle (`bundleServer`) holds the installed dependencies' code: another install
 * makes dist/ stale.
 */
const RECIPE = ['tsconfig.json', 'tsconfig.build.json', 'scripts/build.mjs', 'package-lock.json']

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
  for (const [what, bundle] of /** @type {const} */ ([['the demo page', buildWeb], ['the server', bundleServer]])) {
    try {
      await bundle(base, out)
    } catch (err) {
      rmSync(out, { recursive: true, force: true })
      throw new Error(`${what}'s bundle (esbuild) failed (${err instanceof Error ? err.message : String(err)}); nothing was written to dist/`)
    }
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
 * esbuild into `<out>/web/main.js` (one ES module for browsers, with its source map), and web/'s other
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
    outfile: join(out, 'web', 'main.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: true,
    logLevel: 'warning'
  })
  for (const file of walk(base, 'web').filter(f => !/\.ts$/.test(f))) copyFileSync(join(base, file), join(out, file))
}

/**
 * Left out of the server's bundle, loaded from node_modules when used: PGlite (its WebAssembly
 * and data files sit beside its modules), sharp (a native addon), the AWS SDK (the s3 driver's,
 * loaded only with STORAGE_DRIVER=s3).
 */
const UNBUNDLED = ['@electric-sql/pglite', 'sharp', '@aws-sdk/*']

/**
 * The compiled server (`<out>/src/server.js`) and the packages it imports bundled by esbuild into
 * `<out>/bundle/server.js`, which `npm start` and the Docker image run: a start reads a few dozen
 * files instead of ~1,100 modules (module loading was most of P8's second start). Its dynamic
 * imports stay lazy (chunks beside it, loaded when first used). Every bundled file still sees its
 * own location: `import.meta.url`, and a CommonJS file's `__dirname` and `__filename`, name the
 * file it came from (the password worker, the migrations' folder, the demo page, Swagger UI's
 * assets, pino's and piscina's workers are found where they are), and `require` resolves from the
 * bundle's folder (node_modules beside dist/).
 * @param {string} base
 * @param {string} out
 * @returns {Promise<void>}
 */
export async function bundleServer (base, out) {
  const esbuild = await import('esbuild')
  const { readFile } = await import('node:fs/promises')
  const outdir = join(out, 'bundle')
  /** `file`'s path from the bundle's folder, as a relative URL. @param {string} file */
  const fromBundle = file => JSON.stringify(relative(outdir, file).split(sep).join('/'))
  /** @type {import('esbuild').Plugin} */
  const ownLocation = {
    name: 'own-location',
    setup (build) {
      build.onLoad({ filter: /\.[cm]?js$/ }, async ({ path }) => {
        let text = await readFile(path, 'utf8')
        const meta = text.includes('import.meta.url')
        const commonjs = /\b__(?:dir|file)name\b/.test(text) && !/\b(?:const|let|var|function)\s+__(?:dir|file)name\b/.test(text)
        if (!meta && !commonjs) return undefined
        if (meta) text = text.replaceAll('import.meta.url', `new URL(${fromBundle(path)}, import.meta.url).href`)
        // Not `import.meta` here: it would make esbuild take a CommonJS file for an ES module.
        if (commonjs) text = `var __filename = __chatAppPath(new URL(${fromBundle(path)}, __chatAppUrl)), __dirname = __chatAppPath(new URL(${fromBundle(dirname(path) + sep)}, __chatAppUrl));\n${text}`
        return { contents: text, loader: 'js' }
      })
    }
  }
  const { metafile } = await esbuild.build({
    absWorkingDir: base,
    entryPoints: { server: join(out, 'src', 'server.js') },
    outdir,
    // Chunks beside the entry: one folder, so a file's path from the bundle is the same in all of them.
    entryNames: '[name]',
    chunkNames: '[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: UNBUNDLED,
    banner: { js: "import { createRequire as __chatAppRequire } from 'node:module'; import { fileURLToPath as __chatAppPath } from 'node:url'; const __chatAppUrl = import.meta.url; const require = __chatAppRequire(__chatAppUrl);" },
    plugins: [ownLocation],
    logLevel: 'warning',
    metafile: true
  })
  const problems = await commonJsWithoutDefault(metafile, async file => await readFile(join(base, file), 'utf8'), file => relative(out, join(base, file)).split(sep).join('/'))
  if (problems.length > 0) throw new Error(problems.join('; '))
}

/**
 * Code with white space kept only between two words (as one space): `} = await` is `}=await`.
 * @param {string} code
 * @returns {string}
 */
const tight = code => code.replace(/\s*([^\w$\s])\s*/g, '$1').replace(/\s+/g, ' ').trim()

/**
 * Where the server's own code takes a CommonJS package by a dynamic `import()` other than through its
 * `default`: inside the bundle such an import gives only `default` (module.exports), so a named
 * export read from it is undefined, while unbundled node (whose loader guesses named exports) has
 * it: code that works under tsx and in the tests fails only in `npm start`'s bundle. Accepted:
 * `(await import('pkg')).default`, `const { default: x } = await import('pkg')` and
 * `import('pkg').then(({ default: … }) => …)`. Each problem names the file and the package.
 * @param {import('esbuild').Metafile} meta esbuild's metafile of the bundle
 * @param {(file: string) => Promise<string>} read a file of the metafile's inputs, by its path there
 * @param {(file: string) => string} [name] how a problem names that file
 * @returns {Promise<string[]>}
 */
export async function commonJsWithoutDefault (meta, read, name = file => file) {
  const problems = []
  for (const [file, input] of Object.entries(meta.inputs)) {
    if (file.split('/').includes('node_modules')) continue
    const packages = input.imports.flatMap(({ kind, path, original }) => kind === 'dynamic-import' && original !== undefined && meta.inputs[path]?.format === 'cjs' ? [original] : [])
    if (packages.length === 0) continue
    const text = await read(file)
    for (const original of packages) {
      const quoted = original.replace(/[\\^$.*+?()[\]{}|/]/g, c => `\\${c}`)
      // eslint-disable-next-line security/detect-non-literal-regexp -- the specifier is escaped: literal text
      const call = new RegExp(`import\\(\\s*(['"])${quoted}\\1\\s*\\)`, 'g')
      for (const found of text.matchAll(call)) {
        // What is around the call.
        const before = tight(text.slice(Math.max(0, found.index - 200), found.index))
        const after = tight(text.slice(found.index + found[0].length, found.index + found[0].length + 200))
        const takesDefault = /^\)\.default\b/.test(after) || /^\.then\(\(\{default\b/.test(after) || /\{default:?[\w$]*\}=await$/.test(before)
        if (!takesDefault) problems.push(`${name(file)} takes the CommonJS package ${original} by import() without its default: write (await import('${original}')).default`)
      }
    }
  }
  return problems
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
