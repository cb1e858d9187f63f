/**
 * `npm run soak -- --minutes 10`: steady mixed load on one server for a long while, then a report
 * on memory growth, errors, and whether every message was stored once and delivered to every member.
 * Never part of `npm test`. See bench/README.md ("Soak").
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { childEnv } from './lib/context.js'
import { createDatabase, dropDatabases, JWT_SECRET, signToken, withClient } from './lib/db.js'
import { buildIfStale, type Child, freePort, killAllNow, sleep, startServer, stop, stopAll, waitHealthy } from './lib/proc.js'

function flag (name: string, fallback: number): number {
  const args = process.argv.slice(2)
  const i = args.findIndex(a => a === `--${name}` || a.startsWith(`--${name}=`))
  if (i < 0) return fallback
  const raw = args[i]!.includes('=') ? args[i]!.split('=')[1] : args[i + 1]
  const value = Number(raw)
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number (got "${String(raw)}")`)
  return value
}

const MINUTES = flag('minutes', 10)
const SOCKETS = flag('sockets', 500)
const ROOMS = flag('rooms', 10)
/** REST sends per second, spread over SENDERS users. */
const SENDS_PER_S = flag('sends', 20)
/** History reads per second. */
const READS_PER_S = flag('reads', 10)
/** Sockets closed and reopened (with `?since=`) every 2 s. */
const RECONNECTS = flag('reconnects', 5)
const SENDERS = Math.min(SOCKETS, 20)
/** Load runs this long before the start readings are taken (allocations settle, JIT warms up). */
const WARM_UP_MS = MINUTES >= 5 ? 60_000 : 15_000
const TARGET_RSS_GROWTH = 0.10

