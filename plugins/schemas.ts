import fp from 'fastify-plugin'
import { sharedSchemas } from '../src/schemas/index.js'

/**
 * The named schemas (User, Room, Message, Error, ...), added once: routes reference them with
 * `Type.Ref`, and the OpenAPI document lists them as `components/schemas`. Registered before any
 * route, whether or not the documentation is served.
 */
export default fp(async function schemasPlugin (app) {
  for (const schema of sharedSchemas) app.addSchema(schema)
}, { name: 'schemas' })
