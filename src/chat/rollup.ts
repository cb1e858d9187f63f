import type { FastifyBaseLogger } from 'fastify'
import type { Db } from '../../db/database.js'
import { rollUpPastWatermark, type RollupCounts, tryRollupLock } from '../../db/rollup.js'

/** What one run did: `ran` false when another run (another instance, or a request) held the lock. */
export type RollupRun = ({ ran: true } & RollupCounts) | { ran: false }

/**
 * One rollup run: in one transaction, the rollup lock (`pg_try_advisory_xact_lock`: with several
 * instances one run at a time wins, the others return at once), the rows past the watermark added
 * to the daily counts, and the watermark moved. A run that fails changes nothing.
 */
export async function rollUp (db: Db): Promise<RollupRun> {
  return await db.transaction().execute(async trx => {
    if (!await tryRollupLock(trx)) return { ran: false }
    return { ran: true, ...await rollUpPastWatermark(trx) }
  })
}

export interface RollupJob {
  /** Stops the timer and waits for a run under way. */
  stop: () => Promise<void>
}

/** Runs `rollUp` every `intervalMs` (an unref'd timer: it never keeps the process alive); a run never overlaps the previous one. */
export function startRollupJob (db: Db, intervalMs: number, log: FastifyBaseLogger): RollupJob {
  let running: Promise<void> | undefined
  const timer = setInterval(() => {
    if (running !== undefined) return
    running = rollUp(db)
      .then(run => { if (run.ran && (run.messages > 0 || run.users > 0)) log.debug({ rollup: run }, 'rolled up') })
      .catch((err: unknown) => { log.warn({ err }, 'rollup run failed; the next one catches up') })
      .finally(() => { running = undefined })
  }, intervalMs)
  timer.unref()
  return {
    async stop () {
      clearInterval(timer)
      await running
    }
  }
}
