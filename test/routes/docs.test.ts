import { readFileSync } from 'node:fs'
import t from 'tap'
import { parse } from 'yaml'
import { build } from '../helper.js'

/** The document as served, but for `servers` (relative: `/`). */
const withoutServers = (document: Record<string, unknown>): Record<string, unknown> => ({ ...document, servers: undefined })

const committed = readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8')

t.test('the running server serves the committed OpenAPI document and Swagger UI', async t => {
  const app = await build(t)

  const yaml = await app.inject({ url: '/docs/yaml' })
  t.equal(yaml.statusCode, 200)
  t.same(withoutServers(parse(yaml.body)), withoutServers(parse(committed)), '/docs/yaml is openapi.yaml')

  const json = await app.inject({ url: '/docs/json' })
  t.equal(json.statusCode, 200)
  t.same(withoutServers(json.json()), withoutServers(parse(committed)), '/docs/json is openapi.yaml')
  t.same(json.json().servers.map((s: { url: string }) => s.url), ['/'], 'its server is relative: the origin it was fetched from')

  const ui = await app.inject({ url: '/docs/' })
  t.equal(ui.statusCode, 200)
  t.match(ui.headers['content-type'], /text\/html/)
  t.match(ui.body, /swagger-ui/i, 'Swagger UI page')
  const init = await app.inject({ url: '/docs/static/swagger-initializer.js' })
  t.equal(init.statusCode, 200)
  t.match(init.body, /resolveUrl\('\.\/json'\)/, 'Swagger UI loads the served document (/docs/json)')
})

t.test('on a random port, the served document\'s server is relative, so "Try it out" calls this server (test/browser/docs.test.ts clicks it)', async t => {
  const app = await build(t)
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  for (const path of ['/docs/json', '/docs/yaml']) {
    const response = await fetch(`${address}${path}`)
    t.equal(response.status, 200)
    const document = parse(await response.text()) as { servers: Array<{ url: string }> }
    t.same(document.servers.map(s => s.url), ['/'], `${path}: servers is / (resolved against ${address}${path})`)
    t.equal(new URL(document.servers[0]!.url, `${address}${path}`).origin, address, 'which resolves to this server\'s origin')
  }
  t.match(parse(committed).servers, [{ url: 'http://localhost:8080' }], 'the committed openapi.yaml keeps the local default')
})
