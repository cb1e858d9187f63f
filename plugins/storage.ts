import { join } from 'node:path'
import fp from 'fastify-plugin'
import { sweepAttachments } from '../src/chat/attachments.js'
import type { Config } from '../src/config.js'
import { diskStorage } from '../src/storage/disk.js'
import type { Storage } from '../src/storage/index.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Where attachments' bytes live (STORAGE_DRIVER). */
    storage: Storage
  }
}

/** How often an instance sweeps expired uploads and the files left to delete. */
const SWEEP_INTERVAL_MS = 10 * 60_000

/**
 * Attachments' storage: the disk driver under DATA_DIR/uploads (a temporary directory, removed on
 * close, with DATA_DIR=memory://). An S3 driver would be chosen here by `config.uploads.driver`
 * (config refuses `s3` until it exists). Every instance sweeps periodically; the sweep itself takes
 * an advisory lock, so instances sharing a database never sweep at once.
 */
export default fp<{ config: Config }>(async function storagePlugin (app, { config }) {
  const storage = await diskStorage(config.dataDir === 'memory://' ? undefined : join(config.dataDir, 'uploads'))
  app.decorate('storage', storage)
  const deps = { db: app.db, storage, log: app.log }
  const timer = setInterval(() => {
    sweepAttachments(deps, config.uploads.ttlHours).catch((err: unknown) => app.log.warn({ err }, 'attachment sweep failed; next one retries'))
  }, SWEEP_INTERVAL_MS)
  timer.unref()
  app.addHook('onClose', async () => {
    clearInterval(timer)
    await storage.close()
  })
}, { name: 'storage', dependencies: ['db'] })
