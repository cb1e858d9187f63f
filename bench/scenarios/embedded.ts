import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { templateDir } from '../../db/embedded.js'
import { type Context, startChatServer } from '../lib/context.js'
import { stop } from '../lib/proc.js'
import { row, type Row } from '../lib/report.js'

/**
 * P8: `node scripts/start.mjs` (as `npm start`: the compiled server) with no database configured and a new DATA_DIR, from spawn to the first
 * 200 on GET /health (the database answers); then again on the same directory.
 */
export async function p8 (ctx: Context): Promise<Row[]> {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'chat-bench-')), 'data')
  const template = existsSync(templateDir)
  try {
    const times: number[] = []
    for (let run = 0; run < 2; run++) {
      const server = await startChatServer({ dataDir, healthPath: '/health', timeoutMs: 60_000 })
      times.push(server.startMs)
      await stop(server.child)
    }
    ctx.details.P8 = { firstMs: times[0], secondMs: times[1], template }
    const note = template ? undefined : `no PGlite template at ${templateDir} (npm ci's postinstall makes it): the first run pays for initdb`
    return [
      row('P8', 'embedded first start → healthy s', 's', times[0]! / 1000, null, { on: 'ours', op: '<=', value: 5 }, note),
      row('P8', 'embedded second start → healthy s', 's', times[1]! / 1000, null, { on: 'ours', op: '<=', value: 1.5 })
    ]
  } finally {
    rmSync(join(dataDir, '..'), { recursive: true, force: true })
  }
}
