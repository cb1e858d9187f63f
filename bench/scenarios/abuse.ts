import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type WebSocket from 'ws'
import type { AbuserResult } from '../clients/abuser.js'
import { childEnv, type ChatServer, type Context, startChatServer } from '../lib/context.js'
import { seedMessages, seedRoom, signToken } from '../lib/db.js'
import { paced, type PacedResult, percentile } from '../lib/load.js'
import { sleep, startTs, stop, waitOutput } from '../lib/proc.js'
import { row, type Row } from '../lib/report.js'
import { openSocket } from '../lib/sockets.js'

/** Messages in the abuser's room: each `sync {room: 0}` replays all of them (the most a catch-up sends is 1,000). */
const ABUSER_HISTORY = 1000
const VICTIM_HISTORY = 200
/** Sockets the abuser tries to open (the server's default cap is WS_MAX_SOCKETS_PER_USER=20). */
const ABUSER_SOCKETS = 60
/** `sync` frames each abuser socket keeps outstanding. */
const ABUSER_WINDOW = 8
/** The abuser's reopening phase: openings per second in all, the average the default RATE_LIMIT_GLOBAL (300 a minute) lets through. */
const REOPEN_PER_SECOND = 5
/** The victim's light load: history pages and socket sends per second. */
const READS_PER_SECOND = 20
const SENDS_PER_SECOND = 2
/**
 * The server runs with the rate limits on (their defaults: RATE_LIMIT_WS_FRAMES=600,
 * WS_MAX_SOCKETS_PER_USER=20, WS_MAX_SOCKETS_PER_ADDRESS=200, RATE_LIMIT_MESSAGES=30 per 10 s)
 * except the REST global limit: the victim reads 20 pages a second (2,400 in the run's two
 * minutes), past the default 300 a minute per user, so it is raised for everyone. The abuser opens
 * 60 sockets (upgrades count in that limit), far below 300, so raising it gives the abuser nothing
 * in the main phase; the reopening phase paces the abuser itself to 5 openings a second.
 */
// The socket caps at their defaults (the bench's servers raise them for P3 and P7), the rate limits on but the global one.
const SERVER_ENV = { RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_GLOBAL: '1000000', WS_MAX_SOCKETS_PER_USER: '20', WS_MAX_SOCKETS_PER_ADDRESS: '200' }

interface VictimRun {
  reads: PacedResult
  /** send → own `message:new`, ms */
  deliveries: number[]
  sends: number
  lost: number
  /** `error` frames the victim's socket got. */
  errorFrames: number
}

/** Ids of the victim's messages, unique over the run. */
let sentIds = 0

interface Tally { errors: number, warnings: Record<string, number> }

/**
 * The victim's light load for `seconds`: READS_PER_SECOND history pages (open loop) and
 * SENDS_PER_SECOND `message:send` frames on its socket, each timed until its own `message:new`.
 */
async function victimLoad (server: ChatServer, socket: WebSocket, roomId: number, token: string, seconds: number): Promise<VictimRun> {
  const waiting = new Map<number, (at: number) => void>()
  let errorFrames = 0
  const onMessage = (data: Buffer): void => {
    const text = data.toString('utf8')
    if (text.startsWith('{"type":"error"')) errorFrames++
    const match = /p14#(\d+)#/.exec(text)
    if (match !== null) waiting.get(Number(match[1]))?.(performance.now())
  }
  socket.on('message', onMessage)
  const deliveries: number[] = []
  let sends = 0
  let lost = 0
  /** Sends message `id` and waits (up to 5 s) for the victim's own socket to get it back. */
  const sendOne = async (id: number): Promise<void> => {
    let timer: NodeJS.Timeout | undefined
    const delivered = new Promise<number>(resolve => { waiting.set(id, resolve) })
    const sent = performance.now()
    socket.send(JSON.stringify({ type: 'message:send', payload: { room_id: roomId, content: `p14#${id}# the victim says hello` } }))
    const at = await Promise.race([delivered, new Promise<undefined>(resolve => { timer = setTimeout(() => resolve(undefined), 5000) })])
    clearTimeout(timer)
    waiting.delete(id)
    if (at === undefined) lost++
    else deliveries.push(at - sent)
  }
  const sender = (async () => {
    const total = Math.max(1, Math.round(seconds * SENDS_PER_SECOND))
    const started = performance.now()
    const inFlight: Array<Promise<void>> = []
    for (let i = 0; i < total; i++) {
      const wait = started + i * (1000 / SENDS_PER_SECOND) - performance.now()
      if (wait > 0) await sleep(wait)
      inFlight.push(sendOne(++sentIds))
      sends++
    }
    await Promise.all(inFlight)
  })()
  try {
    const reads = await paced(`${server.base}/api/v1/rooms/${roomId}/messages?limit=50`, { perSecond: READS_PER_SECOND, seconds, headers: { authorization: `Bearer ${token}` } })
    await sender
    return { reads, deliveries, sends, lost, errorFrames }
  } finally {
    socket.off('message', onMessage)
  }
}

