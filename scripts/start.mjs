// @ts-check
// `npm start`: the compiled server (dist/src/server.js), run in this very process, and only once
// dist/ is known to be built from the current sources (dist/build-info.json holds their hash).
// When it is not, this builds it first where the TypeScript compiler is installed (one line on
// stdout, then tsc's time), and refuses with one line on stderr where it is not (a production
// install): a stale dist/ is never run.
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { build, buildState, compiler, root } from './build.mjs'

const state = buildState()
if (state !== 'fresh') {
  if (compiler() === undefined) {
    process.stderr.write(`chat-app: not starting: ${state}, and this install has no TypeScript compiler to build it (npm ci --omit=dev): build where the dev dependencies are (npm ci, npm run build) or run the Docker image\n`)
    process.exit(1)
  }
  process.stdout.write(`chat-app: ${state}; building it first (npm run build)\n`)
  try {
    await build()
  } catch (err) {
    process.stderr.write(`chat-app: not starting: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  }
}

await import(pathToFileURL(join(root, 'dist', 'src', 'server.js')).href)
