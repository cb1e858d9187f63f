/**
 * Baseline for P1: bare fastify answering a small JSON object, no plugins, no hooks, no logger.
 * PORT from the environment; listens on 127.0.0.1.
 */
import Fastify from 'fastify'

const app = Fastify({ logger: false })
app.get('/', async () => ({ hello: 'world' }))
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) })
process.on('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
