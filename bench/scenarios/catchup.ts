import { type CompiledQuery, Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import type WebSocket from 'ws'
import type { Database } from '../../db/database.js'
import { roomCatchUp } from '../../src/chat/sync.js'
import { type Context, startBaseline } from '../lib/context.js'
import { seedRoom, signToken, withClient } from '../lib/db.js'
import { percentile } from '../lib/load.js'
import { cpuSeconds, sleep, stop } from '../lib/proc.js'
import { row, type Row } from '../lib/report.js'
import { openSocket } from '../lib/sockets.js'

/** History the client has seen, then the feed it missed (MAX_CATCH_UP: one more would be `sync:reset`). */
const SEEN = 1000
const MISSED = 1000

/**
 * Per 100 missed entries (k = seq − SEEN): 89 messages, 5 edits (k ≡ 7 mod 20), 5 reactions
 * (k ≡ 14 mod 20), 1 delete (k ≡ 50 mod 100); each event is about the message just before it.
 */
const typeOf = (k: string): string =>
  `CASE WHEN ${k} % 100 = 50 THEN 'message:deleted' WHEN ${k} % 20 = 7 THEN 'message:updated' WHEN ${k} % 20 = 14 THEN 'reaction:added' ELSE 'message:new' END`

async function seed (url: string): Promise<{ roomId: number, readerId: number }> {
  const { roomId, userIds } = await seedRoom(url, 'p10user', 2)
  const [readerId, authorId] = userIds as [number, number]
  await withClient(url, async c => {
    await c.query('BEGIN')
    await c.query(`INSERT INTO messages (room_id, user_id, content, seq, created_at)
      SELECT $1, CASE WHEN g % 3 = 0 THEN $2::int ELSE $3::int END, 'catch-up message number ' || g || ', long enough to look like a real one',
        g, now() - ($4::int + $5::int - g) * interval '1 second'
      FROM generate_series(1, $4::int + $5::int) g
      WHERE g <= $4 OR (${typeOf('(g - $4)')}) = 'message:new'`, [roomId, readerId, authorId, SEEN, MISSED])
    await c.query(`CREATE TEMP TABLE p10_events AS
      SELECT $2::int + k AS seq, ${typeOf('k')} AS type, (SELECT id FROM messages WHERE room_id = $1 AND seq = $2::int + k - 1) AS message_id
      FROM generate_series(1, $3::int) k WHERE (${typeOf('k')}) <> 'message:new'`, [roomId, SEEN, MISSED])
    await c.query(`UPDATE messages SET content = 'edited: ' || content, edited_at = now()
      WHERE id IN (SELECT message_id FROM p10_events WHERE type = 'message:updated')`)
    await c.query(`UPDATE messages SET content = '', deleted_at = now()
      WHERE id IN (SELECT message_id FROM p10_events WHERE type = 'message:deleted')`)
    await c.query(`INSERT INTO reactions (message_id, user_id, emoji)
      SELECT message_id, $1, '👍' FROM p10_events WHERE type = 'reaction:added' ORDER BY seq`, [readerId])
    await c.query(`INSERT INTO room_events (room_id, seq, type, message_id, data)
      SELECT $1, seq, type, message_id, CASE WHEN type = 'reaction:added'
        THEN jsonb_build_object('message_id', message_id, 'user_id', $2::int, 'emoji', '👍', 'count', 1)
        ELSE jsonb_build_object('message_id', message_id) END
      FROM p10_events`, [roomId, readerId])
    await c.query('UPDATE rooms SET last_seq = $2, last_activity_at = now() WHERE id = $1', [roomId, SEEN + MISSED])
    await c.query('COMMIT')
    for (const table of ['messages', 'room_events', 'reactions']) await c.query(`VACUUM ANALYZE ${table}`)
  })
  return { roomId, readerId }
}

/**
 * Our read alone, in the bench process: src/chat/sync.ts `roomCatchUp` (what the `sync` handler
 * reads: membership, feed, messages, reactions) timed over `n` calls, and EXPLAIN (ANALYZE) of each
 * query it sends (captured through Kysely's log).
 */
async function ourRead (url: string, userId: number, roomId: number, n: number): Promise<{ ms: number[], plans: Array<{ sql: string, plan: string, ms: number }> }> {
  let captured: CompiledQuery[] = []
  const pool = new pg.Pool({ connectionString: url, max: 1 })
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), log: event => { captured.push(event.query) } })
  try {
    const ms: number[] = []
    for (let i = 0; i < n; i++) {
      captured = []
      const t0 = performance.now()
      await roomCatchUp(db, userId, roomId, SEEN)
      ms.push(performance.now() - t0)
    }
    const plans = []
    for (const query of captured) {
      const plan = (await pool.query<{ 'QUERY PLAN': string }>('EXPLAIN (ANALYZE, BUFFERS) ' + query.sql, [...query.parameters])).rows.map(r => r['QUERY PLAN']).join('\n')
      plans.push({ sql: query.sql, plan, ms: Number(/Execution Time: ([\d.]+)/.exec(plan)?.[1] ?? NaN) })
    }
    return { ms, plans }
  } finally {
    await db.destroy()
  }
}

