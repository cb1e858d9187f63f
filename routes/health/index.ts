import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { Health, Liveness } from '../../src/schemas/health.js'

/** How long one database check answers every GET /health: a flood of probes asks the database at most once a second. */
const CHECK_REUSE_MS = 1000

const health: FastifyPluginAsyncTypebox = async function (app) {
  // The latest check, shared by every call made within CHECK_REUSE_MS of its start (including while it runs).
  let latest: { startedAt: number, up: Promise<boolean> } | undefined
  const databaseUp = async (): Promise<boolean> => {
    const now = Date.now()
    if (latest === undefined || now - latest.startedAt >= CHECK_REUSE_MS) latest = { startedAt: now, up: app.dbReachable() }
    return await latest.up
  }

  app.get('', {
    config: { rateLimit: false },
    schema: {
      operationId: 'getHealth',
      tags: ['health'],
      security: [],
      summary: 'Readiness: is the database reachable?',
      description: 'One database check answers every call made within a second of it, so probes cost the database at most one query a second.',
      response: {
        200: Type.Ref(Health, { description: 'Ready' }),
        503: Type.Ref(Health, { description: 'The database is unreachable, or the server is overloaded (shedding load)' })
      }
    }
  }, async (_request, reply) => {
    const up = await databaseUp()
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
