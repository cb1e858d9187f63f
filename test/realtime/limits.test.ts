import { once } from 'node:events'
import type { Socket } from 'node:net'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { build, freshDatabase, signUp, testConfig } from '../helper.js'
import { listen, TestSocket } from './ws-client.js'

t.test('a frame over 64 KiB closes the socket with 1009; 64 KiB exactly is read', async t => {
  const app = await build(t)
  const url = await listen(app)
  const user = await signUp(app)

  const fits = await TestSocket.as(t, url, user)
  const exactly = JSON.stringify({ type: 'room:join', payload: { room_id: 1 }, pad: '' })
  fits.send(exactly.replace('"pad":""', `"pad":"${'x'.repeat(64 * 1024 - exactly.length)}"`))
  t.match((await fits.error()).payload, { code: 'ROOM_NOT_FOUND' }, 'a 64 KiB frame is parsed and answered')
  t.equal(fits.ws.readyState, fits.ws.OPEN)

  const big = await TestSocket.as(t, url, user)
  big.send(JSON.stringify({ type: 'message:send', payload: { room_id: 1, content: 'x'.repeat(64 * 1024) } }))
  const { code } = await big.closed
  t.equal(code, 1009, 'closed: message too big')
  t.equal(fits.ws.readyState, fits.ws.OPEN, 'other sockets are unaffected')
})

t.test('a client that stops reading is closed with 1013 once 1 MiB waits for it; the others keep receiving', async t => {
  const app = await build(t)
  const url = await listen(app)
  const sender = await signUp(app)
  const slowUser = await signUp(app)
  const room = (await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: sender.auth, payload: { name: 'firehose' } })).json<{ id: number }>().id
  await app.inject({ method: 'POST', url: `/api/v1/rooms/${room}/join`, headers: slowUser.auth })

  const slow = await TestSocket.as(t, url, slowUser)
  const fast = await TestSocket.as(t, url, sender)
  // Stop reading: the kernel buffers fill, then the server's unsent buffer grows.
  const tcp = (slow.ws as unknown as { _socket: Socket })._socket
  tcp.pause()

  const slowIsServed = (): boolean => [...app.realtime.hub.clients].some(c => c.userId === slowUser.id)
  t.ok(slowIsServed())
  const content = '€'.repeat(4000) // 12 KB of UTF-8 per frame
  let sent = 0
  const statuses = new Set<number>()
  // Kernel socket buffers on loopback can hold several MB; send until the server gives up on the slow socket.
  while (slowIsServed() && sent < 5000) {
    const response = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: sender.auth, payload: { room_id: room, content } })
    statuses.add(response.statusCode)
    sent++
  }
  t.same([...statuses], [201], 'every send was stored')
  t.notOk(slowIsServed(), `the server dropped the slow socket after ${sent} messages`)
  const serverSide = [...app.websocketServer.clients]
  t.ok(serverSide.every(ws => ws.bufferedAmount < 2 * 1024 * 1024), 'no socket holds much more than 1 MiB unsent')

  const last = (await app.inject({ method: 'POST', url: '/api/v1/messages', headers: sender.auth, payload: { room_id: room, content: 'after the drop' } })).json<{ id: number }>()
  t.equal((await fast.message('after the drop')).payload.id, last.id, 'the fast socket still receives')
  t.equal(fast.all(f => f.type === 'message:new').length, sent + 1, 'every message reached the fast socket')

  tcp.resume()
  const { code } = await slow.closed
  t.equal(code, 1013, 'once it reads again, the slow client finds close code 1013 (try again later)')
  t.ok(slow.all(f => f.type === 'message:new').length <= sent, 'it got at most what was queued before the drop')
  t.same(slow.all(f => f.payload?.content === 'after the drop'), [], 'and nothing after it')
})

t.test('app.close() closes every socket with 1001', async t => {
  const app = buildApp(testConfig({ DATABASE_URL: await freshDatabase(t) }), { logger: false })
  const url = await listen(app)
  const user = await signUp(app)
  const sockets = await Promise.all([TestSocket.as(t, url, user), TestSocket.as(t, url, user)])
  await app.close()
  for (const socket of sockets) t.equal((await socket.closed).code, 1001)
})

t.test('the heartbeat drops a socket that stops answering pings', async t => {
  const app = buildApp(testConfig({ DATABASE_URL: await freshDatabase(t) }), { logger: false, realtime: { heartbeatMs: 200 } })
  t.teardown(async () => { await app.close() })
  const url = await listen(app)
  const user = await signUp(app)
  const alive = await TestSocket.as(t, url, user)
  const dead = await TestSocket.open(t, url, { token: user.token, ws: { autoPong: false } })
  let pings = 0
  dead.ws.on('ping', () => { pings++ })
  const { code } = await dead.closed
  t.equal(code, 1006, 'terminated (no closing handshake)')
  t.ok(pings >= 1, 'it was pinged first')
  // The answering socket has been through the same heartbeats and is still open.
  t.equal(alive.ws.readyState, alive.ws.OPEN)
  await once(alive.ws, 'ping')
  t.equal(alive.ws.readyState, alive.ws.OPEN, 'and survives the next one too')
})
