import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import t from 'tap'
import { buildApp } from '../../../src/app.js'
import { channelFor } from '../../../plugins/realtime/fanout.js'
import { databaseScope } from '../../../src/config.js'
import { freshDatabase, type Session, signUp, testConfig } from '../../helper.js'
import { type Frame, listen, PrivateRedis, TestSocket, twoInstances } from '../../ws-client.js'

async function post (app: FastifyInstance, user: Session, roomId: number, content: string): Promise<{ id: number }> {
  const response = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: user.auth, payload: { room_id: roomId, content } })
  if (response.statusCode !== 201) throw new Error(`send: ${response.statusCode} ${response.body}`)
  return response.json()
}

const count = (socket: TestSocket, content: string): number =>
  socket.all((f: Frame) => f.type === 'message:new' && f.payload.content === content).length

t.test('two instances on one database deliver to each other\'s sockets through Redis, and survive a Redis restart', async t => {
  const redis = await PrivateRedis.start(t)
  const { a, b, urlA, urlB } = await twoInstances(t, redis.url)

  const alice = await signUp(a)
  const bob = await signUp(b)
  const carol = await signUp(a)
  const room = (await a.inject({ method: 'POST', url: '/api/v1/rooms', headers: alice.auth, payload: { name: 'cluster' } })).json<{ id: number }>().id
  t.equal((await b.inject({ method: 'POST', url: `/api/v1/rooms/${room}/join`, headers: bob.auth })).statusCode, 200)

  const aliceA = await TestSocket.as(t, urlA, alice)
  const bobB = await TestSocket.as(t, urlB, bob)
  const aliceB = await TestSocket.as(t, urlB, alice)

  await t.test('a WebSocket send on A reaches sockets on A and B', async t => {
    aliceA.send({ type: 'message:send', payload: { room_id: room, content: 'from A' } })
    const [onA, onB, aliceOnB] = await Promise.all([aliceA.message('from A'), bobB.message('from A'), aliceB.message('from A')])
    t.equal(onA.payload.id, onB.payload.id)
    t.same(onB.payload, onA.payload, 'the same frame on both instances')
    t.equal(aliceOnB.payload.id, onA.payload.id, 'the sender\'s socket on the other instance too')
  })

  await t.test('a REST send on B reaches sockets on A', async t => {
    const sent = await post(b, bob, room, 'from B')
    t.same((await aliceA.message('from B')).payload.id, sent.id)
    t.same((await bobB.message('from B')).payload.id, sent.id)
  })

  await t.test('room:join on A subscribes the user\'s sockets on B', async t => {
    const carolB = await TestSocket.as(t, urlB, carol)
    const carolA = await TestSocket.as(t, urlA, carol)
    carolA.send({ type: 'room:join', payload: { room_id: room } })
    t.match(await carolA.next(f => f.type === 'member:joined'), { payload: { room_id: room, user: { id: carol.id } } }, 'the feed frame of her join')
    t.same(await carolA.next(f => f.type === 'room:joined'), { type: 'room:joined', payload: { room_id: room } })
    t.match(await carolB.next(f => f.type === 'member:joined'), { payload: { room_id: room, user: { id: carol.id } } }, 'on B too: her socket there listens from it on')
    // Sent through A, so it follows the join on A's one publisher connection.
    await post(a, alice, room, 'welcome carol')
    t.ok(await carolB.message('welcome carol'))
    t.ok(await carolA.message('welcome carol'))
  })

  await t.test('each socket got each message once (an instance skips its own events when Redis echoes them)', async t => {
    await post(a, alice, room, 'barrier 1')
    await Promise.all([aliceA.message('barrier 1'), bobB.message('barrier 1'), aliceB.message('barrier 1')])
    for (const socket of [aliceA, bobB, aliceB]) {
      for (const content of ['from A', 'from B', 'welcome carol', 'barrier 1']) t.equal(count(socket, content), 1, content)
    }
  })

  await t.test('with Redis gone, each instance still delivers to its own sockets', async t => {
    await redis.stop()
    aliceA.send({ type: 'message:send', payload: { room_id: room, content: 'redis is down (A)' } })
    t.ok(await aliceA.message('redis is down (A)'))
    await post(b, bob, room, 'redis is down (B)')
    t.ok(await bobB.message('redis is down (B)'))
    t.ok(await aliceB.message('redis is down (B)'))
  })

  await t.test('after Redis comes back on the same port, the instances reconnect by themselves', async t => {
    await redis.restart()
    // Wait (without asserting on time) until A's publisher and B's subscriber are back: probe until one arrives.
    let probe = 0
    let reached = false
    while (!reached && probe < 120) {
      const content = `probe ${++probe}`
      await post(a, alice, room, content)
      reached = await bobB.message(content, 500).then(() => true, () => false)
    }
    t.ok(reached, `cross-instance delivery resumed (after ${probe} probes)`)

    const fromA = await post(a, alice, room, 'after restart (A)')
    const fromB = await post(b, bob, room, 'after restart (B)')
    t.equal((await bobB.message('after restart (A)')).payload.id, fromA.id, 'A -> B')
    t.equal((await aliceA.message('after restart (B)')).payload.id, fromB.id, 'B -> A (B\'s publisher and A\'s subscriber are back too)')
    t.equal((await aliceB.message('after restart (A)')).payload.id, fromA.id)
    await post(b, bob, room, 'barrier 2')
    await Promise.all([aliceA.message('barrier 2'), bobB.message('barrier 2')])
    for (const socket of [aliceA, bobB]) {
      for (const content of ['after restart (A)', 'after restart (B)', 'redis is down (A)']) t.ok(count(socket, content) <= 1, `${content}: never twice`)
      t.equal(count(socket, 'after restart (A)'), 1)
    }
  })

  await t.test('a message sent on A while Redis was away reaches sockets on B once it is back (read from the database), once, in order; a sync sends nothing again', async t => {
    const before = bobB.all((f: Frame) => f.type === 'message:new' && f.payload.content === 'barrier 1')[0]!.payload.seq as number
    t.equal(count(bobB, 'redis is down (A)'), 1, 'bob on B got the message sent on A during the outage')
    const seqs = bobB.all((f: Frame) => f.type === 'message:new').map(f => f.payload.seq as number)
    t.same(seqs, [...seqs].sort((x, y) => x - y), 'in seq order')
    t.equal(new Set(seqs).size, seqs.length, 'each once')
    bobB.send({ type: 'sync', payload: { rooms: { [room]: before } } })
    await bobB.next(f => f.type === 'sync:done')
    t.equal(count(bobB, 'redis is down (A)'), 1)
    t.equal(count(bobB, 'redis is down (B)'), 1, 'what it had already seen live is not sent again')
    t.equal(count(bobB, 'after restart (A)'), 1)
  })
})

