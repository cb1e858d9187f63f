import closeWithGrace from 'close-with-grace'
import { loadConfigOrExit } from './config.js'

const config = loadConfigOrExit()

// Imported only once the configuration is known good: a bad value is reported at once, before
// the application's modules (seconds of loading) are read. The embedded engine (its WebAssembly
// takes a second or two to start) opens meanwhile.
const [{ buildApp }, pglite] = await Promise.all([
  import('./app.js'),
  config.databaseUrl === undefined ? import('../db/embedded.js').then(async m => await m.openEmbedded(config.dataDir)) : undefined
])
const app = buildApp(config, { pglite })
// The app closes the pool or engine it opened; the one opened here is closed here, after it.
app.addHook('onClose', async () => { await pglite?.close() })
for (const warning of config.warnings) app.log.warn(warning)

// SIGTERM / SIGINT: stop accepting, finish in-flight requests, close sockets and the pool; a second signal exits at once.
closeWithGrace({ delay: 10_000, logger: app.log }, async ({ err, signal }) => {
  if (err !== undefined) app.log.error({ err }, 'shutting down after an error')
  else app.log.info({ signal }, 'shutting down')
  await app.close()
})

try {
  const url = await app.listen({ host: config.host, port: config.port })
  // https://… when TLS_CERT / TLS_KEY are set (WebSocket clients then use wss://…/ws).
  app.log.info({ url, engine: app.dbEngine, tls: config.tls !== undefined, docs: `${url}/docs` }, 'chat app ready')
} catch (err) {
  app.log.fatal({ err }, 'could not start')
  process.exit(1)
}