/**
 * Opens the victim's socket; a server that just started on a busy machine may shed the upgrade
 * with 503 (its event loop lagged past OVERLOAD_MAX_EVENT_LOOP_DELAY_MS): tried for up to 10 s.
 */
async function openRetrying (url: string): Promise<WebSocket> {
  const deadline = Date.now() + 10_000
  for (;;) {
    try {
      return await openSocket(url)
    } catch (err) {
      if (Date.now() > deadline || !(err as Error).message.includes('503')) throw err
      await sleep(250)
    }
  }
}

/** Runs bench/clients/abuser.ts against the server for `seconds` while the victim's load runs; returns both. */
async function abused (
  ctx: Context, server: ChatServer, abuser: { token: string, roomId: number }, victim: () => Promise<VictimRun>, seconds: number, reopenPerSecond: number
): Promise<{ victim: VictimRun, abuser: AbuserResult }> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-p14-'))
  const out = join(dir, 'abuser.json')
  const child = startTs('abuser', 'bench/clients/abuser.ts', childEnv({
    ABUSE_URL: `ws://127.0.0.1:${server.port}/ws?token=${abuser.token}`,
    ABUSE_ROOM: String(abuser.roomId),
    ABUSE_SOCKETS: String(ABUSER_SOCKETS),
    // A little longer than the victim's run, so abuse covers all of it.
    ABUSE_SECONDS: String(seconds + 0.5),
    ABUSE_WINDOW: String(ABUSER_WINDOW),
    ABUSE_REOPEN_PER_SECOND: String(reopenPerSecond),
    ABUSE_OUT: out
  }))
  try {
    await waitOutput(child, 'ABUSER STARTED', 30_000)
    const run = await victim()
    const code = await Promise.race([child.exited, sleep(30_000).then(() => 'timeout')])
    if (code !== 0) throw new Error(`the abuser ended with ${String(code)}:\n  ${child.output.slice(-10).join('\n  ')}`)
    const result = JSON.parse(readFileSync(out, 'utf8')) as AbuserResult
    ctx.log(`P14: abuser (reopening ${reopenPerSecond}/s) opened ${result.opened}, ${result.framesSent} frames, ${result.syncDone} sync:done, ` +
      `${result.rateLimited} RATE_LIMITED, ${(result.bytes / 1e6).toFixed(1)} MB; closes ${JSON.stringify(result.closes)}`)
    return { victim: run, abuser: result }
  } finally {
    await stop(child)
    rmSync(dir, { recursive: true, force: true })
  }
}

/** What the abuser managed, in one line for the notes. */
function managed (result: AbuserResult): string {
  const closes = Object.entries(result.closes).map(([key, n]) => `${n}× ${key}`).join(', ')
  const refused = Object.entries(result.refused).map(([key, n]) => `${n}× ${key}`).join(', ')
  const other = Object.entries(result.otherErrors).map(([key, n]) => `${n}× ${key}`).join(', ')
  return `abuser opened ${result.opened} sockets (${result.served} served, at most ${result.maxServedAtOnce} at once), sent ${result.framesSent} sync frames, ` +
    `got ${result.syncDone} sync:done, ${result.rows} rows, ${result.rateLimited} RATE_LIMITED, ${(result.bytes / 1e6).toFixed(1)} MB ` +
    `(the last ${result.lastByteAt.toFixed(1)} s after it started; it stopped after ${result.seconds.toFixed(1)} s)` +
    `${other === '' ? '' : `, other errors: ${other}`}; closed by the server: ${closes === '' ? 'none' : closes}${refused === '' ? '' : `; upgrades refused: ${refused}`}`
}