t.test('instances on different databases use different Redis channels, so they never see each other\'s events', async t => {
  const redis = await PrivateRedis.start(t)
  const spy = new Redis(redis.url)
  t.teardown(() => { spy.disconnect() })
  const seen: Array<{ channel: string, header: string, frame: string }> = []
  spy.on('pmessageBuffer', (_pattern: Buffer, channel: Buffer, message: Buffer) => {
    const newline = message.indexOf(10)
    const header = String(message.subarray(0, newline))
    const frame = String(message.subarray(newline + 1))
    // Chat messages only: membership events ("j") carry no frame, and presence and typing events share the channel.
    if (header.split(' ')[1] === 'r' && (JSON.parse(frame) as { type: string }).type === 'message:new') seen.push({ channel: String(channel), header, frame })
  })
  await spy.psubscribe('chat-app:events:*')

  const urls = [await freshDatabase(t), await freshDatabase(t)]
  for (const [i, url] of urls.entries()) {
    const app = buildApp(testConfig({ DATABASE_URL: url, REDIS_URL: redis.url }), { logger: false })
    t.teardown(async () => { await app.close() })
    await app.ready()
    const socketUrl = await listen(app)
    const user = await signUp(app)
    const room = (await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: user.auth, payload: { name: 'same id' } })).json<{ id: number }>().id
    t.equal(room, 1, 'the same room id on both databases')
    const socket = await TestSocket.as(t, socketUrl, user)
    const sent = await post(app, user, room, `database ${i}`)
    await socket.message(`database ${i}`)
    t.ok(sent.id >= 1)
  }
  // Redis delivers to the spy in publish order; wait until both arrived.
  while (seen.length < 2) await new Promise(resolve => spy.once('pmessageBuffer', resolve))
  const [first, second] = seen as [typeof seen[0], typeof seen[0]]
  t.not(first.channel, second.channel, 'one channel per database')
  t.equal(first.channel, channelFor(databaseScope(urls[0], '')))
  t.match(first.header, /^[0-9a-f-]{36} r 1 1$/, 'header: instance id, kind, room id, seq')
  t.match(JSON.parse(first.frame), { type: 'message:new', payload: { room_id: 1, content: 'database 0' } }, 'the frame exactly as sockets get it')
  t.match(JSON.parse(second.frame), { type: 'message:new', payload: { content: 'database 1' } })

  const withPassword = 'postgres://someone:secret@db.example.com:5432/chat'
  t.equal(databaseScope(withPassword, ''), 'postgres://db.example.com:5432/chat', 'the scope never carries the password')
  t.equal(channelFor(databaseScope(withPassword, '')), channelFor(databaseScope('postgres://other:pw@db.example.com/chat', '')), 'same server and database, same channel')
})
