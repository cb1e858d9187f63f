import { type TSchema, Type } from '@sinclair/typebox'
import { stringify } from 'yaml'
import { sharedSchemas } from '../schemas/index.js'
import { clientPayloads, serverPayloads, WsQuery } from '../schemas/realtime.js'

/**
 * The AsyncAPI 3 document of the WebSocket at `GET /ws`, as YAML, generated from the TypeBox
 * registries that validate the frames (`clientPayloads`, `serverPayloads`): a frame type added
 * there appears here with its schema, and test/asyncapi.test.ts fails until asyncapi.yaml is
 * regenerated (`npm run openapi` or `npm run asyncapi`).
 *
 * Operations are described from the server's side, as AsyncAPI 3 asks ("the application"):
 * frames the server sends are `send` operations, frames clients send are `receive` operations.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
type JsonObject = { [key: string]: Json }

/** The channel's key, and where its messages live. */
const CHANNEL = 'ws'
/** Component names must match this (AsyncAPI 3, Components Object). */
const COMPONENT_NAME = /^[a-zA-Z0-9.\-_]+$/
/** Keywords whose values are data, not schemas: never rewritten. */
const DATA_KEYWORDS = new Set(['const', 'default', 'enum', 'examples', 'example'])

/** A TypeBox schema as plain JSON (its symbol-keyed metadata, such as `[Kind]`, drops out). */
function plain (schema: TSchema): JsonObject {
  return JSON.parse(JSON.stringify(schema)) as JsonObject
}

