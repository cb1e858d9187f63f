import { readFileSync } from 'node:fs'
import { DiagnosticSeverity, Parser } from '@asyncapi/parser'
import t from 'tap'
import { parse } from 'yaml'
import { generateFrameTypes, SDK_FRAMES_FILE } from '../../scripts/sdk-frames.js'
import { generateAsyncApi } from '../../src/docs/asyncapi.js'
import { clientPayloads, serverPayloads } from '../../src/schemas/realtime.js'
import { checkServerFrame, serverFrameTypes } from '../asyncapi-validator.js'
import { firstDifference } from '../helper.js'

type Ref = { $ref: string }
type Message = { name: string, payload: { properties: { type: { const: string }, payload: unknown }, required: string[] } }
type Doc = {
  asyncapi: string
  servers: Record<string, { host: string, protocol: string, security: Ref[] }>
  channels: Record<string, { address: string, messages: Record<string, Ref>, bindings: { ws: { method: string, query: { properties: Record<string, unknown> } } } }>
  operations: Record<string, { action: string, channel: Ref, messages: Ref[] }>
  components: { schemas: Record<string, unknown>, messages: Record<string, Message>, securitySchemes: Record<string, Record<string, string>> }
}

const committed = readFileSync(new URL('../../asyncapi.yaml', import.meta.url), 'utf8')
const doc = parse(committed) as Doc

