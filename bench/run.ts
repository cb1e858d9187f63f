/**
 * `npm run bench [-- --quick] [-- --only=P1,P3]`: every scenario against its baseline in the same
 * run, one table, bench/results.json. See bench/README.md.
 */
import { writeFileSync } from 'node:fs'
import { availableParallelism, cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { type Context, type Scenario, sharedServer } from './lib/context.js'
import { createDatabase, dropDatabases } from './lib/db.js'
import { buildIfStale, killAllNow, root, stopAll } from './lib/proc.js'
import { format, type Row, skipped } from './lib/report.js'
import { p14 } from './scenarios/abuse.js'
import { p11 } from './scenarios/attachments.js'
import { p10 } from './scenarios/catchup.js'
import { p6 } from './scenarios/history.js'
import { p1, p2 } from './scenarios/http.js'
import { p8 } from './scenarios/embedded.js'
import { p4 } from './scenarios/cluster.js'
import { p3 } from './scenarios/fanout.js'
import { p5 } from './scenarios/login.js'
import { p7 } from './scenarios/memory.js'
import { p9 } from './scenarios/rooms.js'
import { p12 } from './scenarios/search.js'
import { p13 } from './scenarios/stats.js'

const args = process.argv.slice(2)
const quick = args.includes('--quick')
const only = args.find(a => a.startsWith('--only='))?.slice('--only='.length).toUpperCase().split(',')

/** In priority order. */
const scenarios: Array<[string, Scenario]> = [['P1', p1], ['P2', p2], ['P5', p5], ['P8', p8], ['P3', p3], ['P4', p4], ['P6', p6], ['P7', p7], ['P9', p9], ['P10', p10], ['P11', p11], ['P12', p12], ['P13', p13], ['P14', p14]]

/** The whole run stops by itself after this, whatever happens. */
const HARD_LIMIT_MS = (quick ? 5 : 40) * 60_000

const log = (message: string): void => { process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`) }

let cleaning: Promise<void> | undefined
async function cleanUp (): Promise<void> {
  cleaning ??= (async () => {
    await stopAll()
    await dropDatabases()
  })()
  await cleaning
}

process.on('exit', killAllNow)
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping children, dropping databases`)
    cleanUp().finally(() => process.exit(130))
  })
}
const watchdog = setTimeout(() => {
  log(`still running after ${HARD_LIMIT_MS / 60_000} minutes: giving up`)
  cleanUp().finally(() => process.exit(2))
}, HARD_LIMIT_MS)

async function main (): Promise<number> {
  const started = Date.now()
  log(`${quick ? 'quick' : 'full'} run on ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown cpu'}), load average ${loadavg().map(l => l.toFixed(2)).join(' ')}`)
  buildIfStale()
  const databaseUrl = await createDatabase()
  const shared = sharedServer(databaseUrl)
  const ctx: Context = { quick, databaseUrl, log, details: {}, shared: shared.get }
  const rows: Row[] = []
  const errors: string[] = []
  try {
    for (const [name, scenario] of scenarios) {
      if (only !== undefined && !only.includes(name)) continue
      const t0 = Date.now()
      log(`${name}…`)
      try {
        rows.push(...await scenario(ctx))
      } catch (err) {
        const message = (err as Error).stack ?? String(err)
        errors.push(`${name}: ${message}`)
        rows.push(skipped(name, 'error', `harness error: ${(err as Error).message.split('\n')[0]}`))
        log(`${name} failed: ${message}`)
        await stopAll()
      }
      log(`${name} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
    }
  } finally {
    await shared.stop()
    await cleanUp()
  }
  const seconds = (Date.now() - started) / 1000
  const table = format(rows, quick)
  process.stdout.write(`\n${quick ? 'QUICK run (proves the harness; figures not judged)' : 'FULL run'}, ${seconds.toFixed(0)} s. ` +
    'Figures move up to 2× between runs on this machine: read the ratios, which come from the same run.\n\n' + table + '\n')
  writeFileSync(join(root, 'bench', 'results.json'), JSON.stringify({
    quick,
    date: new Date().toISOString(),
    seconds,
    machine: { cores: availableParallelism(), cpu: cpus()[0]?.model, node: process.version, loadavg: loadavg() },
    rows,
    errors,
    details: ctx.details
  }, null, 2) + '\n')
  return errors.length > 0 ? 1 : 0
}

main().then(code => {
  clearTimeout(watchdog)
  process.exitCode = code
}, async err => {
  clearTimeout(watchdog)
  log(`bench failed: ${(err as Error).stack ?? String(err)}`)
  await cleanUp()
  process.exitCode = 1
})
