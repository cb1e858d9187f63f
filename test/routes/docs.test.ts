import { readFileSync } from 'node:fs'
import t from 'tap'
import { parse } from 'yaml'
import { build } from '../helper.js'

const committed = readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8')

t.test('the running server serves the committed OpenAPI document and Swagger UI', async t => {
  const app = await build(t)

  const yaml = await app.inject({ url: '/docs/yaml' })
  t.equal(yaml.statusCode, 200)
  t.same(parse(yaml.body), parse(committed), '/docs/yaml is openapi.yaml')

  const json = await app.inject({ url: '/docs/json' })
  t.equal(json.statusCode, 200)
  t.same(json.json(), parse(committed), '/docs/json is openapi.yaml')

  const ui = await app.inject({ url: '/docs/' })
  t.equal(ui.statusCode, 200)
  t.match(ui.headers['content-type'], /text\/html/)
  t.match(ui.body, /swagger-ui/i, 'Swagger UI page')
  const init = await app.inject({ url: '/docs/static/swagger-initializer.js' })
  t.equal(init.statusCode, 200)
  t.match(init.body, /resolveUrl\('\.\/json'\)/, 'Swagger UI loads the served document (/docs/json)')
})
