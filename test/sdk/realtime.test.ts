import { createServer, connect, type Server, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import WebSocket from 'ws'
import { ChatClient, type Message, type WebSocketLike } from '../../sdk/src/index.js'
import { build, createRoom, freshDatabase, joinRoom, sendAs, type Session, signUp } from '../helper.js'

/**
 * Issue 16, item 1: the SDK's realtime client against a live server, through a TCP proxy the test
 * runs (so it can cut every connection mid-stream), while the server closes sockets and the
 * instance restarts. A property test (fast-check) runs random sequences of sends, edits, deletes,
 * reactions and faults; at the end every client's timeline of every room must be the database's:
 * nothing lost, nothing twice, edits, deletes and reactions applied.
 */

const RUNS = Number(process.env.SDK_MODEL_RUNS ?? 6)
// A run takes a second or more (restarts build the app again): the file's time grows with RUNS.
t.setTimeout(Math.max(300_000, RUNS * 30_000))

/** A TCP proxy to `target`: `cut()` destroys every connection through it, mid-stream. */
async function proxy (t: Test, target: () => number): Promise<{ port: number, cut: () => number }> {
  const sockets = new Set<Socket>()
  const server: Server = createServer(client => {
    const upstream = connect(target(), '127.0.0.1')
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
      s.on('error', () => { client.destroy(); upstream.destroy() })
    }
    client.pipe(upstream).pipe(client)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    for (const s of sockets) s.destroy()
    await new Promise(resolve => server.close(resolve))
  })
  return {
    port: (server.address() as AddressInfo).port,
    cut: () => {
      const n = sockets.size
      for (const s of sockets) s.destroy()
      return n
    }
  }
}

const nodeSocket = (url: string): WebSocketLike => new WebSocket(url) as unknown as WebSocketLike

/** What a timeline must agree on: per message, its place, text, whether edited or deleted, and its reactions. */
function shape (messages: Message[]): unknown[] {
  return messages.map(m => ({ id: m.id, seq: m.seq, user_id: m.user_id, content: m.content, edited: m.edited_at !== null, deleted: m.deleted_at !== null, reactions: m.reactions.map(r => `${r.emoji}×${r.count}`).sort() }))
}

/** The database's timeline of a room (over REST, as the owner sees it; `me` aside). */
async function truth (app: FastifyInstance, user: Session, roomId: number): Promise<unknown[]> {
  const all: Message[] = []
  for (;;) {
    const after = all.length === 0 ? '' : `&after=${all.at(-1)!.id}`
    const res = await app.inject({ method: 'GET', url: `/api/v1/rooms/${roomId}/messages?limit=100${after}`, headers: user.auth })
    if (res.statusCode !== 200) throw new Error(`history: ${res.statusCode} ${res.body}`)
    const page = res.json<Message[]>()
    all.push(...page)
    if (page.length < 100) return shape(all)
  }
}

async function until (what: string, check: () => Promise<boolean> | boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${what}`)
    await new Promise(resolve => setTimeout(resolve, 25))
  }
}

/** A listening server, and a room of alice's that bob has joined. */
async function twoInARoom (t: Test) {
  const app = await build(t)
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const alice = await signUp(app)
  const bob = await signUp(app)
  const room = await createRoom(app, alice, 'sdk')
  await joinRoom(app, bob, room)
  return { app, address, alice, bob, room }
}

t.test('two clients follow a room: messages, edits, deletes and reactions arrive once, in order', async t => {
  const { app, address, alice, bob, room } = await twoInARoom(t)
  const a = new ChatClient({ baseUrl: address, token: alice.token, userId: alice.id, webSocket: nodeSocket })
  const b = new ChatClient({ baseUrl: address, token: bob.token, userId: bob.id, webSocket: nodeSocket })
  t.teardown(() => { a.close(); b.close() })
  await Promise.all([a.connect(), b.connect()])
  await Promise.all([a.synced(), b.synced()])

  const first = await a.send(room, 'hello bob')
  t.match(first, { room_id: room, content: 'hello bob', user_id: alice.id }, 'send answers the stored message')
  await b.send(room, 'hi alice')
  await app.inject({ method: 'PATCH', url: `/api/v1/messages/${first.id}`, headers: alice.auth, payload: { content: 'hello, bob' } })
  await app.inject({ method: 'PUT', url: `/api/v1/messages/${first.id}/reactions/${encodeURIComponent('👍')}`, headers: bob.auth })
  const doomed = await a.send(room, 'oops')
  await app.inject({ method: 'DELETE', url: `/api/v1/messages/${doomed.id}`, headers: alice.auth })
  const expected = await truth(app, alice, room)
  for (const [name, client] of [['alice', a], ['bob', b]] as const) {
    await until(`${name} has the room's timeline`, () => JSON.stringify(shape(client.rooms.get(room)?.timeline() ?? [])) === JSON.stringify(expected))
    t.same(shape(client.rooms.get(room)!.timeline()), expected, `${name}'s timeline is the database's`)
  }
  const reaction = b.rooms.get(room)!.messages.get(first.id)!.reactions
  t.same(reaction, [{ emoji: '👍', count: 1, me: true }], 'bob\'s reaction is his (me: true)')
  t.same(a.rooms.get(room)!.messages.get(first.id)!.reactions, [{ emoji: '👍', count: 1, me: false }], 'and not alice\'s')
  t.equal(a.rooms.get(room)!.unread, 0, 'alice\'s own send moved her marker past bob\'s message')
  await b.send(room, 'one more')
  await until('alice got it', () => a.rooms.get(room)!.timeline().at(-1)?.content === 'one more')
  t.equal(a.rooms.get(room)!.unread, 1, 'bob\'s new message is unread for alice')
  t.equal(b.rooms.get(room)!.unread, 0, 'and read for bob')

  const refused = await a.send(424242, 'nowhere').catch((err: { status?: number }) => err)
  t.match(refused, { status: 404 }, 'a refused send rejects with the server\'s status, and is not retried')
})

