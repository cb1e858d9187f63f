import bcrypt from 'bcryptjs'
import { HASH_THREADS } from '../../plugins/passwords/hasher.js'
import { type Context, startChatServer } from '../lib/context.js'
import { load, median, percentile, probe } from '../lib/load.js'
import { cpuSeconds, sleep, stop } from '../lib/proc.js'
import { row, type Row } from '../lib/report.js'
import { signUpWithRoom } from './http.js'

const COST = 12

/** One cost-12 bcrypt comparison in this process, in seconds (median of `n`), while nothing else runs. */
function hashSeconds (n: number): number {
  const hash = bcrypt.hashSync('measure one hash', COST)
  const times: number[] = []
  for (let i = 0; i < n; i++) {
    const started = performance.now()
    bcrypt.compareSync('measure one hash', hash)
    times.push((performance.now() - started) / 1000)
  }
  return median(times)
}

/**
 * P5: a login storm at bcrypt cost 12 while another client sends GET /health/live every 10 ms.
 * Ideal logins/s = hashing threads (the pool size src/passwords configures) ÷ one hash time
 * measured here, in the bench process, while nothing else runs.
 */
export async function p5 (ctx: Context): Promise<Row[]> {
  const server = await startChatServer({ databaseUrl: ctx.databaseUrl, bcryptCost: COST })
  try {
    const { email, password } = await signUpWithRoom(server.base, 'p5storm')
    const threads = HASH_THREADS
    const body = JSON.stringify({ email, password })
    const storm = { url: server.base + '/api/v1/users/login', method: 'POST' as const, body, connections: threads * 3 }
    // Start the hashing threads (piscina starts them on demand).
    await load({ ...storm, seconds: 1 })

    const oneHash = hashSeconds(ctx.quick ? 2 : 5)
    const ideal = threads / oneHash

    const seconds = ctx.quick ? 4 : 15
    // The same probe with no storm: what this machine gives right now, for reading the figure under load.
    const calm = probe(server.base + '/health/live', 10, 30)
    await sleep(ctx.quick ? 2000 : 5000)
    const calmP99 = percentile((await calm.stop()).latencies, 99)
    const health = probe(server.base + '/health/live', 10, seconds + 10)
    const cpuBefore = cpuSeconds(server.pid)
    const logins = await load({ ...storm, seconds })
    // How many cores the server (main thread + hashing threads) actually got during the storm.
    const cores = (cpuSeconds(server.pid) - cpuBefore) / logins.seconds
    const { latencies, failed } = await health.stop()
    const healthP99 = percentile(latencies, 99)
    ctx.details.P5 = { threads, serverCores: cores, oneHashMs: oneHash * 1000, idealPerSecond: ideal, logins, calmHealthP99: calmP99, health: { samples: latencies.length, failed, p50: percentile(latencies, 50), p99: healthP99, max: Math.max(...latencies) } }
    ctx.log(`P5: ${logins.rps.toFixed(2)} logins/s (ideal ${ideal.toFixed(2)} = ${threads} threads / ${(oneHash * 1000).toFixed(0)} ms), health p99 ${healthP99.toFixed(1)} ms`)
    const note = `${threads} hashing threads ÷ ${(oneHash * 1000).toFixed(0)} ms per hash; the server got ${cores.toFixed(2)} cores during the storm; ${latencies.length} health samples` +
      (logins.failed + failed > 0 ? `; failed: ${logins.failed} logins, ${failed} health` : '')
    return [
      row('P5', 'logins/s vs ideal (cost 12)', 'logins/s', logins.rps, ideal, { on: 'ratio', op: '>=', value: 0.8 }, note),
      row('P5', 'health p99 ms: storm (vs no storm)', 'ms', healthP99, calmP99, { on: 'ours', op: '<=', value: 20 })
    ]
  } finally {
    await stop(server.child)
  }
}
