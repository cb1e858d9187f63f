// @ts-check
// `npm ci` / `npm install`: builds dist/ (what `npm start` runs), then the embedded database
// template with the compiled code (so the first start is quick). A production install
// (`npm ci --omit=dev`) has no TypeScript compiler: it builds nothing, and says so.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { build, buildState, compiler, root } from './build.mjs'

if (compiler() !== undefined) {
  const started = Date.now()
  try {
    await build()
  } catch (err) {
    // No dist/, no `npm start`: the install has failed.
    console.error(`chat-app: build failed: ${err instanceof Error ? err.message : String(err)}`)
    process.exit(1)
  }
  console.log(`chat-app: built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s`)
} else {
  console.log(`chat-app: production install (no TypeScript compiler): not building; ${buildState() === 'fresh' ? 'dist/ is up to date' : 'npm start needs a dist/ built from these sources (see README, "Running it")'}`)
}

const template = join(root, 'dist', 'scripts', 'pglite-template.js')
if (buildState() === 'fresh' && existsSync(template)) {
  // Its own process: it reports (and survives) its own failure, which never fails the install.
  spawnSync(process.execPath, [template], { cwd: root, stdio: 'inherit' })
}

// tap's plugin set, as .taprc names it (test files load through tsx, test/tap-tsx), built now. tap
// rebuilds it itself on a run that finds it stale, but that run's test files still load with the
// set it started with: the first `npm test` after `npm ci` ran every file through ts-node.
// Only in an install: the image's build stage runs this file itself and never runs tap.
const tap = join(root, 'node_modules', '.bin', 'tap')
if (process.env.npm_lifecycle_event === 'postinstall' && existsSync(tap)) {
  const built = spawnSync(tap, ['build'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] })
  if (built.status !== 0) console.error('chat-app: `tap build` failed: the first tap run rebuilds its plugins and loads the test files through ts-node')
}
