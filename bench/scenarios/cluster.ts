import type WebSocket from 'ws'
import { type ChatServer, type Context, startChatServer } from '../lib/context.js'
import { type Seeded, seedRoom, signToken } from '../lib/db.js'
import { percentile } from '../lib/load.js'
import { freePort, sleep, startProcess, stop, waitOutput } from '../lib/proc.js'
import { row, skipped, type Row } from '../lib/report.js'
import { closeFleet, MARK, openFleet } from '../lib/sockets.js'

/**
 * P4: two instances on one database sharing Redis, the clients split across them, vs the same
 * load on one instance, in the same run.
 *
 * ROOMS rooms of PER_ROOM members, one socket per member. In each room two members send (with
 * two instances: one on each), each keeping WINDOW messages in flight; every message goes to the
 * room's PER_ROOM sockets. Several rooms, because sends to one room are serialized by its
 * `rooms.last_seq` row: one room would measure the database, not the instances.
 */
const ROOMS = 4
const WINDOW = 4

interface Member { socket: WebSocket, room: number, instance: number }

/** What happened to one message. */
interface Flight {
  from: number
  sentAt: number
  room: number
  count: number
  /** Per instance: when the last of its sockets in the room got it. */
  lastAt: number[]
  done: () => void
}

interface ClusterResult {
  deliveriesPerSecond: number
  messagesPerSecond: number
  /** Send → last delivery on the sender's instance, and on the other one, ms (latency phase). */
  sameP99: number
  otherP99: number
  sameP50: number
  otherP50: number
  lost: number
  /** `error` frames the sockets got. */
  errors: string[]
}

/**
 * Sends from the senders and times deliveries. Latency phase: one message at a time, senders
 * taking turns. Throughput phase: every sender keeps WINDOW in flight until `messages` are delivered.
 */
async function measure (members: Member[], senders: Member[], roomSize: number, latencyMessages: number, messages: number, timeoutMs: number): Promise<ClusterResult> {
  const flights = new Map<number, Flight>()
  const errors: string[] = []
  const marker = Buffer.from(MARK)
  const listeners = members.map(member => {
    const onMessage = (data: WebSocket.RawData): void => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data)
      const at = buf.indexOf(marker)
      if (at < 0) {
        if (buf.includes('"type":"error"')) errors.push(buf.toString())
        return
      }
      const flight = flights.get(Number(buf.toString('latin1', at + marker.length, buf.indexOf(35, at + marker.length))))
      if (flight === undefined) return
      flight.lastAt[member.instance] = performance.now()
      if (++flight.count === roomSize) flight.done()
    }
    member.socket.on('message', onMessage)
    return { member, onMessage }
  })
  let seq = 0
  const tally = { lost: 0 }
  const send = async (sender: Member): Promise<Flight | undefined> => {
    const id = ++seq
    let timer: NodeJS.Timeout | undefined
    const delivered = new Promise<boolean>(resolve => {
      flights.set(id, { from: sender.instance, sentAt: performance.now(), room: sender.room, count: 0, lastAt: [NaN, NaN], done: () => resolve(true) })
      timer = setTimeout(() => resolve(false), timeoutMs)
    })
    sender.socket.send(JSON.stringify({ type: 'message:send', payload: { room_id: sender.room, content: `${MARK}${id}# hello from instance ${sender.instance}, a cluster benchmark message` } }))
    const ok = await delivered
    clearTimeout(timer)
    const flight = flights.get(id)
    flights.delete(id)
    if (!ok) tally.lost++
    return ok ? flight : undefined
  }
  try {
    const same: number[] = []
    const other: number[] = []
    for (let i = 0; i < latencyMessages && tally.lost < 3; i++) {
      const flight = await send(senders[i % senders.length]!)
      if (flight !== undefined) {
        for (let instance = 0; instance < 2; instance++) {
          const ms = flight.lastAt[instance]! - flight.sentAt
          if (!Number.isNaN(ms)) (instance === flight.from ? same : other).push(ms)
        }
      }
      await sleep(5)
    }
    let sent = 0
    let delivered = 0
    const started = performance.now()
    await Promise.all(senders.flatMap(sender => Array.from({ length: WINDOW }, async () => {
      while (sent < messages && tally.lost < 3) {
        sent++
        if (await send(sender) !== undefined) delivered++
      }
    })))
    const seconds = (performance.now() - started) / 1000
    return {
      deliveriesPerSecond: delivered * roomSize / seconds,
      messagesPerSecond: delivered / seconds,
      sameP50: percentile(same, 50),
      sameP99: percentile(same, 99),
      otherP50: percentile(other, 50),
      otherP99: percentile(other, 99),
      lost: tally.lost,
      errors
    }
  } finally {
    for (const { member, onMessage } of listeners) member.socket.off('message', onMessage)
  }
}