/** Follows local references (`#/a/b`) to what they name. */
function resolve (ref: string): any {
  let value: any = doc
  for (const part of ref.replace(/^#\//, '').split('/')) value = value?.[part]
  return typeof value?.$ref === 'string' ? resolve(value.$ref) : value
}

t.test('asyncapi.yaml is what the code generates', async t => {
  const generated = generateAsyncApi()
  t.ok(generated === committed, generated === committed
    ? 'asyncapi.yaml is up to date'
    : `asyncapi.yaml differs from the frame schemas (${firstDifference(committed, generated)}): run \`npm run openapi\` and commit the result`)
})

t.test('sdk/src/frames.d.ts is what openapi-typescript generates from asyncapi.yaml', async t => {
  const generated = await generateFrameTypes(committed)
  const types = readFileSync(SDK_FRAMES_FILE, 'utf8')
  t.ok(generated === types, generated === types
    ? 'the SDK frame types are up to date'
    : `sdk/src/frames.d.ts differs from asyncapi.yaml (${firstDifference(types, generated)}): run \`npm run asyncapi\` and commit the result`)
})

t.test('@asyncapi/parser finds no error in asyncapi.yaml', async t => {
  const { document, diagnostics } = await new Parser().parse(committed)
  const errors = diagnostics.filter(d => d.severity === DiagnosticSeverity.Error)
  const describe = (d: typeof diagnostics[number]): string => `${d.code}: ${d.message} at /${d.path.join('/')}`
  t.same(errors.map(describe), [], 'no diagnostic of severity error')
  t.ok(document !== undefined, 'the parser returns a document')
  t.equal(document?.version(), '3.0.0', 'AsyncAPI 3.0.0')
  const others = diagnostics.filter(d => d.severity !== DiagnosticSeverity.Error)
  t.comment(others.length === 0
    ? 'no parser warnings'
    : `parser ${others.map(d => `${(DiagnosticSeverity[d.severity] ?? String(d.severity)).toLowerCase()}: ${describe(d)}`).join('; ')}`)

  // The parsed model agrees with the registries: the server sends what it sends, receives what clients send.
  const sent = document?.operations().filterBySend().flatMap(op => op.messages().all().map(m => m.name())) ?? []
  const received = document?.operations().filterByReceive().flatMap(op => op.messages().all().map(m => m.name())) ?? []
  t.same(sent.sort(), Object.keys(serverPayloads).sort(), 'send operations: exactly the server -> client frames')
  t.same(received.sort(), Object.keys(clientPayloads).sort(), 'receive operations: exactly the client -> server frames')
})

t.test('every frame type has a message and an operation from the server\'s point of view', async t => {
  const channel = doc.channels.ws
  t.equal(channel?.address, '/ws', 'the channel is /ws')
  t.match(channel?.bindings.ws, { method: 'GET', query: { properties: { token: { type: 'string' } } } }, 'the ws binding documents ?token=')
  t.match(doc.servers.localhost, { host: 'localhost:8080', protocol: 'ws' }, 'the server is ws://localhost:8080')

  const schemes = doc.servers.localhost?.security.map(ref => resolve(ref.$ref)) ?? []
  t.ok(schemes.some(s => s.type === 'httpApiKey' && s.in === 'query' && s.name === 'token'), 'a token in the query string is accepted')
  t.ok(schemes.some(s => s.type === 'http' && s.scheme === 'bearer'), 'a bearer token is accepted')

  for (const [direction, registry, action] of [['client', clientPayloads, 'receive'], ['server', serverPayloads, 'send']] as const) {
    for (const [type, schema] of Object.entries(registry)) {
      const operations = Object.entries(doc.operations).filter(([, op]) => op.messages.some(ref => resolve(ref.$ref)?.name === type) && op.action === action)
      t.equal(operations.length, 1, `${direction} frame ${type}: one \`${action}\` operation (${operations.map(([name]) => name).join(', ')})`)
      const [, operation] = operations[0] ?? []
      t.equal(operation?.channel.$ref, '#/channels/ws', `${type} is on /ws`)
      const message = resolve(operation?.messages.find(ref => resolve(ref.$ref)?.name === type)?.$ref ?? '#/none') as Message | undefined
      t.equal(message?.payload.properties.type.const, type, `${type}: the frame's type is the constant "${type}"`)
      t.same(message?.payload.required, ['type', 'payload'], `${type}: type and payload are required`)
      const payload = message?.payload.properties.payload as Partial<Ref> | undefined
      if (schema.$id !== undefined) {
        t.equal(payload?.$ref, `#/components/schemas/${schema.$id}`, `${type}: the payload is the named schema ${schema.$id}`)
        t.ok(doc.components.schemas[schema.$id] !== undefined, `components/schemas/${schema.$id} exists`)
      }
    }
  }

  // Every reference resolves, none is a bare TypeBox `$ref: "X"`, and no `$id` survives to shift the base URI.
  const refs = [...committed.matchAll(/\$ref: "?([^"\n]+)"?/g)].map(m => m[1]!)
  t.ok(refs.length > 0, `${refs.length} references`)
  for (const ref of new Set(refs)) {
    t.ok(ref.startsWith('#/') && resolve(ref) !== undefined, `${ref} resolves`)
  }
  t.notMatch(committed, /\$id:/, 'no $id in the document')
})

t.test('server frames are checked against asyncapi.yaml', async t => {
  t.same([...serverFrameTypes].sort(), Object.keys(serverPayloads).sort(), 'the validator knows exactly the server\'s frame types')

  const stored = { id: 1, room_id: 2, user_id: 3, username: 'ann', content: 'hi', created_at: '2026-01-28T10:30:00.000Z', seq: 1, client_msg_id: null }
  const changes = { edited_at: null, deleted_at: null, reply_to: null, reply_count: 0 }
  const message = { ...stored, ...changes, reactions: [{ emoji: '👍', count: 2, me: true }], attachments: [] }
  t.equal(checkServerFrame(JSON.stringify({ type: 'message:new', payload: message })), undefined, 'a valid message:new passes')
  t.equal(checkServerFrame(JSON.stringify({ type: 'message:new', payload: { ...message, user_id: null, username: null } })), undefined, 'a message:new from a deleted user passes')
  t.equal(checkServerFrame(JSON.stringify({ type: 'room:joined', payload: { room_id: 7 } })), undefined, 'a valid room:joined passes')
  t.equal(checkServerFrame(JSON.stringify({ type: 'error', payload: { error: 'slow down', code: 'RATE_LIMITED', retry_after: 3 } })), undefined, 'a valid error passes')
  t.equal(checkServerFrame(JSON.stringify({ type: 'sync:done', payload: { rooms: { 1: 41, 7: 0 } } })), undefined, 'a valid sync:done passes')

  t.match(checkServerFrame(JSON.stringify({ type: 'message:new', payload: { ...message, seq: 0 } })), /message:new frame that does not match.*seq/, 'seq 0 is refused')
  t.match(checkServerFrame(JSON.stringify({ type: 'message:new', payload: { ...message, created_at: 'yesterday' } })), /created_at/, 'a created_at that is not a date-time is refused')
  const { content: _content, ...withoutContent } = message
  t.match(checkServerFrame(JSON.stringify({ type: 'message:new', payload: withoutContent })), /content/, 'a message without content is refused')
  t.match(checkServerFrame(JSON.stringify({ type: 'room:joined', payload: { room_id: '7' } })), /room_id/, 'a string room_id is refused')
  t.match(checkServerFrame(JSON.stringify({ type: 'error', payload: { code: 'X' } })), /error/, 'an error without its sentence is refused')
  t.match(checkServerFrame(JSON.stringify({ type: 'room:joined', payload: { room_id: 7 }, extra: true })), /additional/, 'a field beside type and payload is refused')
  t.match(checkServerFrame(JSON.stringify({ type: 'room:joined' })), /payload/, 'a frame without payload is refused')
  t.match(checkServerFrame(JSON.stringify({ type: 'message:nope', payload: {} })), /does not list/, 'an unknown type is refused')
  t.match(checkServerFrame(JSON.stringify({ type: 'message:send', payload: { room_id: 1, content: 'hi' } })), /does not list/, 'a client-only type is refused from the server')
  t.match(checkServerFrame('not json'), /not JSON/, 'a frame that is not JSON is refused')
})