function victimNote (run: VictimRun): string | undefined {
  const problems = [
    run.reads.failed > 0 ? `${run.reads.failed} of ${run.reads.sent} reads failed (${JSON.stringify(run.reads.statuses)})` : '',
    run.lost > 0 ? `${run.lost} of ${run.sends} sends not delivered within 5 s` : '',
    run.errorFrames > 0 ? `${run.errorFrames} error frames on the victim's socket` : ''
  ].filter(Boolean)
  return problems.length === 0 ? undefined : problems.join('; ')
}

/**
 * P14: one abusive WebSocket user against another user's latency. The victim reads its room's
 * newest page 20 times a second and sends 2 messages a second over its socket, first alone
 * (baseline), then while the abuser opens 60 sockets and makes each replay a room of 1,000
 * messages (`sync {room: 0}`) as fast as it is answered; then again with the abuser reopening
 * closed sockets at 5 a second. Rate limits on (see SERVER_ENV).
 */
export async function p14 (ctx: Context): Promise<Row[]> {
  const seconds = ctx.quick ? 2 : 12
  // Ready when GET /health answers 200: /health/live is exempt from load shedding, and a server that
  // just started on a busy machine sheds requests with 503 for a moment (its event loop lags).
  const server = await startChatServer({ databaseUrl: ctx.databaseUrl, env: SERVER_ENV, healthPath: '/health' })
  const tally: Tally = { errors: 0, warnings: {} }
  const watch = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (/"level":(50|60)/.test(line)) tally.errors++
      else if (line.includes('"level":40')) {
        const msg = /"msg":"([^"]{0,80})/.exec(line)?.[1] ?? 'warning'
        tally.warnings[msg] = (tally.warnings[msg] ?? 0) + 1
      }
    }
  }
  server.child.proc.stdout?.on('data', watch)
  server.child.proc.stderr?.on('data', watch)
  let socket: WebSocket | undefined
  try {
    // Two abusers, each with its own frame budget: the second phase must not start on the debt the first one left.
    const abusers = []
    for (const name of ['p14abuser', 'p14reopener']) {
      const seeded = await seedRoom(ctx.databaseUrl, name, 1)
      await seedMessages(ctx.databaseUrl, seeded.roomId, seeded.userIds[0]!, ABUSER_HISTORY)
      abusers.push({ token: signToken(seeded.userIds[0]!), roomId: seeded.roomId })
    }
    const victimSeed = await seedRoom(ctx.databaseUrl, 'p14victim', 1)
    await seedMessages(ctx.databaseUrl, victimSeed.roomId, victimSeed.userIds[0]!, VICTIM_HISTORY)
    const victimToken = signToken(victimSeed.userIds[0]!)
    socket = await openRetrying(`ws://127.0.0.1:${server.port}/ws?token=${victimToken}`)
    const open = socket
    const victim = async (s: number): Promise<VictimRun> => await victimLoad(server, open, victimSeed.roomId, victimToken, s)
    // What the server still owes the abuser's closed sockets is dropped; let it settle between phases.
    const settle = async (): Promise<void> => { await sleep(ctx.quick ? 500 : 2000) }

    await victim(ctx.quick ? 1 : 2) // warm-up
    const baseline = await victim(seconds)
    const attack = await abused(ctx, server, abusers[0]!, async () => await victim(seconds), seconds, 0)
    await settle()
    const reopening = await abused(ctx, server, abusers[1]!, async () => await victim(seconds), seconds, REOPEN_PER_SECOND)
    await settle()
    const after = await victim(seconds)

    const p = (run: VictimRun, q: number): number => percentile(run.reads.latencies, q)
    const d = (run: VictimRun, q: number): number => percentile(run.deliveries, q)
    const runs = { baseline, attack: attack.victim, reopening: reopening.victim, after }
    ctx.details.P14 = {
      seconds,
      serverEnv: SERVER_ENV,
      victim: { readsPerSecond: READS_PER_SECOND, sendsPerSecond: SENDS_PER_SECOND },
      abuser: { sockets: ABUSER_SOCKETS, window: ABUSER_WINDOW, history: ABUSER_HISTORY, reopenPerSecond: REOPEN_PER_SECOND },
      summary: Object.fromEntries(Object.entries(runs).map(([name, run]) => [name, {
        reads: { sent: run.reads.sent, ok: run.reads.latencies.length, failed: run.reads.failed, statuses: run.reads.statuses, p50: p(run, 50), p99: p(run, 99), max: p(run, 100), timeline: run.reads.timeline },
        deliveries: { sent: run.sends, lost: run.lost, p50: d(run, 50), p99: d(run, 99), max: d(run, 100) },
        errorFrames: run.errorFrames
      }])),
      abuserResult: { attack: attack.abuser, reopening: reopening.abuser },
      serverLog: tally
    }
    ctx.log(`P14: victim read p99 ${p(baseline, 99).toFixed(1)} ms alone, ${p(attack.victim, 99).toFixed(1)} ms abused, ` +
      `${p(reopening.victim, 99).toFixed(1)} ms with reopening, ${p(after, 99).toFixed(1)} ms alone again`)
    socket.terminate()
    // How the server stops after this is part of the result: SIGTERM, as the other scenarios stop theirs.
    const stopping = Date.now()
    await stop(server.child)
    const stopSeconds = (Date.now() - stopping) / 1000
    const warnings = Object.entries(tally.warnings).map(([msg, n]) => `${n}× "${msg}"`).join(', ')
    const serverNote = `server log: ${tally.errors} errors${warnings === '' ? '' : `, warnings ${warnings}`}; ` +
      `stopped ${stopSeconds.toFixed(1)} s after SIGTERM (exit ${String(server.child.exitCode)})`
    ctx.details.P14 = { ...ctx.details.P14 as object, stopSeconds, exitCode: server.child.exitCode }
    const failed = (run: VictimRun): number => run.reads.failed + run.lost
    return [
      row('P14', 'victim history p99 ms, abused vs alone', 'ms', p(attack.victim, 99), p(baseline, 99), { on: 'ratio', op: '<=', value: 2 }, victimNote(attack.victim)),
      row('P14', 'victim history p50 ms, abused vs alone', 'ms', p(attack.victim, 50), p(baseline, 50)),
      row('P14', 'victim send → delivery p99 ms, abused vs alone', 'ms', d(attack.victim, 99), d(baseline, 99)),
      row('P14', 'victim reads failed + sends lost, abused (alone)', 'requests', failed(attack.victim), failed(baseline), { on: 'ours', op: '<=', value: 0 }, victimNote(baseline)),
      // Per second of the phase (the victim's measurement), however soon the abuser was shut out.
      row('P14', 'abuser bytes/s received', 'B/s', attack.abuser.bytes / seconds, null, undefined, managed(attack.abuser)),
      // The cap is on sockets open at the same time: once some are closed (1008), later ones are let in.
      row('P14', `abuser sockets accepted at once (of ${ABUSER_SOCKETS} tried)`, 'sockets', attack.abuser.maxServedAtOnce, null, { on: 'ours', op: '<=', value: 20 }, serverNote),
      row('P14', `victim history p99 ms, abuser reopening ${REOPEN_PER_SECOND}/s vs alone`, 'ms', p(reopening.victim, 99), p(baseline, 99), { on: 'ratio', op: '<=', value: 2 }, victimNote(reopening.victim)),
      row('P14', `abuser reopening ${REOPEN_PER_SECOND}/s bytes/s received`, 'B/s', reopening.abuser.bytes / seconds, null, undefined, managed(reopening.abuser)),
      row('P14', 'victim history p99 ms, alone again after vs before', 'ms', p(after, 99), p(baseline, 99), undefined, victimNote(after) ?? 'no target: how much the same light load moves on its own in this run')
    ]
  } finally {
    socket?.terminate()
    await stop(server.child)
  }
}