/** A throwaway redis-server (BENCH_REDIS_URL instead, when set). */
async function startRedis (): Promise<{ url: string, stop: () => Promise<void> }> {
  const given = process.env.BENCH_REDIS_URL
  if (given !== undefined && given !== '') return { url: given, stop: async () => {} }
  const port = await freePort()
  const child = startProcess('redis-server', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'])
  try {
    await waitOutput(child, 'Ready to accept connections', 10_000)
  } catch (err) {
    await stop(child)
    throw err
  }
  return { url: `redis://127.0.0.1:${port}`, stop: async () => { await stop(child) } }
}

export async function p4 (ctx: Context): Promise<Row[]> {
  const perRoom = ctx.quick ? 20 : 50
  const latencyMessages = ctx.quick ? 10 : 100
  const messages = ctx.quick ? 40 : 3000
  const timeoutMs = 10_000
  let redis
  try {
    redis = await startRedis()
  } catch (err) {
    return [skipped('P4', 'two instances over Redis', `skipped: no Redis (${(err as Error).message.split('\n')[0]}); set BENCH_REDIS_URL`)]
  }
  const servers: ChatServer[] = []
  try {
    const env = { REDIS_URL: redis.url }
    // The first server migrates the run's database.
    servers.push(await startChatServer({ databaseUrl: ctx.databaseUrl, env }))
    const rooms: Seeded[] = []
    for (let r = 0; r < ROOMS; r++) rooms.push(await seedRoom(ctx.databaseUrl, `p4r${r}user`, perRoom))

    /** Opens every member's socket: the members at even positions on `a`, the others on `b`; two senders per room (positions 0 and 1). */
    const run = async (a: ChatServer, b: ChatServer): Promise<ClusterResult> => {
      const plan = rooms.flatMap(({ roomId, userIds }) => userIds.map((id, i) => ({ id, room: roomId, instance: a === b ? 0 : i % 2, position: i })))
      const sockets = await openFleet(plan.map(p => `ws://127.0.0.1:${(p.instance === 0 ? a : b).port}/ws?token=${signToken(p.id)}`), 50, 60_000)
      try {
        const members = plan.map((p, i) => ({ socket: sockets[i]!, room: p.room, instance: p.instance, position: p.position }))
        const senders = members.filter(m => m.position < 2)
        // Presence announcements of the sockets just opened settle, and both instances warm up.
        await sleep(1000)
        await measure(members, senders, perRoom, 0, messages / 4, timeoutMs)
        return await measure(members, senders, perRoom, latencyMessages, messages, timeoutMs)
      } finally {
        closeFleet(sockets)
        await sleep(500)
      }
    }
    const one = await run(servers[0]!, servers[0]!)
    servers.push(await startChatServer({ databaseUrl: ctx.databaseUrl, env }))
    const two = await run(servers[0]!, servers[1]!)
    ctx.details.P4 = { rooms: ROOMS, perRoom, window: WINDOW, sendersPerRoom: 2, messages, latencyMessages, one, two }
    ctx.log(`P4: one instance ${Math.round(one.deliveriesPerSecond)} deliveries/s, two ${Math.round(two.deliveriesPerSecond)}; p99 same instance ${two.sameP99.toFixed(1)} ms, other instance ${two.otherP99.toFixed(1)} ms`)
    const lost = one.lost + two.lost
    const errors = [...one.errors, ...two.errors]
    return [
      row('P4', 'two instances vs one, deliveries/s', 'deliveries/s', two.deliveriesPerSecond, one.deliveriesPerSecond, { on: 'ratio', op: '>=', value: 1.6 },
        `${ROOMS} rooms × ${perRoom} sockets, 2 senders per room × ${WINDOW} in flight` + (lost > 0 ? `; ${lost} messages not delivered to every socket` : '') +
        (errors.length > 0 ? `; ${errors.length} error frames, e.g. ${errors[0]}` : '')),
      row('P4', 'send → delivery p99 ms: other instance (vs same)', 'ms', two.otherP99, two.sameP99, undefined),
      row('P4', 'Redis adds (p99 other − same) ms', 'ms', two.otherP99 - two.sameP99, null, { on: 'ours', op: '<=', value: 5 })
    ]
  } finally {
    for (const server of servers) await stop(server.child)
    await redis.stop()
  }
}
