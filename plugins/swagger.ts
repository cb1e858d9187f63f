import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'
import { sharedSchemas } from '../src/schemas/index.js'

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
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}` }
  })

  await app.register(fastifySwaggerUi, { routePrefix: '/docs', staticCSP: true })
}, { name: 'swagger' })
