import fp from 'fastify-plugin'
import { startRollupJob } from '../src/chat/rollup.js'

/**
 * The analytics rollup (src/chat/rollup.ts) every ROLLUP_INTERVAL_MS on every instance; the
 * advisory lock lets one instance's run through at a time. 0 turns the timer off (the stats
 * routes still roll up before they read).
 */
export default fp<{ intervalMs: number }>(async function rollupPlugin (app, opts) {
  if (opts.intervalMs === 0) return
  const job = startRollupJob(app.db, opts.intervalMs, app.log)
  // Before the database closes (onClose): a run under way finishes first.
  app.addHook('preClose', async () => { await job.stop() })
}, { name: 'rollup', dependencies: ['db'] })
