import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'
import { sharedSchemas } from '../src/schemas/index.js'

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

/** The OpenAPI document, generated from the same schemas that validate the routes. */
export default fp(async function swaggerPlugin (app) {
  for (const schema of sharedSchemas) app.addSchema(schema)

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Chat App API',
        version: '1.0.0',
        description: 'Users, rooms and messages over REST, with live delivery over WebSocket at `GET /ws` ' +
          '(see README.md). Every error is `{"error": "<sentence>", "code": "<WORD>"}`.',
        license: { name: 'MIT', identifier: 'MIT' }
      },
      servers: [{ url: 'http://localhost:8080', description: 'npm start' }],
      tags: [
        { name: 'health', description: 'Liveness and readiness' },
        { name: 'users', description: 'Registration, login, user directory' },
        { name: 'rooms', description: 'Chat rooms and membership' },
        { name: 'messages', description: 'Sending and reading messages' }
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The token from POST /api/v1/users/login' }
        }
      }
    },
    // Shared schemas keep their $id as their component name (User, Room, Message, Error, ...).
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}` },
    transform: ({ schema, url }) => ({ schema: withOptionalDefaults(schema), url })
  })

  await app.register(fastifySwaggerUi, { routePrefix: '/docs', staticCSP: true })
}, { name: 'swagger' })
