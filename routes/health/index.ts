import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { Health, Liveness } from '../../src/schemas/health.js'

const health: FastifyPluginAsyncTypebox = async function (app) {
  app.get('', {
    config: { rateLimit: false },
    schema: {
      operationId: 'getHealth',
      tags: ['health'],
      security: [],
      summary: 'Readiness: is the database reachable?',
      response: {
        200: Type.Ref(Health, { description: 'Ready' }),
        503: Type.Ref(Health, { description: 'The database is unreachable, or the server is overloaded (shedding load)' })
      }
    }
  }, async (_request, reply) => {
    const up = await app.dbReachable()
    return await reply.code(up ? 200 : 503).send({ status: up ? 'OK' : 'unavailable', timestamp: new Date(), database: up ? 'up' : 'down' })
  })

  app.get('/live', {
    config: { rateLimit: false },
    schema: {
      operationId: 'getLiveness',
      tags: ['health'],
      security: [],
      summary: 'Liveness: the process is running (does not touch the database)',
      response: { 200: Type.Ref(Liveness, { description: 'Alive' }) }
    }
  }, async () => ({ status: 'OK' as const, uptime: process.uptime() }))
}

export default health
