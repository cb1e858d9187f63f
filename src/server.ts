import closeWithGrace from 'close-with-grace'
import { loadConfigOrExit } from './config.js'

const config = loadConfigOrExit()

// Imported only once the configuration is known good: a bad value is reported at once, before
// the application's modules (seconds of loading) are read. The database (the embedded engine's
// WebAssembly takes a second or two to start) opens meanwhile; the app closes it. The embedded
// engine is opened first, before Kysely's hundreds of modules (plugins/db.ts) are even read.
const embedded = config.databaseUrl === undefined ? import('../db/embedded.js').then(async m => await m.openEmbedded(config.dataDir)) : undefined
const database = Promise.all([import('../plugins/db.js'), embedded]).then(async ([m, pglite]) => await m.startDatabase(config, pglite))
database.catch(() => {}) // reported when the app awaits it, not as an unhandled rejection meanwhile
const { buildApp } = await import('./app.js')
const app = buildApp(config, { database })
for (const warning of config.warnings) app.log.warn(warning)

// SIGTERM / SIGINT: stop accepting, finish in-flight requests, close sockets and the pool; a second signal exits at once.
closeWithGrace({ delay: 10_000, logger: app.log }, async ({ err, signal }) => {
  if (err !== undefined) app.log.error({ err }, 'shutting down after an error')
  else app.log.info({ signal }, 'shutting down')
  // A shutdown that takes long says what is still open, before close-with-grace cuts it short.
  const slow = setTimeout(() => {
    app.server.getConnections((_err, connections) => {
      app.log.warn({ connections, resources: process.getActiveResourcesInfo() }, 'shutdown is taking long: still open')
    })
  }, 5_000)
  slow.unref()
  await app.close()
  clearTimeout(slow)
})

try {
  const url = await app.listen({ host: config.host, port: config.port })
  // https://… when TLS_CERT / TLS_KEY are set (WebSocket clients then use wss://…/ws).
  app.log.info({ url, engine: app.dbEngine, tls: config.tls !== undefined, docs: `${url}/docs` }, 'chat app ready')
} catch (err) {
  app.log.fatal({ err }, 'could not start')
  process.exit(1)
}