interface Round { ms: number, frames: number, bytes: number, texts: string[] }

/** Sends `sync` and collects every frame until `sync:done` (not counted); `keep`: also the frames' text. */
async function catchUp (socket: WebSocket, sync: string, keep: boolean, timeoutMs = 30_000): Promise<Round> {
  const done = Buffer.from('{"type":"sync:done"')
  const result: Round = { ms: NaN, frames: 0, bytes: 0, texts: [] }
  let timer: NodeJS.Timeout | undefined
  let onMessage: ((data: WebSocket.RawData) => void) | undefined
  try {
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no sync:done after ${timeoutMs} ms (${result.frames} frames)`)), timeoutMs)
      const started = performance.now()
      onMessage = data => {
        const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data)
        if (buf.subarray(0, done.length).equals(done)) {
          result.ms = performance.now() - started
          resolve()
          return
        }
        result.frames++
        result.bytes += buf.length
        if (keep) result.texts.push(buf.toString())
      }
      socket.on('message', onMessage)
      socket.send(sync)
    })
  } finally {
    clearTimeout(timer)
    if (onMessage !== undefined) socket.off('message', onMessage)
  }
  return result
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length

/**
 * P10: reconnect catch-up of 1,000 missed feed entries: `sync` on our socket (send → `sync:done`)
 * vs baselines/catchup.ts (one pg query, the same frames, `ws.send` each), alternating blocks of
 * rounds on one socket each, in the same run.
 */
export async function p10 (ctx: Context): Promise<Row[]> {
  const server = await ctx.shared()
  const { roomId, readerId } = await seed(ctx.databaseUrl)
  const bare = await startBaseline('catchup.ts', { DATABASE_URL: ctx.databaseUrl, BENCH_USER_ID: String(readerId) })
  const sockets: WebSocket[] = []
  try {
    const ours = await openSocket(`ws://127.0.0.1:${server.port}/ws?token=${signToken(readerId)}`)
    const theirs = await openSocket(`ws://127.0.0.1:${bare.port}/`)
    sockets.push(ours, theirs)
    await sleep(300) // what the server sends on connect (presence) goes by before the first round
    const sync = JSON.stringify({ type: 'sync', payload: { rooms: { [roomId]: SEEN } } })
    const warm = ctx.quick ? 2 : 10
    const blocks = ctx.quick ? 2 : 20
    const perBlock = ctx.quick ? 5 : 10
    const first = { ours: await catchUp(ours, sync, true), baseline: await catchUp(theirs, sync, true) }
    for (let i = 1; i < warm; i++) { await catchUp(theirs, sync, false); await catchUp(ours, sync, false) }
    const times = { ours: [] as number[], baseline: [] as number[] }
    // CPU of each side's process over its measured rounds (PostgreSQL's own is not in it).
    const cpu = { ours: 0, baseline: 0 }
    const pids = { ours: server.pid, baseline: bare.child.pid }
    const counts = { ours: new Set<number>(), baseline: new Set<number>() }
    for (let b = 0; b < blocks; b++) {
      for (const [side, socket] of [['baseline', theirs], ['ours', ours]] as const) {
        const cpu0 = cpuSeconds(pids[side])
        for (let i = 0; i < perBlock; i++) {
          const round = await catchUp(socket, sync, false)
          times[side].push(round.ms)
          counts[side].add(round.frames)
        }
        cpu[side] += cpuSeconds(pids[side]) - cpu0
      }
    }
    const rounds = blocks * perBlock
    const read = await ourRead(ctx.databaseUrl, readerId, roomId, ctx.quick ? 5 : 20)
    const baselinePlan = await (await fetch(`${bare.base}/explain?room=${roomId}&after=${SEEN}`)).text()
    const baselineSqlMs = Number(/Execution Time: ([\d.]+)/.exec(baselinePlan)?.[1] ?? NaN)
    const split = await (await fetch(`${bare.base}/timings`)).json() as { query: number[], send: number[] }
    // The baseline kept every sync's split; the measured rounds are its last ones.
    const measured = { query: split.query.slice(-rounds), send: split.send.slice(-rounds) }
    const cpuMs = { ours: cpu.ours * 1000 / rounds, baseline: cpu.baseline * 1000 / rounds }
    const same = first.ours.texts.filter((text, i) => text === first.baseline.texts[i]).length
    const firstDiff = first.ours.texts.findIndex((text, i) => text !== first.baseline.texts[i])
    const result = {
      ours: { mean: mean(times.ours), p50: percentile(times.ours, 50), p99: percentile(times.ours, 99), frames: [...counts.ours], bytes: first.ours.bytes },
      baseline: { mean: mean(times.baseline), p50: percentile(times.baseline, 50), p99: percentile(times.baseline, 99), frames: [...counts.baseline], bytes: first.baseline.bytes }
    }
    ctx.details.P10 = {
      seen: SEEN,
      missed: MISSED,
      rounds,
      cpuMsPerCatchUp: cpuMs,
      baselineSplit: measured,
      ourRead: read,
      baselinePlan,
      warm,
      ...result,
      times,
      identicalFrames: same,
      firstDifference: firstDiff < 0 ? null : { index: firstDiff, ours: first.ours.texts[firstDiff], baseline: first.baseline.texts[firstDiff] }
    }
    ctx.log(`P10: ours ${result.ours.mean.toFixed(1)} ms (p99 ${result.ours.p99.toFixed(1)}), baseline ${result.baseline.mean.toFixed(1)} ms (p99 ${result.baseline.p99.toFixed(1)}); ${same}/${first.ours.frames} frames identical`)
    const problems = [
      counts.ours.size !== 1 || !counts.ours.has(MISSED) ? `ours sent ${[...counts.ours].join('/')} frames, not ${MISSED}` : '',
      counts.baseline.size !== 1 || !counts.baseline.has(MISSED) ? `baseline sent ${[...counts.baseline].join('/')} frames` : ''
    ].filter(Boolean).join('; ')
    const note = `${rounds} rounds a side; ${same}/${MISSED} frames byte-identical to the baseline's, ` +
      `${(result.ours.bytes / 1024).toFixed(0)} KiB vs ${(result.baseline.bytes / 1024).toFixed(0)} KiB` + (problems === '' ? '' : `; ${problems}`)
    return [
      row('P10', 'catch-up 1,000 frames/s (1,000 ÷ mean send → sync:done)', 'frames/s', MISSED / result.ours.mean * 1000, MISSED / result.baseline.mean * 1000, { on: 'ratio', op: '>=', value: 0.5 }, note),
      row('P10', 'catch-up send → sync:done p99 ms', 'ms', result.ours.p99, result.baseline.p99, { on: 'ratio', op: '<=', value: 2 },
        `mean ${result.ours.mean.toFixed(1)} vs ${result.baseline.mean.toFixed(1)} ms, p50 ${result.ours.p50.toFixed(1)} vs ${result.baseline.p50.toFixed(1)} ms; ` +
        `server CPU per catch-up ${cpuMs.ours.toFixed(1)} vs ${cpuMs.baseline.toFixed(1)} ms (PostgreSQL's not counted); ` +
        `baseline's pg read ${mean(measured.query).toFixed(1)} ms + frames built and sent ${mean(measured.send).toFixed(1)} ms; ` +
        `our read alone (roomCatchUp, ${read.plans.length} queries) ${percentile(read.ms, 50).toFixed(1)} ms median; ` +
        `EXPLAIN ANALYZE execution: ours ${read.plans.map(p => p.ms.toFixed(1)).join(' + ')} ms, baseline ${baselineSqlMs.toFixed(1)} ms`)
    ]
  } finally {
    for (const socket of sockets) socket.terminate()
    await stop(bare.child)
  }
}