t.test('watch replays a room joined after connecting from its start; sendFrame sends typing and presence:get on the open socket only', async t => {
  const app = await build(t)
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const alice = await signUp(app)
  const bob = await signUp(app)
  const room = await createRoom(app, alice, 'sdk-watch')
  await sendAs(app, alice, room, 'before bob came')
  const a = new ChatClient({ baseUrl: address, token: alice.token, userId: alice.id, webSocket: nodeSocket })
  const b = new ChatClient({ baseUrl: address, token: bob.token, userId: bob.id, webSocket: nodeSocket })
  t.teardown(() => { a.close(); b.close() })
  await Promise.all([a.connect(), b.connect()])
  await Promise.all([a.synced(), b.synced()])
  t.notOk(b.rooms.has(room), 'bob is not in the room yet')

  await joinRoom(app, bob, room)
  const state = b.watch(room)
  await until('bob has the room\'s history', () => state.timeline().length === 1)
  t.same(state.timeline().map(m => m.content), ['before bob came'], 'watch replayed the message sent before bob joined')
  await a.send(room, 'after bob came')
  await until('bob gets the next one live', () => state.timeline().length === 2)
  t.same(state.timeline().map(m => m.content), ['before bob came', 'after bob came'], 'then the feed goes on, in order, once')

  const typing = new Promise(resolve => { const off = a.on('frame', frame => { if (frame.type === 'typing') { off(); resolve(frame.payload) } }) })
  t.equal(b.sendFrame({ type: 'typing', payload: { room_id: room } }), true, 'sendFrame sends on the open socket')
  t.match(await typing, { room_id: room, user_id: bob.id, username: bob.username }, 'alice sees bob typing')
  const list = new Promise(resolve => { const off = b.on('frame', frame => { if (frame.type === 'presence:list') { off(); resolve(frame.payload) } }) })
  b.sendFrame({ type: 'presence:get', payload: { room_id: room } })
  t.same(await list, { room_id: room, user_ids: [alice.id, bob.id].sort((x, y) => x - y) }, 'presence:get answers both members online')
  b.close()
  t.equal(b.sendFrame({ type: 'typing', payload: { room_id: room } }), false, 'and nothing once the socket is closed')
})

t.test('the SDK resumes after the server closes its socket, and after 4401 stops', async t => {
  const { app, address, alice, bob, room } = await twoInARoom(t)
  const b = new ChatClient({ baseUrl: address, token: bob.token, userId: bob.id, webSocket: nodeSocket, backoff: { initialMs: 20, maxMs: 200 } })
  t.teardown(() => { b.close() })
  const statuses: string[] = []
  b.on('status', s => statuses.push(s))
  await b.connect()
  await b.synced()
  for (const socket of app.websocketServer.clients) socket.terminate()
  // While bob is away.
  for (let i = 0; i < 5; i++) await app.inject({ method: 'POST', url: '/api/v1/messages', headers: alice.auth, payload: { room_id: room, content: `while away ${i}` } })
  await until('bob reconnected and caught up', () => b.rooms.get(room)?.timeline().length === 5)
  t.same(b.rooms.get(room)!.timeline().map(m => m.content), [0, 1, 2, 3, 4].map(i => `while away ${i}`), 'the replay brought what was missed, in order')
  t.ok(statuses.includes('reconnecting'), `it reconnected (${statuses.join(' → ')})`)

  const stopped = new Promise<void>(resolve => b.on('unauthorized', resolve))
  await app.inject({ method: 'POST', url: '/api/v1/users/logout', headers: bob.auth })
  await stopped
  t.equal(b.status, 'closed', 'a revoked token stops the client (no reconnect loop)')
})

