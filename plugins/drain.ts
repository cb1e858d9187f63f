import fp from 'fastify-plugin'

declare module 'fastify' {
  interface FastifyInstance {
    /** True once the app has begun to close: an answer then says `Connection: close` (src/app.ts's onSend hook). */
    draining: boolean
  }
}

/**
 * While the app closes, no connection is kept alive past its answer. Fastify answers a request that
 * arrives during the close with 503 and `Connection: close`, and closes the connections that are
 * idle when the close begins; but a connection whose request was in flight was answered kept
 * alive, and if its client sent nothing more it held server.close() (and so the pool, Redis and
 * the process) for Fastify's keepAliveTimeout of 72 s, until close-with-grace's 10 s limit cut the
 * shutdown short (fastify/fastify#7044; test/reliability/shutdown.test.ts). Now an answer that
 * starts during the close says `Connection: close` (`draining`), and a connection whose answer's
 * headers went out before (a download) is closed once it has been idle for about a second (Node
 * reads the server's keepAliveTimeout when an answer is finished, and adds its own second). No hook
 * is added to every request's path: the header is set by the onSend hook every answer already runs.
 */
export default fp(async function drainPlugin (app) {
  let draining = false
  app.decorate('draining', { getter: () => draining })
  // Registered first, so it runs before the other preClose hooks (the WebSocket close waits up to 2 s).
  app.addHook('preClose', async () => {
    draining = true
    app.server.keepAliveTimeout = 1
  })
}, { name: 'drain' })