function isObject (value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Turns TypeBox schemas into AsyncAPI (JSON Schema draft-07) schemas with named components:
 * every schema with an `$id` becomes `#/components/schemas/<$id>`, and a `Type.Ref(X)`
 * (`{"$ref": "X"}`) becomes a reference to it. `$id`s are dropped from the output, since a
 * nested `$id` would change the base against which the document's `#/...` references resolve.
 */
class SchemaNamer {
  /** Every schema known by `$id`: the REST components, the frame payloads, and any `$id` found inside them. */
  private readonly known = new Map<string, JsonObject>()
  readonly components: Record<string, JsonObject> = {}

  constructor (schemas: TSchema[]) {
    for (const schema of schemas) this.collect(plain(schema))
  }

  private collect (node: Json): void {
    if (Array.isArray(node)) {
      for (const item of node) this.collect(item)
      return
    }
    if (!isObject(node)) return
    const id = node.$id
    if (typeof id === 'string') {
      const seen = this.known.get(id)
      if (seen !== undefined && JSON.stringify(seen) !== JSON.stringify(node)) throw new Error(`two different schemas have the $id "${id}"`)
      this.known.set(id, node)
    }
    for (const [key, value] of Object.entries(node)) if (!DATA_KEYWORDS.has(key)) this.collect(value)
  }

  /** A reference to the named component `id`, converting it on first use. */
  ref (id: string): JsonObject {
    if (!COMPONENT_NAME.test(id)) throw new Error(`schema $id "${id}" is not a valid AsyncAPI component name`)
    if (this.components[id] === undefined) {
      const schema = this.known.get(id)
      if (schema === undefined) throw new Error(`Type.Ref("${id}"): no schema with that $id is known to the AsyncAPI generator`)
      this.components[id] = {} // a placeholder, so a recursive reference ends here
      this.components[id] = this.convert(schema, true)
    }
    return { $ref: `#/components/schemas/${id}` }
  }

  /** A schema to put in the document: a reference when it is a named one. */
  use (schema: TSchema): JsonObject {
    return this.convert(plain(schema), false)
  }

  private convert (node: JsonObject, root: boolean): JsonObject {
    if (!root && typeof node.$id === 'string') return this.ref(node.$id)
    const out: JsonObject = {}
    for (const [key, value] of Object.entries(node)) {
      if (key === '$id') continue
      if (key === '$ref' && typeof value === 'string' && !value.startsWith('#')) {
        out.$ref = this.ref(value).$ref!
        continue
      }
      out[key] = DATA_KEYWORDS.has(key) ? value : this.convertAny(value)
    }
    return out
  }

  private convertAny (value: Json): Json {
    if (Array.isArray(value)) return value.map(item => this.convertAny(item))
    return isObject(value) ? this.convert(value, false) : value
  }

  sortedComponents (): Record<string, JsonObject> {
    return Object.fromEntries(Object.keys(this.components).sort().map(name => [name, this.components[name]!]))
  }
}

type Direction = 'client' | 'server'

/** `message:new` -> `messageNew`, `presence:list` -> `presenceList`. */
function camel (type: string): string {
  const words = type.split(/[^A-Za-z0-9]+/).filter(word => word !== '')
  return words.map((word, i) => i === 0 ? word : word[0]!.toUpperCase() + word.slice(1)).join('')
}

const pascal = (name: string): string => name[0]!.toUpperCase() + name.slice(1)

/** The headers a client may authenticate the upgrade with (the token may come from the query instead). */
const WsHeaders = Type.Object({
  Authorization: Type.Optional(Type.String({ pattern: '^Bearer .+$', description: 'Bearer <jwt>: the token from POST /api/v1/users/login' })),
  'Sec-WebSocket-Protocol': Type.Optional(Type.String({ description: 'From a browser, which cannot set headers: the subprotocols `bearer, <jwt>`', examples: ['bearer, eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...'] }))
})

export function asyncApiDocument (): JsonObject {
  const frames: Array<{ direction: Direction, type: string, schema: TSchema }> = [
    ...Object.entries(clientPayloads as Record<string, TSchema>).map(([type, schema]) => ({ direction: 'client' as const, type, schema })),
    ...Object.entries(serverPayloads as Record<string, TSchema>).map(([type, schema]) => ({ direction: 'server' as const, type, schema }))
  ]
  const namer = new SchemaNamer([...sharedSchemas, ...frames.map(f => f.schema)])

  const bothWays = new Set(Object.keys(clientPayloads).filter(type => Object.hasOwn(serverPayloads, type)))
  const messages: Record<string, JsonObject> = {}
  const channelMessages: Record<string, JsonObject> = {}
  const operations: Record<string, JsonObject> = {}
  for (const { direction, type, schema } of frames) {
    // A type both sides send (its two payloads may differ) gets one message per direction.
    const key = bothWays.has(type) ? `${camel(type)}From${pascal(direction)}` : camel(type)
    const operation = `${direction === 'server' ? 'send' : 'receive'}${pascal(key)}`
    for (const name of [key, operation]) {
      if (!COMPONENT_NAME.test(name)) throw new Error(`frame type "${type}" gives the invalid AsyncAPI name "${name}"`)
    }
    if (messages[key] !== undefined || operations[operation] !== undefined) throw new Error(`frame type "${type}" collides with another on "${key}"`)
    const description = (schema as { description?: unknown }).description
    messages[key] = {
      name: type,
      title: type,
      ...(typeof description === 'string' ? { summary: description } : {}),
      contentType: 'application/json',
      payload: {
        type: 'object',
        description: `The \`${type}\` frame`,
        required: ['type', 'payload'],
        properties: {
          type: { type: 'string', const: type },
          payload: namer.use(schema)
        },
        // The server's frames are exactly {type, payload}; a client's may carry more, which the server ignores.
        ...(direction === 'server' ? { additionalProperties: false } : {})
      }
    }
    channelMessages[key] = { $ref: `#/components/messages/${key}` }
    operations[operation] = {
      action: direction === 'server' ? 'send' : 'receive',
      channel: { $ref: `#/channels/${CHANNEL}` },
      summary: direction === 'server' ? `The server sends \`${type}\`` : `Clients send \`${type}\``,
      messages: [{ $ref: `#/channels/${CHANNEL}/messages/${key}` }]
    }
  }

  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Chat App realtime API',
      version: '1.0.0',
      description: 'The WebSocket at `GET /ws`. Every frame, both ways, is a JSON text `{"type": "<event>", "payload": {...}}`. ' +
        'Operations are the server\'s: `send` frames go from the server to clients, `receive` frames from clients to the server. ' +
        'A refused client frame (not JSON, unknown type, invalid payload, not a member, rate limited) is answered with `error` and the socket stays open. ' +
        'Generated from the TypeBox schemas in src/schemas/realtime.ts; the REST API is in openapi.yaml.',
      license: { name: 'MIT', url: 'https://opensource.org/licenses/MIT' }
    },
    defaultContentType: 'application/json',
    servers: {
      localhost: {
        host: 'localhost:8080',
        protocol: 'ws',
        description: '`npm start`. Without a valid token the upgrade is refused with HTTP 401 before any socket opens.',
        security: [
          { $ref: '#/components/securitySchemes/queryToken' },
          { $ref: '#/components/securitySchemes/bearerAuth' },
          { $ref: '#/components/securitySchemes/subprotocolToken' }
        ]
      }
    },
    channels: {
      [CHANNEL]: {
        address: '/ws',
        title: 'The realtime socket',
        description: 'On connect the socket is subscribed to every room its user belongs to; `room:join` adds one.',
        servers: [{ $ref: '#/servers/localhost' }],
        messages: channelMessages,
        bindings: {
          ws: {
            method: 'GET',
            query: namer.use(WsQuery),
            headers: namer.use(WsHeaders),
            bindingVersion: '0.1.0'
          }
        }
      }
    },
    operations,
    components: {
      schemas: namer.sortedComponents(),
      messages,
      securitySchemes: {
        queryToken: { type: 'httpApiKey', name: 'token', in: 'query', description: 'The JWT from POST /api/v1/users/login in `?token=`' },
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The JWT from POST /api/v1/users/login in `Authorization: Bearer` on the upgrade request' },
        subprotocolToken: { type: 'httpApiKey', name: 'Sec-WebSocket-Protocol', in: 'header', description: 'From a browser: the subprotocols `bearer, <jwt>` (`new WebSocket(url, [\'bearer\', token])`)' }
      }
    }
  }
}

/** The document as YAML, the form asyncapi.yaml is committed in. */
export function generateAsyncApi (): string {
  return stringify(asyncApiDocument(), { aliasDuplicateObjects: false, lineWidth: 0 })
}
