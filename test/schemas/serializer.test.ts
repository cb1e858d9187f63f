import { Type } from '@sinclair/typebox'
import fastJsonStringify from 'fast-json-stringify'
import t from 'tap'
import { sharedSchemas } from '../../src/schemas/index.js'
import { Message } from '../../src/schemas/messages.js'
import { SearchResults } from '../../src/schemas/search.js'
import { buildSerializer, forSerializer } from '../../src/schemas/serializer.js'

const external = Object.fromEntries(sharedSchemas.map(schema => [(schema as { $id: string }).$id, schema]))

/** fast-json-stringify's generated source for `schema` (its debug mode). */
function source (schema: unknown, schemas: Record<string, unknown>): string {
  const built = fastJsonStringify(schema as never, { schema: schemas as never, mode: 'debug' }) as unknown
  return typeof built === 'string' ? built : String((built as { code: string }).code)
}

t.test('forSerializer: a nullable scalar becomes a type list; references, objects and other unions stay as written', async t => {
  const schema = Type.Object({
    at: Type.Union([Type.String({ format: 'date-time', maxLength: 32 }), Type.Null()], { description: 'when' }),
    id: Type.Union([Type.Null(), Type.Integer({ minimum: 1 })]),
    ref: Type.Union([Type.Ref(Message), Type.Null()]),
    object: Type.Union([Type.Object({ a: Type.String() }), Type.Null()]),
    either: Type.Union([Type.String(), Type.Integer()]),
    literal: Type.Union([Type.Literal('left'), Type.Null()])
  })
  const before = JSON.stringify(schema)
  const out = forSerializer(schema) as unknown as { properties: Record<string, Record<string, unknown>> }
  t.same(out.properties.at, { description: 'when', type: ['string', 'null'], format: 'date-time', maxLength: 32 })
  t.same(out.properties.id, { type: ['integer', 'null'], minimum: 1 })
  t.ok(Array.isArray(out.properties.ref!.anyOf), 'a nullable reference keeps its anyOf')
  t.ok(Array.isArray(out.properties.object!.anyOf), 'a nullable object keeps its anyOf')
  t.ok(Array.isArray(out.properties.either!.anyOf), 'a union without null keeps its anyOf')
  t.ok(Array.isArray(out.properties.literal!.anyOf), 'a nullable literal keeps its anyOf')
  const literal = fastJsonStringify(forSerializer(Type.Object({ reason: Type.Union([Type.Literal('left'), Type.Null()]) })) as never)
  t.equal(literal({ reason: null }), '{"reason":null}')
  t.throws(() => literal({ reason: 'kicked' }), 'a value the literal is not is still refused (as a type list, the const would be written instead)')
  t.equal(JSON.stringify(schema), before, 'the schema itself is left as written (the OpenAPI document is built from it)')
})

t.test('a Message is serialized without Ajv once read through forSerializer (it ran once per nullable field before)', async t => {
  t.match(source(Message, external), /getSchemaValidator/, 'as written: anyOf alternatives are checked with Ajv')
  t.notMatch(source(forSerializer(Message), forSerializer(external)), /getSchemaValidator/)
})

t.test('the JSON is the same as fast-json-stringify makes from the schemas as written', async t => {
  const plain = fastJsonStringify(SearchResults as never, { schema: external as never })
  const ours = buildSerializer(external as never, {})({ schema: SearchResults, method: 'GET', url: '/', httpStatus: '200' } as never)
  const message = (nulls: boolean): Record<string, unknown> => ({
    id: 7,
    room_id: 2,
    user_id: nulls ? null : 3,
    username: nulls ? null : 'ann',
    content: 'a "quoted" <b>line</b>\n',
    created_at: new Date('2026-01-28T10:30:00.123Z'),
    seq: 9,
    client_msg_id: nulls ? null : 'c-1',
    edited_at: nulls ? null : new Date('2026-01-28T10:31:00.000Z'),
    deleted_at: nulls ? null : '2026-01-28T10:32:00.000Z',
    reply_to: nulls ? null : 5,
    reply_count: 0,
    reactions: nulls ? [] : [{ emoji: '👍', count: 2, me: true }],
    attachments: [],
    rank: 0.5
  })
  for (const nulls of [true, false]) {
    const page = { results: [{ message: message(nulls), highlight: '<mark>a</mark>' }], next_cursor: nulls ? null : 'abc' }
    const json = ours(page)
    t.equal(json, plain(page), nulls ? 'every nullable field null' : 'every nullable field set')
    t.same(JSON.parse(json).results[0].message.user_id, nulls ? null : 3)
    t.notOk('rank' in JSON.parse(json).results[0].message, 'a property the schema does not name is left out')
  }
})
