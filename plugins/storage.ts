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

/**
 * The driver STORAGE_DRIVER names, chosen here only: `disk` under DATA_DIR/uploads (a temporary
 * directory, removed on close, with DATA_DIR=memory://), or `s3`. The s3 driver (and the AWS SDK
 * with it) is loaded only when it is chosen.
 */
export async function openStorage (config: Pick<Config, 'dataDir' | 'uploads'>): Promise<Storage> {
  if (config.uploads.s3 !== undefined) {
    const { s3Storage } = await import('../src/storage/s3.js')
    return s3Storage(config.uploads.s3)
  }
  return await diskStorage(config.dataDir === 'memory://' ? undefined : join(config.dataDir, 'uploads'))
}

/** How often an instance sweeps expired uploads and the files left to delete. */
const SWEEP_INTERVAL_MS = 10 * 60_000

/**
 * Attachments' storage: the driver STORAGE_DRIVER names (`openStorage`: disk or s3). Every instance
 * sweeps periodically; the sweep itself takes an advisory lock, so instances sharing a database
 * never sweep at once.
 */
export default fp<{ config: Config }>(async function storagePlugin (app, { config }) {
  const storage = await openStorage(config)
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
