import { once } from 'node:events'
import t from 'tap'
import { buildApp } from '../../../src/app.js'
import { build, freshDatabase, signUp, testConfig } from '../../helper.js'
import { listen, TestSocket } from '../../ws-client.js'

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
  const { code } = await dead.closed
  t.equal(code, 1006, 'terminated (no closing handshake)')
  t.ok(dead.pings >= 1, 'it was pinged first')
  // The answering socket has been through the same heartbeats and is still open.
  t.equal(alive.ws.readyState, alive.ws.OPEN)
  await once(alive.ws, 'ping')
  t.equal(alive.ws.readyState, alive.ws.OPEN, 'and survives the next one too')
})
