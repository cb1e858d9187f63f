import { readFileSync } from 'node:fs'
import t from 'tap'
import { parse } from 'yaml'
import { generateSdkTypes, SDK_TYPES_FILE } from '../../scripts/sdk-types.js'
import { generateOpenApi } from '../../src/docs/openapi.js'
import { firstDifference } from '../helper.js'

type Operation = { operationId?: string, tags?: string[], security?: unknown[], responses?: Record<string, { $ref?: string, content?: Record<string, { schema?: { $ref?: string } }> }> }
type Doc = {
  openapi: string
  paths: Record<string, Record<string, Operation>>
  components?: { schemas?: Record<string, unknown>, securitySchemes?: Record<string, { type?: string, scheme?: string }> }
}

/** 2xx, or 101 for the WebSocket upgrade. */
const SUCCESS = /^(2\d\d|101)$/
const METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'])
const committed = readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8')
const doc = parse(committed) as Doc

function operations (): Array<{ method: string, path: string, op: Operation }> {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).filter(([method]) => METHODS.has(method)).map(([method, op]) => ({ method, path, op })))
}

t.test('openapi.yaml is what the code generates', async t => {
  const generated = await generateOpenApi()
  t.ok(generated === committed, generated === committed
    ? 'openapi.yaml is up to date'
    : `openapi.yaml differs from the route schemas (${firstDifference(committed, generated)}): run \`npm run openapi\` and commit the result`)
})

t.test('sdk/src/openapi.d.ts is what openapi-typescript generates from openapi.yaml', async t => {
  const generated = await generateSdkTypes(committed)
  const types = readFileSync(SDK_TYPES_FILE, 'utf8')
  t.ok(generated === types, generated === types
    ? 'the SDK types are up to date'
    : `sdk/src/openapi.d.ts differs from openapi.yaml (${firstDifference(types, generated)}): run \`npm run openapi\` and commit the result`)
})

