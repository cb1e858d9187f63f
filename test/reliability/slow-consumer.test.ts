// A slow consumer: a client that stops reading is closed (1013) once 1 MiB waits for it, so the
// server's memory for it stays bounded, and the other sockets keep receiving without waiting for it.
// (Moved here from test/routes/ws/limits.test.ts.)
import type { Socket } from 'node:net'
import t from 'tap'
import { build, signUp } from '../helper.js'
import { listen, TestSocket } from '../ws-client.js'

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
  // The server's end of the slow socket: how much waits unsent for it, after every send.
  const serverEnd = [...app.realtime.hub.clients].find(c => c.userId === slowUser.id)!.socket
  let mostBuffered = 0
  const content = '€'.repeat(4000) // 12 KB of UTF-8 per frame
  let sent = 0
  const statuses = new Set<number>()
  // Kernel socket buffers on loopback can hold several MB; send until the server gives up on the slow socket.
  while (slowIsServed() && sent < 5000) {
    const response = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: sender.auth, payload: { room_id: room, content } })
    statuses.add(response.statusCode)
    sent++
    mostBuffered = Math.max(mostBuffered, serverEnd.bufferedAmount)
  }
  t.same([...statuses], [201], 'every send was stored')
  t.notOk(slowIsServed(), `the server dropped the slow socket after ${sent} messages`)
  // Memory stays bounded: the check runs after each frame is queued, so at most one frame (≤ 64 KiB) past the limit.
  t.ok(mostBuffered > 512 * 1024, `the slow socket's buffer did fill (${mostBuffered} bytes at most)`)
  t.ok(mostBuffered <= 1024 * 1024 + 64 * 1024, `its unsent buffer never passed 1 MiB by more than one frame (${mostBuffered} bytes at most)`)
  const serverSide = [...app.websocketServer.clients]
  t.ok(serverSide.every(ws => ws.bufferedAmount <= 1024 * 1024 + 64 * 1024), 'no socket holds more than that now')

  const last = (await app.inject({ method: 'POST', url: '/api/v1/messages', headers: sender.auth, payload: { room_id: room, content: 'after the drop' } })).json<{ id: number }>()
  t.equal((await fast.message('after the drop')).payload.id, last.id, 'the fast socket still receives')
  t.equal(fast.all(f => f.type === 'message:new').length, sent + 1, 'every message reached the fast socket')

  tcp.resume()
  const { code } = await slow.closed
  t.equal(code, 1013, 'once it reads again, the slow client finds close code 1013 (try again later)')
  t.ok(slow.all(f => f.type === 'message:new').length <= sent, 'it got at most what was queued before the drop')
  t.same(slow.all(f => f.payload?.content === 'after the drop'), [], 'and nothing after it')
})
