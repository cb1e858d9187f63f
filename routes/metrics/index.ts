import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { unauthorized } from '../../src/errors.js'
import { errors } from '../../src/schemas/common.js'

export interface MetricsRouteOptions {
  /** METRICS_TOKEN: when set, a scrape must send `Authorization: Bearer <token>`; unset (development only), the route is open. */
  token: string | undefined
}

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest()

/**
 * Whether the header is `Bearer <token>` (`expected` is the token's digest). Both sides are
 * hashed, so the comparison takes the same time whatever the length or content of a guess.
 */
export function bearerMatches (header: string | undefined, expected: Buffer): boolean {
  const given = /^Bearer\s+(\S+)$/i.exec(header ?? '')?.[1]
  return given !== undefined && timingSafeEqual(digest(given), expected)
}

/**
 * `GET /metrics`: Prometheus's text format. Registered only when metrics are on (production needs
 * METRICS_TOKEN; without it the path is a plain 404). Not rate limited, like the health checks: a
 * scraper behind a shared address must never get a 429 gap, and with a token of at least 16
 * characters there is nothing to gain by guessing fast. Exempt from load shedding, too
 * (plugins/pressure.ts): an overload is when the metrics matter most.
 */
const metrics: FastifyPluginAsyncTypebox<MetricsRouteOptions> = async function (app, opts) {
  const { registry } = app.metrics
  if (registry === undefined) throw new Error('GET /metrics is registered only when metrics are on (plugins/metrics.ts)')
  const expected = opts.token === undefined ? undefined : digest(opts.token)
  app.get('', {
    config: { rateLimit: false },
    onRequest: async request => {
      if (expected !== undefined && !bearerMatches(request.headers.authorization, expected)) {
        throw unauthorized('GET /metrics needs Authorization: Bearer <METRICS_TOKEN>', 'METRICS_TOKEN_REQUIRED')
      }
    },
    schema: {
      operationId: 'getMetrics',
      tags: ['operations'],
      summary: 'Prometheus metrics of this instance (text exposition format)',
      description: 'Process and event-loop metrics, `http_request_duration_seconds{method,route,status_code}`, ' +
        '`chat_websocket_connections`, `chat_messages_sent_total`, `chat_fanout_latency_seconds` and the PostgreSQL pool ' +
        '(`chat_db_pool_*`, not on the embedded engine), for this instance only. Needs `Authorization: Bearer <METRICS_TOKEN>` ' +
        'when METRICS_TOKEN is set; open in development without it; absent (404) in production without it. Not rate limited.',
      security: [{ metricsToken: [] }],
      response: {
        200: {
          description: 'The metrics, in Prometheus text format 0.0.4',
          content: { 'text/plain': { schema: Type.String({ maxLength: 10_000_000, description: 'Prometheus text exposition format' }) } }
        },
        ...errors(401, 500)
      }
    }
  }, async (_request, reply) => {
    const text = await registry.metrics()
    return await reply.type(registry.contentType).send(text)
  })
}

export default metrics
