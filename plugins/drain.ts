import fp from 'fastify-plugin'

/**
 * While the app closes, no connection is kept alive past its answer. Fastify answers a request that
 * arrives during the close with 503 and `Connection: close`, and closes the connections that are
 * idle when the close begins; but a connection whose request was in flight was answered kept
 * alive, and if its client sent nothing more it held server.close() (and so the pool, Redis and
 * the process) for Fastify's keepAliveTimeout of 72 s, until close-with-grace's 10 s limit cut the
 * shutdown short (fastify/fastify#7044; test/reliability/shutdown.test.ts). Now an answer that
 * starts during the close says `Connection: close`, and one whose headers went out before (a
 * download) has its connection closed once it is finished.
 */
export default fp(async function drainPlugin (app) {
  let closing = false
  // Registered first, so it runs before the other preClose hooks (the WebSocket close waits up to 2 s).
  app.addHook('preClose', async () => { closing = true })
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing && !reply.raw.headersSent) reply.header('connection', 'close')
    done(null, payload)
  })
  app.addHook('onResponse', (_request, _reply, done) => {
    // Once Node has put the connection back to idle (after this 'finish').
    if (closing) setImmediate(() => { app.server.closeIdleConnections() })
    done()
  })
}, { name: 'drain' })
