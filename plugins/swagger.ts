import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'
import { INT32_MAX } from '../src/limits.js'

type QuerySchema = { properties?: Record<string, { default?: unknown }>, required?: string[] }

/**
 * A query parameter with a default (`limit`, `offset`) is optional to a client: the validator
 * fills it in. TypeBox lists it as required (so handlers see a number); the document must not,
 * or generated SDKs would demand it. Copies, never mutates, the schema that validates.
 */
function withOptionalDefaults<S extends { querystring?: unknown }> (schema: S): S {
  const query = schema?.querystring as QuerySchema | undefined
  if (query?.required === undefined || query.properties === undefined) return schema
  const properties = query.properties
  const required = query.required.filter(name => properties[name]?.default === undefined)
  if (required.length === query.required.length) return schema
  const { required: _dropped, ...rest } = query
  return { ...schema, querystring: required.length > 0 ? { ...rest, required } : rest }
}

const counter = (description: string) =>
  ({ description, schema: { type: 'integer' as const, format: 'int32', minimum: 0, maximum: INT32_MAX } })

/** The headers @fastify/rate-limit sets (none when RATE_LIMIT_ENABLED=false), and CORS's, as reusable components. */
const responseHeaders = {
  'Access-Control-Allow-Origin': {
    description: 'The request\'s Origin when CORS_ORIGINS allows it (any in development); absent otherwise',
    schema: { type: 'string' as const, maxLength: 2048 }
  },
  'X-RateLimit-Limit': counter('Requests allowed in the current window (when rate limiting is enabled)'),
  'X-RateLimit-Remaining': counter('Requests left in the current window'),
  'X-RateLimit-Reset': counter('Seconds until the current window resets'),
  'Retry-After': counter('Seconds to wait before retrying')
}
const headerRef = (name: keyof typeof responseHeaders): { $ref: string } => ({ $ref: `#/components/headers/${name}` })

type Operation = { responses?: Record<string, { headers?: Record<string, unknown> }> }

/**
 * Describes the rate-limit headers on every answer of every rate-limited operation (all but those
 * with `config.rateLimit: false`, the health checks), Retry-After on 429 and 503, and CORS's
 * Access-Control-Allow-Origin wherever headers are described.
 */
function describeRateLimits (paths: Record<string, Record<string, Operation>>, unlimited: Set<string>): void {
  for (const [path, operations] of Object.entries(paths)) {
    for (const operation of Object.values(operations)) {
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        const headers: Record<string, unknown> = {}
        if (!unlimited.has(path) && /^[24]/.test(status)) {
          headers['X-RateLimit-Limit'] = headerRef('X-RateLimit-Limit')
          headers['X-RateLimit-Remaining'] = headerRef('X-RateLimit-Remaining')
          headers['X-RateLimit-Reset'] = headerRef('X-RateLimit-Reset')
        }
        if (status === '429' || status === '503') headers['Retry-After'] = headerRef('Retry-After')
        if (Object.keys(headers).length === 0) continue
        headers['Access-Control-Allow-Origin'] = headerRef('Access-Control-Allow-Origin')
        response.headers = { ...response.headers, ...headers }
      }
    }
  }
}

/** `x-internal: false`: the API is meant for outside clients (OWASP API9, inventory). */
const servers = [{ url: 'http://localhost:8080', description: 'local development (npm start)', 'x-internal': false }]

/** The OpenAPI document, generated from the same schemas that validate the routes. */
export default fp(async function swaggerPlugin (app) {
  /** Document paths of the routes that are not rate limited, collected as the document is built. */
  const unlimited = new Set<string>()

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Chat App API',
        version: '1.0.0',
        description: 'Users, rooms and messages over REST, with live delivery over WebSocket at `GET /ws` ' +
          '(see README.md). Every error is `{"error": "<sentence>", "code": "<WORD>"}`.',
        license: { name: 'MIT', identifier: 'MIT' },
        contact: { name: 'The maintainers; security reports as SECURITY.md describes' }
      },
      servers,
      tags: [
        { name: 'health', description: 'Liveness and readiness' },
        { name: 'users', description: 'Registration, login, user directory' },
        { name: 'rooms', description: 'Chat rooms and membership' },
        { name: 'messages', description: 'Sending and reading messages' },
        { name: 'admin', description: 'Site admins: analytics' },
        { name: 'attachments', description: 'Files: upload, then attach to a message you send' },
        { name: 'operations', description: 'Monitoring: Prometheus metrics' }
      ],
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            description: 'The token from POST /api/v1/users/login: a JWT following RFC8725 (JWT Best Current Practices): ' +
              'HS256 only, `iss`, `aud`, `sub` and `exp` required and checked.'
          },
          metricsToken: {
            type: 'http',
            scheme: 'bearer',
            description: 'The METRICS_TOKEN the server was started with (GET /metrics only; not a user\'s JWT).'
          }
        },
        headers: responseHeaders
      }
    },
    // Shared schemas keep their $id as their component name (User, Room, Message, Error, ...).
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}` },
    transform: ({ schema, url, route }) => {
      if (route.config?.rateLimit === false) unlimited.add(url.replace(/:(\w+)/g, '{$1}'))
      return { schema: withOptionalDefaults(schema), url }
    },
    transformObject: document => {
      if (!('openapiObject' in document)) return document.swaggerObject
      describeRateLimits((document.openapiObject.paths ?? {}) as Record<string, Record<string, Operation>>, unlimited)
      return document.openapiObject
    }
  })

  await app.register(fastifySwaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
    // Served with a relative server (`/`): Swagger UI's "Try it out" (and any client reading the
    // served document) resolves it against the URL the document was fetched from, so it calls
    // this server on whatever host, port and scheme it is reached by, also behind a TLS proxy,
    // without echoing the request's Host header into the document. openapi.yaml keeps the local default.
    transformSpecification: document => ({
      ...document,
      servers: [{ url: '/', description: 'this server (relative: the origin this document was fetched from)', 'x-internal': false }]
    })
  })
}, { name: 'swagger', dependencies: ['schemas'] })