t.test(`model: random sends, edits, deletes, reactions, cut connections, closed sockets and restarts — every client ends with the database's timeline (${RUNS} runs)`, async t => {
  const databaseUrl = await freshDatabase(t)
  let app = await build(t, { databaseUrl })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const appPort = (app.server.address() as AddressInfo).port
  const net = await proxy(t, () => appPort)
  const baseUrl = `http://127.0.0.1:${net.port}`
  const users = [await signUp(app), await signUp(app), await signUp(app)]
  const rooms = [await createRoom(app, users[0]!, 'model a'), await createRoom(app, users[1]!, 'model b')]
  for (const room of rooms) for (const user of users) await joinRoom(app, user, room).catch(() => {})
  const clients = users.map(user => new ChatClient({ baseUrl, token: user.token, userId: user.id, webSocket: nodeSocket, backoff: { initialMs: 10, maxMs: 150 } }))
  t.teardown(() => { for (const c of clients) c.close() })
  await Promise.all(clients.map(async c => { await c.connect(); await c.synced() }))
  const frames = clients.map(c => { const seen: unknown[] = []; c.on('frame', f => seen.push(f)); return seen })
  const sent: Array<{ id: number, by: number }> = []
  let restarts = 0
  let cuts = 0

  const op = fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('send' as const), user: fc.nat(2), room: fc.nat(1), text: fc.string({ minLength: 1, maxLength: 20 }).filter(s => s.trim() !== '') }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('edit' as const), pick: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('react' as const), pick: fc.nat(), user: fc.nat(2), emoji: fc.constantFrom('👍', '🎉', 'party_parrot') }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('cut' as const) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('close' as const) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const) }) }
  )

  await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 5, maxLength: 20 }), async ops => {
    const pending: Array<Promise<unknown>> = []
    for (const o of ops) {
      const mine = sent.length === 0 ? undefined : sent[('pick' in o ? o.pick : 0) % sent.length]
      switch (o.kind) {
        case 'send':
          // Not awaited: sends overlap the faults, and each must still be stored exactly once.
          pending.push(clients[o.user]!.send(rooms[o.room]!, o.text).then(m => { sent.push({ id: m.id, by: o.user }) }))
          break
        case 'edit':
          if (mine !== undefined) await app.inject({ method: 'PATCH', url: `/api/v1/messages/${mine.id}`, headers: users[mine.by]!.auth, payload: { content: `edited ${Date.now()}` } })
          break
        case 'delete':
          if (mine !== undefined) await app.inject({ method: 'DELETE', url: `/api/v1/messages/${mine.id}`, headers: users[mine.by]!.auth })
          break
        case 'react':
          if (mine !== undefined) await app.inject({ method: 'PUT', url: `/api/v1/messages/${mine.id}/reactions/${encodeURIComponent(o.emoji)}`, headers: users[o.user]!.auth })
          break
        case 'cut':
          cuts += net.cut()
          break
        case 'close':
          for (const socket of app.websocketServer.clients) socket.terminate()
          break
        case 'restart':
          await Promise.allSettled(pending)
          await app.close()
          app = await build(t, { databaseUrl })
          await app.listen({ port: appPort, host: '127.0.0.1' })
          restarts++
          break
      }
    }
    await Promise.all(pending)
    for (const room of rooms) {
      const expected = JSON.stringify(await truth(app, users[0]!, room))
      for (const [i, client] of clients.entries()) {
        await until(`client ${i} converges on room ${room}`, () => JSON.stringify(shape(client.rooms.get(room)?.timeline() ?? [])) === expected)
          .catch((err: Error) => {
            const state = client.rooms.get(room)
            throw new Error(`${err.message}: lastSeq ${state?.lastSeq} resyncing ${state?.resyncing} status ${client.status}; ` +
              `has ${JSON.stringify(shape(state?.timeline() ?? [])).slice(-700)}; expected ${expected.slice(-700)}; last frames ${JSON.stringify(frames[i]!.slice(-8)).slice(-900)}`)
          })
      }
    }
  }), { numRuns: RUNS, ...(process.env.SDK_MODEL_SEED === undefined ? {} : { seed: Number(process.env.SDK_MODEL_SEED) }) })

  const stored = await app.db.selectFrom('messages').select(eb => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()
  t.equal(Number(stored.n), sent.length, `every acknowledged send stored exactly once (${sent.length} sends)`)
  t.comment(`${RUNS} runs: ${sent.length} sends, ${cuts} connections cut, ${restarts} restarts`)
  t.pass('every client converged on the database\'s timeline after every run')
})
