import { existsSync } from 'node:fs'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsync } from 'fastify'

/**
 * The demo page's files, as scripts/build.mjs (`buildWeb`) writes them: dist/web. Compiled, this
 * module is dist/routes/web/index.js (dist/web is two folders up); run from the TypeScript sources
 * (tsx, the tests) it is routes/web/index.ts, and dist/web is under the repository root.
 */
const above = fileURLToPath(new URL('../..', import.meta.url))
export const WEB_ROOT = basename(above) === 'dist' ? join(above, 'web') : join(above, 'dist', 'web')

/**
 * The page's Content-Security-Policy: its script and stylesheet from this server only, no inline
 * script or style, nothing from elsewhere. `connect-src 'self'` covers the REST calls and the
 * same-origin WebSocket; `img-src blob:` is for attachment thumbnails, which the page fetches with
 * its token (an <img src> cannot send one) and shows from a blob: URL.
 */
export const DEMO_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob:",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'"
].join('; ')

/**
 * The demo chat page at `/` (web/, bundled into dist/web by the build): only the files the build
 * wrote, each with the page's CSP. Without a build (dist/web missing) there is no page: `/` is 404
 * and a warning says how to build it.
 */
const web: FastifyPluginAsync = async function (app) {
  if (!existsSync(join(WEB_ROOT, 'index.html'))) {
    app.log.warn(`the demo page is not built (${WEB_ROOT} is missing): run npm run build`)
    return
  }
  await app.register(fastifyStatic, {
    root: WEB_ROOT,
    // One route per file the build wrote (no catch-all: unknown paths keep the API's JSON 404).
    wildcard: false,
    index: 'index.html',
    decorateReply: false,
    setHeaders: reply => { reply.header('content-security-policy', DEMO_CSP) }
  })
}

export default web