const log = (message: string): void => { process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${message}\n`) }

interface Memory { rss: number, heapUsed: number, heapTotal: number, external: number, at: number }

const errors: Record<string, number> = {}
const errorSamples: string[] = []
/** After SIGTERM, refusals are expected: they are tallied here instead of as errors. */
let shutdownOutcomes: Record<string, number> | undefined
function error (kind: string, detail?: string): void {
  if (shutdownOutcomes !== undefined) {
    shutdownOutcomes[kind] = (shutdownOutcomes[kind] ?? 0) + 1
    return
  }
  errors[kind] = (errors[kind] ?? 0) + 1
  if (detail !== undefined && errorSamples.length < 10) errorSamples.push(`${kind}: ${detail}`)
}
/** Runs work without awaiting it; a failure it did not handle itself is counted. */
function background (work: Promise<unknown>): void {
  work.catch((err: unknown) => { error('unexpected failure', (err as Error).message) })
}
const errorCount = (): number => Object.values(errors).reduce((a, b) => a + b, 0)

/** One room member with one socket, as a client app would keep it: reconnects with `since=` its contiguous seq. */
class Member {
  ws: WebSocket | undefined
  /** Message ids received (live or through catch-up), each counted once. */
  readonly received = new Set<number>()
  duplicates = 0
  /** Every seq up to this one has been received. */
  floor = 0
  private readonly ahead = new Set<number>()
  closing = false
  lastCloseCode: number | undefined
  /** When each reconnect closed and reopened (ms since the epoch), for the report on a missed delivery. */
  readonly gaps: Array<{ closed: number, opened?: number, since: number }> = []

  constructor (readonly userId: number, readonly roomId: number, private readonly base: string) {}

  async connect (): Promise<void> {
    const url = `${this.base.replace(/^http/, 'ws')}/ws?token=${signToken(this.userId, 24 * 3600)}&since=${this.roomId}:${this.floor}`
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 10_000 })
    // Before 'open': catch-up frames can arrive in the same packet as the upgrade response.
    ws.on('message', data => { this.frame(String(data)) })
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('unexpected-response', (_req, res) => { ws.terminate(); reject(new Error(`upgrade refused with HTTP ${String(res.statusCode)}`)) })
      ws.once('error', reject)
    })
    ws.on('error', err => { error('socket error', err.message) })
    ws.once('close', code => {
      this.lastCloseCode = code
      if (this.ws === ws) this.ws = undefined
      if (!this.closing) {
        error('unexpected socket close', `user ${this.userId}: ${code}`)
        background(this.reopen())
      }
    })
    this.ws = ws
  }

  private frame (text: string): void {
    const frame = JSON.parse(text) as { type: string, payload: any }
    if (frame.type === 'message:new') {
      if (frame.payload.room_id !== this.roomId) return error('message from another room')
      if (this.received.has(frame.payload.id)) this.duplicates++
      else this.received.add(frame.payload.id)
      const seq = frame.payload.seq as number
      if (seq > this.floor) this.ahead.add(seq)
      while (this.ahead.delete(this.floor + 1)) this.floor++
    } else if (frame.type === 'error') {
      error('error frame', JSON.stringify(frame.payload))
    } else if (frame.type === 'sync:reset') {
      error('sync:reset (more than 1,000 behind)')
    }
  }

  /** Closes the socket (as a client going away) and reconnects after `pauseMs`, catching up with `since=`. */
  async reconnect (pauseMs: number): Promise<void> {
    const ws = this.ws
    if (ws === undefined) return
    this.closing = true
    const closed = new Promise(resolve => ws.once('close', resolve))
    ws.close(1000)
    await closed
    const gap: { closed: number, opened?: number, since: number } = { closed: Date.now(), since: this.floor }
    this.gaps.push(gap)
    this.closing = false
    await sleep(pauseMs)
    await this.reopen()
    gap.opened = Date.now()
  }

  private async reopen (): Promise<void> {
    for (let attempt = 1; attempt <= 5; attempt++) {
      try {
        await this.connect()
        return
      } catch (err) {
        error('socket open failed', (err as Error).message)
        await sleep(500 * attempt)
      }
    }
  }

  async close (): Promise<void> {
    this.closing = true
    const ws = this.ws
    if (ws === undefined) return
    const closed = new Promise(resolve => ws.once('close', resolve))
    ws.close(1000)
    await closed
  }
}

async function seed (databaseUrl: string): Promise<{ members: Array<{ userId: number, roomId: number }>, rooms: number[] }> {
  return await withClient(databaseUrl, async c => {
    const users = await c.query<{ id: number }>(
      `INSERT INTO users (email, username, username_key, password_hash)
       SELECT 'soak' || g || '@bench.invalid', 'soak' || g, 'soak' || g, '$2b$04$' || repeat('x', 53) FROM generate_series(1, $1::int) g
       RETURNING id`, [SOCKETS])
    const ids = users.rows.map(r => r.id)
    const rooms: number[] = []
    for (let r = 0; r < ROOMS; r++) {
      const room = await c.query<{ id: number }>('INSERT INTO rooms (name, created_by) VALUES ($1, $2) RETURNING id', [`soak room ${r}`, ids[r]])
      rooms.push(room.rows[0]!.id)
    }
    const members = ids.map((userId, i) => ({ userId, roomId: rooms[i % ROOMS]! }))
    await c.query('INSERT INTO room_members (room_id, user_id) SELECT * FROM unnest($1::int[], $2::int[])', [members.map(m => m.roomId), members.map(m => m.userId)])
    return { members, rooms }
  })
}

async function memoryOf (server: Child, file: string): Promise<Memory> {
  const before = existsSync(file) ? readFileSync(file, 'utf8') : ''
  if (server.exitCode !== undefined) throw new Error(`the server exited (${String(server.exitCode)})`)
  writeFileSync(`${file}.want`, '')
  for (let i = 0; i < 100; i++) {
    await sleep(50)
    const now = existsSync(file) ? readFileSync(file, 'utf8') : ''
    if (now !== '' && now !== before) return JSON.parse(now) as Memory
  }
  throw new Error('the server did not write its memory report (is bench/lib/memory-report.ts preloaded?)')
}

/** Log lines counted by message, most frequent first. */
function logSummary (title: string, lines: Array<{ msg: string }>): string[] {
  const counts = new Map<string, number>()
  for (const { msg } of lines) counts.set(msg, (counts.get(msg) ?? 0) + 1)
  return [`${title}: ${lines.length}`, ...[...counts].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([msg, n]) => `  ${n} × ${msg.slice(0, 200)}`)]
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`

async function main (): Promise<boolean> {
  log(`${MINUTES} min measured after ${WARM_UP_MS / 1000} s warm-up; ${SOCKETS} sockets in ${ROOMS} rooms; ${SENDS_PER_S} sends/s, ${READS_PER_S} reads/s, ${RECONNECTS} reconnects every 2 s; load average ${loadavg().map(l => l.toFixed(2)).join(' ')}`)
  buildIfStale()
  const databaseUrl = await createDatabase()
  const memoryFile = join(tmpdir(), `chat-soak-${process.pid}.json`)
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const server = startServer('chat server', childEnv({
    HOST: '127.0.0.1',
    PORT: String(port),
    DATABASE_URL: databaseUrl,
    REDIS_URL: process.env.SOAK_REDIS_URL ?? 'redis://127.0.0.1:6379',
    DATA_DIR: 'memory://',
    JWT_SECRET,
    ENVIRONMENT: 'production',
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    RATE_LIMIT_ENABLED: 'false',
    BCRYPT_COST: '10',
    SOAK_MEMORY_FILE: memoryFile
  }), ['--expose-gc', '--import', 'tsx', '--import', './bench/lib/memory-report.ts'])
  const serverLogLines: Array<{ time: number, msg: string }> = []
  server.proc.stdout?.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      // LOG_LEVEL=warn: every line is a warning or worse, except the RATE_LIMIT_ENABLED=false notice.
      if (line.trim() === '' || line.includes('RATE_LIMIT_ENABLED=false')) continue
      try {
        const entry = JSON.parse(line) as { time?: number, msg?: string, err?: { message?: string } }
        serverLogLines.push({ time: entry.time ?? Date.now(), msg: `${entry.msg ?? ''}${entry.err?.message === undefined ? '' : ` (${entry.err.message})`}` })
      } catch {
        serverLogLines.push({ time: Date.now(), msg: line.slice(0, 200) })
      }
    }
  })
  const timers: NodeJS.Timeout[] = []
  let members: Member[] = []
  try {
    await waitHealthy(server, `${base}/health`, 60_000)
    const { members: seeded, rooms } = await seed(databaseUrl)
    members = seeded.map(m => new Member(m.userId, m.roomId, base))
    const openedAt = Date.now()
    for (let i = 0; i < members.length; i += 25) await Promise.all(members.slice(i, i + 25).map(async m => { await m.connect() }))
    log(`${members.length} sockets open in ${((Date.now() - openedAt) / 1000).toFixed(1)} s`)

    // The load: fixed rates from timers, each request awaited on its own (no coordinated omission).
    const senders = members.slice(0, SENDERS)
    const acked = new Map<number, number>() // message id -> room id
    const ackInfo = new Map<number, { seq: number, at: number }>()
    let sent = 0
    let reads = 0
    let inFlight = 0
    let counter = 0
    const send = async (): Promise<void> => {
      const sender = senders[counter % senders.length]!
      const n = ++counter
      inFlight++
      try {
        const res = await fetch(`${base}/api/v1/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${signToken(sender.userId)}` },
          body: JSON.stringify({ room_id: sender.roomId, content: `soak message ${n} ${'x'.repeat(n % 200)}` }),
          signal: AbortSignal.timeout(15_000)
        })
        const body = await res.json() as { id?: number, seq?: number, error?: string }
        if (res.status === 201 && body.id !== undefined) {
          if (acked.has(body.id)) error('same id acknowledged twice', String(body.id))
          acked.set(body.id, sender.roomId)
          ackInfo.set(body.id, { seq: body.seq ?? 0, at: Date.now() })
          sent++
        } else {
          error(`send answered ${res.status}`, body.error)
        }
      } catch (err) {
        error((err as Error).name === 'TimeoutError' ? 'send hung (no answer in 15 s)' : 'send failed', (err as Error).message)
      } finally {
        inFlight--
      }
    }
    const read = async (): Promise<void> => {
      const reader = members[Math.floor(Math.random() * members.length)]!
      const before = Math.random() < 0.5 ? '' : `&before=${Math.max(2, Math.floor(Math.random() * (counter + 1)))}`
      inFlight++
      try {
        const res = await fetch(`${base}/api/v1/rooms/${reader.roomId}/messages?limit=50${before}`, {
          headers: { authorization: `Bearer ${signToken(reader.userId)}` }, signal: AbortSignal.timeout(15_000)
        })
        await res.arrayBuffer()
        if (res.status === 200) reads++
        else error(`history read answered ${res.status}`)
      } catch (err) {
        error((err as Error).name === 'TimeoutError' ? 'history read hung (no answer in 15 s)' : 'history read failed', (err as Error).message)
      } finally {
        inFlight--
      }
    }
    let reconnects = 0
    const startLoad = (): void => {
      timers.push(
        setInterval(() => { background(send()) }, 1000 / SENDS_PER_S),
        setInterval(() => { background(read()) }, 1000 / READS_PER_S),
        setInterval(() => {
          // Senders stay connected (they'd only catch up on their own messages); the others come and go.
          for (let i = 0; i < RECONNECTS; i++) {
            const member = members[SENDERS + Math.floor(Math.random() * (members.length - SENDERS))]
            if (member?.ws === undefined || member.closing) continue
            reconnects++
            background(member.reconnect(500 + Math.random() * 1500))
          }
        }, 2000)
      )
    }
    startLoad()

    await sleep(WARM_UP_MS)
    const start = await memoryOf(server, memoryFile)
    const startedAt = Date.now()
    log(`warm-up done: RSS ${mb(start.rss)}, heap used ${mb(start.heapUsed)} (after a full GC); measuring for ${MINUTES} min`)
    const samples: Memory[] = [start]
    while (Date.now() - startedAt < MINUTES * 60_000) {
      await sleep(Math.min(60_000, MINUTES * 60_000 - (Date.now() - startedAt)))
      const m = await memoryOf(server, memoryFile)
      samples.push(m)
      log(`${((Date.now() - startedAt) / 60_000).toFixed(1)} min: sent ${sent}, reads ${reads}, reconnects ${reconnects}, errors ${errorCount()}, RSS ${mb(m.rss)}, heap used ${mb(m.heapUsed)}`)
    }
    const end = samples[samples.length - 1]!

    const stopLoad = async (): Promise<void> => {
      for (const timer of timers.splice(0)) clearInterval(timer)
      const busy = (): boolean => inFlight > 0
      while (busy()) await sleep(50)
    }
    await stopLoad()
    // Let every socket finish reconnecting and catching up, then wait for the last deliveries.
    const expected = new Map<number, Set<number>>(rooms.map(r => [r, new Set()]))
    for (const [id, room] of acked) expected.get(room)!.add(id)
    const missingFor = (m: Member): number => { let n = 0; for (const id of expected.get(m.roomId)!) if (!m.received.has(id)) n++; return n }
    const settleBy = Date.now() + 60_000
    while (Date.now() < settleBy && members.some(m => m.ws === undefined || missingFor(m) > 0)) await sleep(250)

    const storedNow = async (): Promise<{ total: number, distinct_ids: number, acked_found: number }> => await withClient(databaseUrl, async c => {
      const { rows } = await c.query<{ total: number, distinct_ids: number, acked_found: number }>(
        'SELECT count(*)::int AS total, count(DISTINCT id)::int AS distinct_ids, count(*) FILTER (WHERE id = ANY($1::int[]))::int AS acked_found FROM messages',
        [[...acked.keys()]])
      return rows[0]!
    })
    const expectedDeliveries = members.reduce((n, m) => n + expected.get(m.roomId)!.size, 0)
    const missing = members.reduce((n, m) => n + missingFor(m), 0)
    const delivered = expectedDeliveries - missing
    const membersMissing = members.filter(m => missingFor(m) > 0).length
    const duplicates = members.reduce((n, m) => n + m.duplicates, 0)
    const missedExamples = members.filter(m => missingFor(m) > 0).slice(0, 5).map(m => {
      const ids = [...expected.get(m.roomId)!].filter(id => !m.received.has(id))
      const what = ids.slice(0, 3).map(id => {
        const info = ackInfo.get(id)!
        const near = m.gaps.find(g => info.at >= g.closed - 2000 && info.at <= (g.opened ?? Infinity) + 2000)
        const gap = near === undefined ? 'not near a reconnect' : `acknowledged ${info.at - near.closed} ms after a close (since=${near.since}), reopened ${String((near.opened ?? NaN) - near.closed)} ms after the close`
        return `seq ${info.seq}: ${gap}`
      })
      return `user ${m.userId} room ${m.roomId}: ${ids.length} missing, floor ${m.floor}; ${what.join('; ')}`
    })
    const disconnected = members.filter(m => m.ws === undefined).length

    // SIGTERM under load: sends, reads and reconnects keep going (clients reconnect when closed, as
    // real ones do); every socket open at the signal should get 1001, every request an answer.
    const sentBeforeShutdown = sent
    startLoad()
    await sleep(5000)
    const atSignal = members.flatMap(m => m.ws === undefined ? [] : [m.ws])
    const closeCodes = Promise.all(atSignal.map(async ws => await new Promise<number>(resolve => ws.once('close', code => resolve(code)))))
    shutdownOutcomes = {}
    const shutdownStarted = Date.now()
    server.proc.kill('SIGTERM')
    const exitCode = await Promise.race([server.exited, sleep(15_000).then(() => 'still running')])
    const shutdownS = (Date.now() - shutdownStarted) / 1000
    await stopLoad()
    for (const m of members) { m.closing = true; m.ws?.terminate() }
    const codes = await Promise.race([closeCodes, sleep(5000).then(() => [] as number[])])
    const goingAway = codes.filter(code => code === 1001).length
    const hung = Object.entries(shutdownOutcomes).filter(([kind]) => kind.includes('hung')).reduce((n, [, c]) => n + c, 0)
    const stored = await storedNow()

    const growth = (end.rss - start.rss) / start.rss
    const heapGrowth = (end.heapUsed - start.heapUsed) / start.heapUsed
    const checks: Array<[string, boolean, string]> = [
      ['RSS growth ≤ 10%', growth <= TARGET_RSS_GROWTH, `${(growth * 100).toFixed(1)}%`],
      ['0 errors', errorCount() === 0, String(errorCount())],
      ['sent = stored (each once)', stored.total === sent && stored.acked_found === sent && stored.distinct_ids === stored.total, `sent ${sent}, stored ${stored.total}, acknowledged ids found ${stored.acked_found}`],
      ['every member got every message of its room', missing === 0, `${delivered} of ${expectedDeliveries} deliveries; ${membersMissing} members missing some`],
      ['SIGTERM under load exits 0 within 10 s', exitCode === 0 && shutdownS <= 10, `exit ${String(exitCode)} in ${shutdownS.toFixed(1)} s`],
      ['every socket open at SIGTERM got close code 1001', goingAway === atSignal.length, `${goingAway} of ${atSignal.length}`],
      ['no request hung during the shutdown', hung === 0, String(hung)]
    ]
    const lines = [
      '',
      `Soak: ${MINUTES} min measured (after ${WARM_UP_MS / 1000} s warm-up), ${SOCKETS} sockets in ${ROOMS} rooms, ${SENDS_PER_S} REST sends/s, ${READS_PER_S} history reads/s, ${RECONNECTS} reconnects (with since=) every 2 s, Redis fan-out on`,
      'Server memory (after a full GC)   start           end             growth',
      `  RSS                             ${mb(start.rss).padEnd(15)} ${mb(end.rss).padEnd(15)} ${(growth * 100).toFixed(1)}%`,
      `  heap used                       ${mb(start.heapUsed).padEnd(15)} ${mb(end.heapUsed).padEnd(15)} ${(heapGrowth * 100).toFixed(1)}%`,
      `  RSS growth from the lowest reading (${mb(Math.min(...samples.map(x => x.rss)))}) to the end: ${((end.rss / Math.min(...samples.map(x => x.rss)) - 1) * 100).toFixed(1)}%`,
      `  RSS each minute: ${samples.map(s => (s.rss / 1024 / 1024).toFixed(0)).join(' ')} MB`,
      `  heap used each minute: ${samples.map(s => (s.heapUsed / 1024 / 1024).toFixed(0)).join(' ')} MB`,
      `Messages: sent (201) ${sent}, stored ${stored.total}, delivered ${delivered} of ${expectedDeliveries} member-deliveries of the messages sent before the shutdown (live or through since= catch-up), duplicates seen by clients ${duplicates} (expected after a reconnect: catch-up starts at the contiguous seq)`,
      ...missedExamples.map(e => `  missed: ${e}`),
      `Shutdown under load: ${sent - sentBeforeShutdown} more sends acknowledged in the 5 s before and during it (all counted in sent/stored); after SIGTERM: ${JSON.stringify(shutdownOutcomes)}`,
      `Reads: ${reads} history pages; reconnects: ${reconnects}; sockets still disconnected at the end: ${disconnected}`,
      `Errors: ${errorCount()}${errorCount() > 0 ? ' ' + JSON.stringify(errors) : ''}`,
      ...errorSamples.map(s => `  e.g. ${s}`),
      ...logSummary('Server warnings/errors logged during the run', serverLogLines.filter(l => l.time < shutdownStarted)),
      ...logSummary('Server warnings/errors logged after SIGTERM', serverLogLines.filter(l => l.time >= shutdownStarted)),
      '',
      ...checks.map(([name, ok, value]) => `${ok ? 'PASS' : 'FAIL'}  ${name.padEnd(46)} ${value}`),
      ''
    ]
    process.stdout.write(lines.join('\n'))
    return checks.every(([, ok]) => ok)
  } catch (err) {
    if (server.exitCode !== undefined) log(`the server exited (${String(server.exitCode)}); its last lines:\n  ${server.output.slice(-20).join('\n  ')}`)
    throw err
  } finally {
    for (const timer of timers) clearInterval(timer)
    for (const m of members) { m.closing = true; m.ws?.terminate() }
    await stop(server)
    await dropDatabases()
    rmSync(memoryFile, { force: true })
    rmSync(`${memoryFile}.want`, { force: true })
  }
}

process.on('exit', killAllNow)
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping`)
    stopAll().then(dropDatabases).finally(() => process.exit(130)).catch(() => {})
  })
}

main().then(ok => { process.exit(ok ? 0 : 1) }, (err: unknown) => {
  log(`failed: ${(err as Error).stack ?? String(err)}`)
  process.exit(1)
})
