// The delivery model test (issue 12, item 8): random sends from two instances (REST on either,
// WebSocket on the sender's socket, racing), random socket drops and reconnects with `since`, and
// in some runs a Redis restart in the middle. At the end every member's client (its sockets one
// after the other) has seen every feed frame of its rooms exactly once, in seq order: 1..last_seq.
// 50 runs by default (npm test keeps to its time); MODEL_RUNS=n for more (`npm run test:model`), MODEL_SEED=s to replay a seed.
import type { FastifyInstance } from 'fastify'
import fc from 'fast-check'
import { sql } from 'kysely'
import t from 'tap'
import { lastSeqsOfRooms } from '../../../db/rooms.js'
import { buildApp } from '../../../src/app.js'
import { createRoom, freshDatabase, joinRoom, type Session, signUp, testConfig } from '../../helper.js'
import { type Frame, listen, PrivateRedis, TestSocket } from '../../ws-client.js'

const USERS = 3
const ROOMS = 2
const RUNS = Number(process.env.MODEL_RUNS ?? 50)
const SEED = process.env.MODEL_SEED === undefined ? undefined : Number(process.env.MODEL_SEED)
// A run takes about 0.1 s here (one with a Redis restart about 1 s): room to spare on a busy machine.
t.setTimeout(Math.max(120_000, RUNS * 600))

type Step =
  | { kind: 'send', user: number, room: number, via: 'rest-a' | 'rest-b' | 'ws', count: number }
  | { kind: 'drop', user: number }
  | { kind: 'reconnect', user: number, instance: number }
  | { kind: 'settle' }

const user = fc.nat({ max: USERS - 1 })
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('send' as const), user, room: fc.nat({ max: ROOMS - 1 }), via: fc.constantFrom('rest-a' as const, 'rest-b' as const, 'ws' as const), count: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('drop' as const), user }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('reconnect' as const), user, instance: fc.nat({ max: 1 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('settle' as const) }) }
)
const scenario = fc.record({
  // Users 1 and 2 are in some of the rooms (user 0, their creator, in all).
  memberOf: fc.array(fc.subarray(Array.from({ length: ROOMS }, (_, i) => i), { minLength: 1 }), { minLength: USERS - 1, maxLength: USERS - 1 }),
  startOn: fc.array(fc.nat({ max: 1 }), { minLength: USERS, maxLength: USERS }),
  steps: fc.array(step, { minLength: 3, maxLength: 14 }),
  // Before which step Redis is restarted, in about one run in five.
  restartAt: fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.nat({ max: 13 }) })
})

/** One user's client: its sockets one after the other; `cut` is how many frames a dropped socket had received when it was dropped. */
interface Client {
  user: Session
  rooms: number[]
  sockets: Array<{ socket: TestSocket, cut: number | undefined, pending: string[] }>
}

/** The seqs of the room's feed frames the client has seen, over all its sockets, in the order they came. */
function seen (client: Client, roomId: number): number[] {
  return client.sockets.flatMap(({ socket, cut }) => socket.received.slice(0, cut)
    .filter((f: Frame) => f.payload?.room_id === roomId && typeof f.payload?.seq === 'number')
    .map(f => f.payload.seq as number))
}
const lastSeen = (client: Client, roomId: number): number => seen(client, roomId).at(-1) ?? 0
const open = (client: Client): Client['sockets'][number] | undefined => {
  const last = client.sockets.at(-1)
  return last?.cut === undefined ? last : undefined
}

/** Waits until the socket has received a frame that matches (already, or later). */
async function received (socket: TestSocket, match: (f: Frame) => boolean, what: string): Promise<void> {
  if (socket.received.some(match)) return
  await socket.next(match, what)
}

