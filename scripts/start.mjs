// @ts-check
// `npm start`: the compiled server (dist/bundle/server.js, scripts/build.mjs `bundleServer`), run in this very process, and only once
// dist/ is known to be built from the current sources (dist/build-info.json holds their hash).
// When it is not, this builds it first where the TypeScript compiler is installed (a line on
// stdout, then the build's own), and refuses with one line on stderr where it is not (a
// production install): a stale dist/ is never run.
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { buildState, compiler, root } from './build.mjs'

const state = buildState()
if (state !== 'fresh') {
  if (compiler() === undefined) {
    process.stderr.write(`chat-app: not starting: ${state}, and this install has no TypeScript compiler to build it (npm ci --omit=dev): build where the dev dependencies are (npm ci, npm run build) or run the Docker image\n`)
    process.exit(1)
  }
  process.stdout.write(`chat-app: ${state}; building it first (npm run build)\n`)
  // In a process of its own, which reports its time or its failure (with tsc's diagnostics) itself.
  const { status } = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] })
  if (status !== 0) process.exit(1)
  if (buildState() !== 'fresh') {
    process.stderr.write('chat-app: not starting: the sources changed while dist/ was being built; run npm start again\n')
    process.exit(1)
  }
}

await import(pathToFileURL(join(root, 'dist', 'bundle', 'server.js')).href)
