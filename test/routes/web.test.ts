import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { buildState, sourceFiles } from '../../scripts/build.mjs'
import { DEMO_CSP, WEB_ROOT } from '../../routes/web/index.js'
import { build } from '../helper.js'

// npm test builds dist/ (the page's bundle with it) before tap runs.
t.equal(buildState(), 'fresh', 'dist/ (dist/web with it) is built from these sources: run npm run build')

t.test('the page\'s sources are build inputs: an edit to the page or the SDK makes dist/ stale, so npm start rebuilds it', async t => {
  const inputs = sourceFiles()
  for (const file of ['web/main.ts', 'web/index.html', 'web/style.css', 'sdk/src/realtime.ts', 'sdk/src/index.ts']) t.ok(inputs.includes(file), `${file} is hashed`)
})

t.test('the demo page at / is the build\'s dist/web, each file with the page\'s strict CSP', async t => {
  const app = await build(t)
  const page = await app.inject({ url: '/' })
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /^text\/html/)
  t.equal(page.body, readFileSync(join(WEB_ROOT, 'index.html'), 'utf8'), '/ is dist/web/index.html')
  t.equal(page.headers['content-security-policy'], DEMO_CSP)
  t.equal(page.headers['x-content-type-options'], 'nosniff', 'with the headers helmet sets everywhere')
  for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"]) {
    t.ok(DEMO_CSP.split('; ').includes(directive), `CSP: ${directive}`)
  }
  t.notMatch(DEMO_CSP, /unsafe-|https?:|\*/, 'no unsafe-inline or unsafe-eval, no other origin')

  // Nothing inline for the CSP to refuse, nothing from elsewhere.
  t.notMatch(page.body, /<script(?![^>]*\bsrc=)[^>]*>/, 'every <script> has a src')
  t.notMatch(page.body, /<style|\sstyle=|\son[a-z]+=/i, 'no <style>, no style or on… attributes')
  t.notMatch(page.body, /(?:src|href)="(?:https?:)?\/\//, 'no file from another origin')

  const script = await app.inject({ url: '/main.js' })
  t.equal(script.statusCode, 200)
  t.match(script.headers['content-type'], /javascript/)
  t.equal(script.headers['content-security-policy'], DEMO_CSP)
  t.notMatch(script.body, /\bfrom\s*["']node:|require\(["']/, 'the bundle imports nothing Node-only')
  t.match(script.body, /sdk\/src\/realtime\.ts/, 'it bundles the SDK\'s realtime client')
  t.equal((await app.inject({ url: '/style.css' })).statusCode, 200)
})

t.test('only the built files are served: other paths keep the API\'s JSON 404, and the API its own answers', async t => {
  const app = await build(t)
  for (const url of ['/nope', '/main.ts', '/../package.json', '/%2e%2e/package.json', '/api/v1/nope']) {
    const response = await app.inject({ url })
    t.equal(response.statusCode, 404, `${url}: 404`)
    t.match(response.json(), { error: String }, `${url}: the Error shape`)
    t.equal(response.headers['content-security-policy'], undefined, `${url}: not the page's CSP`)
  }
  const health = await app.inject({ url: '/health/live' })
  t.equal(health.statusCode, 200)
  t.equal(health.headers['content-security-policy'], undefined, 'the API keeps its own headers (no CSP added)')
})