t.test(`delivery model: ${RUNS} runs of random sends, drops, reconnects and Redis restarts; every client sees 1..last_seq of its rooms once, in order`, async t => {
  const redis = await PrivateRedis.start(t)
  const databaseUrl = await freshDatabase(t)
  const instances: FastifyInstance[] = []
  const urls: string[] = []
  for (let i = 0; i < 2; i++) {
    // A short wait for a missing frame: the runs stay short, and the gap-filling path runs often.
    const app = buildApp(testConfig({ DATABASE_URL: databaseUrl, REDIS_URL: redis.url, FEED_GAP_WAIT_MS: '20' }), { logger: false })
    t.teardown(async () => { await app.close() })
    await app.ready()
    instances.push(app)
    urls.push(await listen(app))
  }
  const [a, b] = instances as [FastifyInstance, FastifyInstance]
  const users: Session[] = []
  for (let i = 0; i < USERS; i++) users.push(await signUp(a))

  let run = 0
  let restarts = 0
  const property = fc.asyncProperty(scenario, async ({ memberOf, startOn, steps, restartAt }) => {
    run++
    const roomIds: number[] = []
    for (let r = 0; r < ROOMS; r++) roomIds.push(await createRoom(a, users[0]!, `model ${run} ${r}`))
    const clients: Client[] = users.map((user, u) => ({ user, rooms: u === 0 ? roomIds : memberOf[u - 1]!.map(r => roomIds[r]!), sockets: [] }))
    for (const [u, client] of clients.entries()) for (const roomId of client.rooms) if (u > 0) await joinRoom(b, client.user, roomId)

    async function connect (client: Client, instance: number): Promise<void> {
      const since = client.rooms.map(roomId => `${roomId}:${lastSeen(client, roomId)}`).join(',')
      const socket = await TestSocket.open(t, `${urls[instance]!}?since=${since}`, { ws: { headers: { authorization: `Bearer ${client.user.token}` } } })
      client.sockets.push({ socket, cut: undefined, pending: [] })
    }
    /** Waits for the socket's own WebSocket sends to come back (so what is committed is known), then cuts what it received. */
    async function settleSocket (client: Client): Promise<Client['sockets'][number] | undefined> {
      const current = open(client)
      if (current === undefined) return undefined
      await Promise.all(current.pending.map(async content => {
        await received(current.socket, f => (f.type === 'message:new' && f.payload.content === content) || f.type === 'error', `the echo of "${content}"`)
      }))
      const refused = current.socket.all(f => f.type === 'error')
      if (refused.length > 0) throw new Error(`a frame was refused: ${JSON.stringify(refused)}`)
      current.pending = []
      return current
    }

    for (const [u, client] of clients.entries()) await connect(client, startOn[u]!)
    const rest: Array<Promise<unknown>> = []
    try {
      for (const [i, s] of steps.entries()) {
        if (i === restartAt) {
          restarts++
          await redis.restart()
        }
        if (s.kind === 'send') {
          const roomId = roomIds[s.room]!
          const members = clients.filter(c => c.rooms.includes(roomId))
          const client = members[s.user % members.length]!
          for (let n = 0; n < s.count; n++) {
            const content = `run ${run} step ${i} #${n}`
            const current = open(client)
            if (s.via === 'ws' && current !== undefined) {
              current.socket.send({ type: 'message:send', payload: { room_id: roomId, content } })
              current.pending.push(content)
            } else {
              rest.push((s.via === 'rest-b' ? b : a).inject({ method: 'POST', url: '/api/v1/messages', headers: client.user.auth, payload: { room_id: roomId, content } })
                .then(response => { if (response.statusCode !== 201) throw new Error(`send: ${response.statusCode} ${response.body}`) }))
            }
          }
        } else if (s.kind === 'drop') {
          const current = await settleSocket(clients[s.user]!)
          if (current !== undefined) {
            current.cut = current.socket.received.length
            current.socket.ws.terminate()
          }
        } else if (s.kind === 'reconnect') {
          const client = clients[s.user]!
          if (open(client) === undefined) await connect(client, s.instance)
        } else {
          await Promise.all(rest)
        }
      }

      // The end: every send done, every client connected again; then each must reach its rooms' last seq.
      await Promise.all(rest)
      for (const client of clients) if (open(client) === undefined) await connect(client, run % 2)
      for (const client of clients) await settleSocket(client)
      const last = await lastSeqsOfRooms(a.db, roomIds)
      for (const [u, client] of clients.entries()) {
        for (const roomId of client.rooms) {
          const upTo = last.get(roomId)!
          const current = open(client)!
          if (lastSeen(client, roomId) < upTo) {
            await received(current.socket, f => f.payload?.room_id === roomId && typeof f.payload?.seq === 'number' && f.payload.seq >= upTo, `user ${u}: seq ${upTo} of room ${roomId}`)
          }
          const got = seen(client, roomId)
          const expected = Array.from({ length: upTo }, (_, k) => k + 1)
          if (got.length !== expected.length || got.some((seq, k) => seq !== expected[k])) {
            throw new Error(`user ${u}, room ${roomId}: saw ${JSON.stringify(got)}, expected 1..${upTo}`)
          }
        }
      }
    } finally {
      await Promise.allSettled(rest)
      for (const client of clients) for (const { socket } of client.sockets) socket.ws.terminate()
      // Users stay for the next run; this run's rooms no longer have them (their sockets would subscribe to every old room).
      await sql`delete from room_members where room_id in (${sql.join(roomIds)})`.execute(a.db)
    }
  })

  const details = await fc.check(property, { numRuns: RUNS, seed: SEED, endOnFailure: true })
  if (details.failed) {
    t.fail(`the delivery model failed (seed ${details.seed}, path "${details.counterexamplePath ?? ''}"): MODEL_SEED=${details.seed} replays it: ${String(details.errorInstance)}\n${fc.defaultReportMessage(details) ?? ''}`)
  } else {
    t.pass(`${details.numRuns} runs (seed ${details.seed}), ${restarts} with a Redis restart`)
  }
})
