import { type Context, startBaseline } from '../lib/context.js'
import { best, load, type LoadOptions, type LoadResult, warmUp } from '../lib/load.js'
import { stop } from '../lib/proc.js'
import { row, type Row } from '../lib/report.js'

interface Timing { rounds: number, warm: number, seconds: number }
const timing = (ctx: Context): Timing => (ctx.quick ? { rounds: 1, warm: 1, seconds: 2 } : { rounds: 2, warm: 3, seconds: 10 })

/** Baseline and ours, alternately, `rounds` times each after one warm-up each; the best run of each side. */
async function compare (ctx: Context, label: string, baseline: LoadOptions, ours: LoadOptions): Promise<{ ours: LoadResult, baseline: LoadResult }> {
  const t = timing(ctx)
  await warmUp(baseline, t.warm)
  await warmUp(ours, t.warm)
  const runs: { ours: LoadResult[], baseline: LoadResult[] } = { ours: [], baseline: [] }
  for (let i = 0; i < t.rounds; i++) {
    runs.baseline.push(await load({ ...baseline, seconds: t.seconds }))
    runs.ours.push(await load({ ...ours, seconds: t.seconds }))
    ctx.log(`${label} round ${i + 1}: ours ${Math.round(runs.ours.at(-1)!.rps)} req/s, baseline ${Math.round(runs.baseline.at(-1)!.rps)} req/s`)
  }
  ctx.details[label] = runs
  return { ours: best(runs.ours), baseline: best(runs.baseline) }
}

function failures (result: { ours: LoadResult, baseline: LoadResult }): string | undefined {
  if (result.ours.failed === 0 && result.baseline.failed === 0) return undefined
  return `failed requests: ours ${result.ours.failed}, baseline ${result.baseline.failed}`
}

/** P1: GET /health/live through every plugin and hook vs bare fastify hello-world. */
export async function p1 (ctx: Context): Promise<Row[]> {
  const server = await ctx.shared()
  const bare = await startBaseline('hello.ts')
  try {
    const connections = 50
    const result = await compare(ctx, 'P1', { url: bare.base + '/', connections, seconds: 1 }, { url: server.base + '/health/live', connections, seconds: 1 })
    return [row('P1', 'GET /health/live req/s', 'req/s', result.ours.rps, result.baseline.rps, { on: 'ratio', op: '>=', value: 0.9 }, failures(result))]
  } finally {
    await stop(bare.child)
  }
}

async function api<T> (base: string, path: string, body: unknown, token?: string): Promise<T> {
  const post = async (): Promise<Response> => await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000)
  })
  let response = await post()
  // A server just started on a busy machine may shed load for a moment (503 OVERLOADED): the set-up waits it out.
  for (let i = 0; i < 20 && response.status === 503; i++) {
    await new Promise(resolve => setTimeout(resolve, 500))
    response = await post()
  }
  const text = await response.text()
  if (response.status >= 300) throw new Error(`POST ${path}: ${response.status} ${text}`)
  return JSON.parse(text) as T
}

/** Registers and logs in a user, and creates a room, through the API. */
export async function signUpWithRoom (base: string, name: string): Promise<{ token: string, userId: number, roomId: number, email: string, password: string }> {
  const email = `${name}.${process.pid}.${Date.now()}@bench.invalid`
  const password = 'a bench password that is long enough'
  await api(base, '/api/v1/users/register', { email, username: name, password })
  const { token, user } = await api<{ token: string, user: { id: number } }>(base, '/api/v1/users/login', { email, password })
  const room = await api<{ id: number }>(base, '/api/v1/rooms', { name: `${name} room` }, token)
  return { token, userId: user.id, roomId: room.id, email, password }
}

/** Rooms the spread case of P2 sends to. */
const P2_ROOMS = 16

/**
 * P2: POST /api/v1/messages vs bare fastify + pg doing one plain INSERT … RETURNING joined to the
 * author (no seq, no membership check) on a pool with the same settings: the send path against the
 * physical limit. Two cases in the same run: each send to the next of 16 rooms, and every send to
 * one hot room (where the room's counter row serializes them).
 */
export async function p2 (ctx: Context): Promise<Row[]> {
  const server = await ctx.shared()
  let bare
  try {
    const { token, userId, roomId } = await signUpWithRoom(server.base, 'p2sender')
    const rooms = [roomId]
    for (let i = 1; i < P2_ROOMS; i++) rooms.push((await api<{ id: number }>(server.base, '/api/v1/rooms', { name: `p2 room ${i}` }, token)).id)
    bare = await startBaseline('insert.ts', { DATABASE_URL: ctx.databaseUrl, BENCH_USER_ID: String(userId) })
    const content = 'A message of ordinary length, sent by the benchmark.'
    const connections = 20
    const ours = { url: server.base + '/api/v1/messages', method: 'POST', headers: { authorization: `Bearer ${token}` }, connections, seconds: 1 } as const
    const baseline = { url: bare.base + '/', method: 'POST', connections, seconds: 1 } as const
    const rows: Row[] = []
    for (const [label, name, bodies] of [
      ['P2', `${P2_ROOMS} rooms`, rooms.map(room => JSON.stringify({ room_id: room, content }))],
      ['P2 hot', 'one room', [JSON.stringify({ room_id: roomId, content })]]
    ] as const) {
      const result = await compare(ctx, label, { ...baseline, bodies: [...bodies] }, { ...ours, bodies: [...bodies] })
      rows.push(
        row('P2', `POST /messages, ${name}: req/s`, 'req/s', result.ours.rps, result.baseline.rps, { on: 'ratio', op: '>=', value: 0.5 }, failures(result)),
        row('P2', `POST /messages, ${name}: p99 ms`, 'ms', result.ours.p99, result.baseline.p99)
      )
    }
    return rows
  } finally {
    if (bare !== undefined) await stop(bare.child)
  }
}
