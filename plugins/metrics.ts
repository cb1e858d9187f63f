import fp from 'fastify-plugin'
import type { Registry } from 'prom-client'

// prom-client itself, not fastify-metrics: fastify-metrics registers its own /metrics route (we need
// ours, with the full schema, the METRICS_TOKEN check and the shared error handler), adds a
// per-request summary beside the histogram (a second observation on every request), and its
// current major moved to other client packages. What we need from it is one onResponse hook.

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics
  }
}

/** What the app reports to Prometheus. Every method is a no-op when metrics are off. */
export interface Metrics {
  /**
   * This app's own registry (never prom-client's global one, so apps in one process don't clash):
   * what GET /metrics serves. Undefined when metrics are off: nothing is collected.
   */
  readonly registry: Registry | undefined
  /**
   * One message's fan-out, for `chat_fanout_latency_seconds`: the seconds from the moment it was
   * stored (its insert committed, when `message:new` is published) to the moment its frame was
   * written to the last local member socket. The realtime hub calls it once per delivered message.
   */
  observeFanout: (seconds: number) => void
}

export interface MetricsOptions {
  /** False (production without METRICS_TOKEN): nothing is collected, and no hook runs. */
  enabled: boolean
}

/** The label of requests that matched no route (404s), so scanners can't mint a series per URL. */
export const UNMATCHED_ROUTE = '(unmatched)'

/**
 * Prometheus metrics on a registry of this app's own: process and event-loop metrics, request
 * durations by route pattern, open WebSocket connections, messages sent, fan-out latency, and the
 * pg pool's use. `routes/metrics` serves them.
 */
export default fp<MetricsOptions>(async function metricsPlugin (app, opts) {
  if (!opts.enabled) {
    app.decorate('metrics', { registry: undefined, observeFanout: () => {} })
    return
  }
  // Loaded only when metrics are on: production without METRICS_TOKEN starts without prom-client's
  // modules (and @opentelemetry/api's, which it loads), bench/README P8.
  // `.default`: prom-client is CommonJS, and its module.exports is the one name both node and the
  // server's bundle (scripts/build.mjs) give it.
  const { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } = (await import('prom-client')).default
  const registry = new Registry()
  const registers = [registry]

  // process_*, nodejs_* (event-loop lag, heap, GC, handles). prom-client offers no way to stop its
  // event-loop monitor and GC observer; clearing the registry at close drops what they feed.
  collectDefaultMetrics({ register: registry })

  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP requests: time from arrival to the response sent, by method, route pattern and status',
    labelNames: ['method', 'route', 'status_code'] as const,
    registers
  })
  // One synchronous hook for every request (bench P1 measures its cost). The route label is the
  // pattern (`/api/v1/rooms/:id/messages`), never the URL: bounded cardinality.
  app.addHook('onResponse', (request, reply, done) => {
    duration.observe({ method: request.method, route: request.routeOptions.url ?? UNMATCHED_ROUTE, status_code: reply.statusCode }, reply.elapsedTime / 1000)
    done()
  })

  // Read when scraped: the sockets @fastify/websocket (registered by the realtime plugin, after this one) tracks.
  new Gauge({ // eslint-disable-line no-new
    name: 'chat_websocket_connections',
    help: 'WebSocket connections open on this instance',
    registers,
    collect () { this.set(app.hasDecorator('websocketServer') ? app.websocketServer.clients.size : 0) }
  })

  // Every stored message publishes `message:new` on this instance's bus, REST and WebSocket sends
  // alike (a retry with the same client_msg_id stores and publishes nothing). Messages other
  // instances stored also come out of this bus (received through Redis) and are not counted here:
  // each instance counts its own sends, and the sum over instances is the total.
  const sent = new Counter({ name: 'chat_messages_sent_total', help: 'Messages stored by this instance (REST and WebSocket)', registers })
  const unsubscribe = app.bus.subscribe((event, remote) => { if (event.type === 'message:new' && !remote) sent.inc() })

  // Not measured here: from the bus, a subscriber only sees that the event was published, not when
  // its frame reached the sockets. The hub reports it through observeFanout.
  const fanout = new Histogram({
    name: 'chat_fanout_latency_seconds',
    help: 'Messages: time from being stored to their frame being written to the local member sockets',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers
  })

  const pool = app.dbPool
  // The embedded engine (PGlite) is one in-process connection with no pool: nothing to report.
  if (pool !== undefined) {
    const poolGauge = (name: string, help: string, read: () => number): void => {
      new Gauge({ name, help, registers, collect () { this.set(read()) } }) // eslint-disable-line no-new
    }
    poolGauge('chat_db_pool_clients', 'PostgreSQL pool: connections open (busy and idle)', () => pool.totalCount)
    poolGauge('chat_db_pool_idle_clients', 'PostgreSQL pool: connections open and idle', () => pool.idleCount)
    poolGauge('chat_db_pool_waiting_requests', 'PostgreSQL pool: queries waiting for a connection', () => pool.waitingCount)
    poolGauge('chat_db_pool_max_clients', 'PostgreSQL pool: the most connections it opens', () => pool.options.max)
  }

  app.decorate('metrics', {
    registry,
    observeFanout: (seconds: number) => { fanout.observe(seconds) }
  })

  app.addHook('onClose', async () => {
    unsubscribe()
    registry.clear()
  })
}, { name: 'metrics', dependencies: ['db', 'bus'] })
