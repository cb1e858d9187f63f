import underPressure from '@fastify/under-pressure'
import fp from 'fastify-plugin'
import type { Config } from '../src/config.js'
import { serviceUnavailable } from '../src/errors.js'

export type PressureOptions = Config['overload']

/** Seconds a shed client is asked to wait (Retry-After). */
export const OVERLOAD_RETRY_AFTER_S = 5

/**
 * Liveness answers even when the process sheds load: a busy process is alive, not dead. So do the
 * metrics: an overload is when a scraper needs them.
 */
const EXEMPT = new Set(['/health/live', '/metrics'])
/** Readiness reports the overload in its own shape, so a load balancer stops sending traffic. */
const READINESS = '/health'

/**
 * Load shedding: while the event loop lags or memory passes the configured limits, every request
 * (WebSocket upgrades included) is answered 503 with Retry-After at once, before any work is done,
 * instead of queueing up and timing out. A limit of 0 turns that check off.
 */
export default fp<PressureOptions>(async function pressurePlugin (app, opts) {
  let lastWarning = 0
  await app.register(underPressure, {
    maxEventLoopDelay: opts.maxEventLoopDelayMs,
    maxHeapUsedBytes: opts.maxHeapUsedBytes,
    maxRssBytes: opts.maxRssBytes,
    pressureHandler: async (request, reply, type, value) => {
      const url = request.routeOptions.url
      if (url !== undefined && EXEMPT.has(url)) return
      if (Date.now() - lastWarning > 5000) {
        lastWarning = Date.now()
        request.log.warn({ type, value }, 'overloaded: shedding requests with 503')
      }
      if (url === READINESS) {
        reply.code(503).header('retry-after', String(OVERLOAD_RETRY_AFTER_S)).send({ status: 'unavailable', timestamp: new Date() })
        return
      }
      throw serviceUnavailable('The server is overloaded; please retry shortly', OVERLOAD_RETRY_AFTER_S, 'OVERLOADED')
    }
  })
}, { name: 'pressure', dependencies: ['errors', 'security'] })
