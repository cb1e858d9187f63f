// `npm run bench:ab -- <checkout A> <checkout B>`: which of two builds of the server spends less CPU
// on one request. Both serve one database (P12's users, rooms and 10k messages, or --messages=N),
// each on its own port; the load alternates between them (A B, then B A, ...) so that a machine
// whose speed drifts by tens of percent within a minute weighs on both alike. Prints, per build,
// the server's CPU (user + system, /proc) per answered request for each round and their median.
// A change of a few percent needs --rounds=12 or more to stand out from the noise.
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { type ChatServer, startChatServer } from './lib/context.js'
import { CpuMeter } from './lib/cpu.js'
import { createDatabase, dropDatabases, signToken } from './lib/db.js'
import { load, median } from './lib/load.js'
import { buildIfStale, stop } from './lib/proc.js'
import { grow, seed } from './scenarios/search.js'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    path: { type: 'string', default: '/api/v1/search/messages?q=zephyrine' },
    rounds: { type: 'string', default: '8' },
    seconds: { type: 'string', default: '3' },
    messages: { type: 'string', default: '10000' },
    connections: { type: 'string', default: '10' }
  }
})
if (positionals.length !== 2) {
  console.error('usage: npm run bench:ab -- <checkout A> <checkout B> [--path=/api/v1/...] [--rounds=8] [--seconds=3] [--messages=10000] [--connections=10]')
  process.exit(2)
}
const checkouts = positionals.map(dir => resolve(dir))
const rounds = Number(values.rounds)
const seconds = Number(values.seconds)
const connections = Number(values.connections)

interface Side { name: string, server: ChatServer, cpuMs: number[] }

for (const dir of checkouts) buildIfStale(dir)
const databaseUrl = await createDatabase()
const sides: Side[] = []
try {
  // One after the other: the second migrates nothing.
  for (const [i, checkout] of checkouts.entries()) {
    // No rollup runs in the middle of a round (what was seeded is rolled up by neither).
    const server = await startChatServer({ databaseUrl, checkout, env: { ROLLUP_INTERVAL_MS: '0' }, timeoutMs: 120_000 })
    sides.push({ name: i === 0 ? 'A' : 'B', server, cpuMs: [] })
  }
  const seeded = await seed(databaseUrl)
  await grow(databaseUrl, seeded, Number(values.messages), true)
  const headers = { authorization: `Bearer ${signToken(seeded.readerId)}` }
  for (const side of sides) {
    const first = await fetch(side.server.base + values.path, { headers })
    if (first.status !== 200) throw new Error(`${side.name}: GET ${values.path} answered ${first.status}: ${await first.text()}`)
    // The JIT's first seconds: a first round without this cost up to twice the others.
    await load({ url: side.server.base + values.path, headers, connections, seconds: 3 })
  }
  for (let round = 0; round < rounds; round++) {
    for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
      const options = { url: side.server.base + values.path, headers, connections, seconds: 1 }
      await load(options)
      const meter = new CpuMeter(side.server.pid)
      const result = await meter.time(async () => await load({ ...options, seconds }))
      if (result.failed > 0) throw new Error(`${side.name}: ${result.failed} requests failed`)
      side.cpuMs.push(meter.perRequest().server)
    }
  }
  for (const [i, side] of sides.entries()) {
    console.log(`${side.name} (${checkouts[i]}): ${median(side.cpuMs).toFixed(3)} ms of server CPU per request, median of ${rounds} (${side.cpuMs.map(ms => ms.toFixed(2)).join(' ')})`)
  }
  console.log(`B / A: ${(median(sides[1]!.cpuMs) / median(sides[0]!.cpuMs)).toFixed(3)}`)
} finally {
  for (const side of sides) await stop(side.server.child)
  await dropDatabases()
}