t.test('the document keeps its structural promises', async t => {
  t.match(doc.openapi, /^3\.\d+\.\d+$/, 'OpenAPI 3.x')

  const ops = operations()
  const ids = ops.map(o => o.op.operationId)
  for (const { method, path, op } of ops) {
    t.match(op.operationId, /^[a-z][A-Za-z]+$/, `${method} ${path} has an operationId`)
    t.ok(Array.isArray(op.tags) && op.tags.length > 0, `${method} ${path} has a tag`)
    t.ok(op.responses !== undefined && Object.keys(op.responses).some(s => SUCCESS.test(s)), `${method} ${path} documents a success`)
    for (const [status, response] of Object.entries(op.responses ?? {})) {
      if (SUCCESS.test(status)) continue
      if (status === '304') {
        // A conditional download (If-None-Match): no body at all.
        t.equal(response.content, undefined, `${method} ${path} 304 has no body`)
        continue
      }
      if (path === '/health' && status === '503') {
        // The contract's readiness probe answers 503 with the health body (`status: unavailable`).
        t.equal(response.content?.['application/json']?.schema?.$ref, '#/components/schemas/Health', 'GET /health 503 is the Health body')
        continue
      }
      t.equal(response.content?.['application/json']?.schema?.$ref, '#/components/schemas/Error', `${method} ${path} ${status} is an Error`)
    }
  }
  t.equal(new Set(ids).size, ids.length, `operationIds are unique: ${ids.join(', ')}`)

  t.match(doc.components?.securitySchemes?.bearerAuth, { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }, 'bearerAuth security scheme')
  for (const name of ['User', 'UserList', 'RegisterRequest', 'LoginRequest', 'LoginResponse', 'Room', 'RoomSummary', 'RoomList', 'CreateRoomRequest', 'JoinRoomResponse', 'Message', 'MessageList', 'SendMessageRequest', 'Error', 'Health', 'Liveness']) {
    t.ok(doc.components?.schemas?.[name] !== undefined, `components/schemas/${name} exists`)
  }
  t.notOk(Object.keys(doc.components?.schemas ?? {}).some(name => /^def-\d+$/.test(name)), 'no unnamed def-N components')

  // The WebSocket upgrade (`GET /ws`, the contract's realtime section) may be documented beside them.
  const rest = ops.map(o => `${o.method.toUpperCase()} ${o.path}`).filter(route => route !== 'GET /ws')
  t.same(rest.sort(), [
    'GET /health',
    'GET /health/live',
    // Part 2, Operations: Prometheus metrics.
    'GET /metrics',
    'POST /api/v1/users/register',
    'POST /api/v1/users/login',
    'GET /api/v1/users',
    'GET /api/v1/users/{id}',
    // Beyond the contract: the account routes (token revocation, see README "Revocation").
    'POST /api/v1/users/logout',
    'GET /api/v1/users/me',
    'PATCH /api/v1/users/me',
    'PATCH /api/v1/users/{id}',
    'POST /api/v1/rooms',
    'GET /api/v1/rooms',
    'POST /api/v1/rooms/{id}/join',
    // Part 2, rooms: moderation.
    'GET /api/v1/rooms/{id}/members',
    'PATCH /api/v1/rooms/{id}/members/{user_id}',
    'DELETE /api/v1/rooms/{id}/members/{user_id}',
    'GET /api/v1/rooms/{id}/bans',
    'PUT /api/v1/rooms/{id}/bans/{user_id}',
    'DELETE /api/v1/rooms/{id}/bans/{user_id}',
    'PUT /api/v1/rooms/{id}/mutes/{user_id}',
    'DELETE /api/v1/rooms/{id}/mutes/{user_id}',
    'POST /api/v1/messages',
    'GET /api/v1/rooms/{id}/messages',
    // Part 2: the room feed, edits, deletes, reactions, replies, read state.
    'PATCH /api/v1/messages/{id}',
    'DELETE /api/v1/messages/{id}',
    'PUT /api/v1/messages/{id}/reactions/{emoji}',
    'DELETE /api/v1/messages/{id}/reactions/{emoji}',
    'GET /api/v1/messages/{id}/replies',
    'GET /api/v1/rooms/{id}/events',
    'POST /api/v1/rooms/{id}/read',
    'POST /api/v1/rooms/{id}/leave',
    'GET /api/v1/users/me/rooms',
    // Part 2, Rooms: invites and direct messages.
    'POST /api/v1/rooms/{id}/invites',
    'DELETE /api/v1/rooms/{id}/invites/{user_id}',
    'GET /api/v1/users/me/invites',
    'POST /api/v1/dms',
    // Part 2, Rooms: a room, its settings, its deletion.
    'GET /api/v1/rooms/{id}',
    'PATCH /api/v1/rooms/{id}',
    'DELETE /api/v1/rooms/{id}',
    // Part 2, Analytics.
    'GET /api/v1/admin/stats',
    'GET /api/v1/admin/users/{id}/activity',
    'GET /api/v1/users/me/stats',
    // Part 2, Search.
    'GET /api/v1/search/messages',
    // Part 2: attachments.
    'POST /api/v1/attachments',
    'GET /api/v1/attachments/{id}',
    'GET /api/v1/attachments/{id}/thumbnail'
  ].sort(), 'exactly the routes of the contract')

  const secured = ops.filter(o => o.path.startsWith('/api/v1/') && !o.path.startsWith('/api/v1/users/register') && !o.path.startsWith('/api/v1/users/login'))
  for (const { method, path, op } of secured) {
    t.same(op.security, [{ bearerAuth: [] }], `${method} ${path} requires a bearer token`)
    t.ok(op.responses?.['401'] !== undefined, `${method} ${path} documents 401`)
  }
})

t.test('query parameters with a default are optional to clients', async t => {
  for (const path of ['/api/v1/users', '/api/v1/rooms', '/api/v1/rooms/{id}/messages']) {
    const params = (doc.paths[path]?.get as { parameters?: Array<{ name: string, in: string, required?: boolean }> }).parameters ?? []
    for (const name of ['limit', 'offset']) {
      const param = params.find(p => p.in === 'query' && p.name === name)
      t.ok(param !== undefined, `${path} documents ${name}`)
      t.not(param?.required, true, `${path} ${name} is optional`)
    }
  }
})

t.test('GET /metrics is documented as Prometheus text behind the metrics token', async t => {
  const op = doc.paths['/metrics']?.get as (Operation & { responses: Record<string, { content?: Record<string, unknown> }> }) | undefined
  t.equal(op?.operationId, 'getMetrics')
  t.same(op?.tags, ['operations'])
  t.ok(op?.responses['200']?.content?.['text/plain'] !== undefined, 'a text/plain success')
  t.same(op?.security, [{ metricsToken: [] }], 'the metrics token, not a user\'s JWT')
  t.match(doc.components?.securitySchemes?.metricsToken, { type: 'http', scheme: 'bearer' }, 'metricsToken security scheme')
})
