import { connect, type Socket } from 'node:net'
import t, { type Test } from 'tap'
import { build, createRoom, signUp } from '../helper.js'
import { listen, TestSocket } from '../ws-client.js'
import { stillHealthy } from './hostile.js'

// Slowloris and slow POST: a client that sends its headers or its body too slowly, or nothing at all,
// is answered and cut off once the timeouts pass, while an open WebSocket outlives every one of them.
// The timeouts are shortened here; how long a test waits for the cut is a bound, not a speed target.

const TIMEOUT_SECONDS = 1
// Longer than the request's deadline, as by default: a stalled request is answered 408 before its
// connection counts as idle (an idle connection is closed without an answer).
const CONNECTION_TIMEOUT_SECONDS = 3
const app = await build(t, {
  env: {
    HEADERS_TIMEOUT_SECONDS: String(TIMEOUT_SECONDS),
    REQUEST_TIMEOUT_SECONDS: String(TIMEOUT_SECONDS),
    CONNECTION_TIMEOUT_SECONDS: String(CONNECTION_TIMEOUT_SECONDS),
    KEEP_ALIVE_TIMEOUT_SECONDS: String(TIMEOUT_SECONDS)
  }
})
const wsUrl = await listen(app)
const { port } = new URL(wsUrl)
const user = await signUp(app)
/** Well past every timeout (and Node's check of them), well before anyone would call it a hang. */
const CUT_OFF_WITHIN_MS = 10_000
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** A raw TCP connection to the server that records what it is sent and when it is closed. */
async function rawConnection (t: Test): Promise<{ socket: Socket, received: () => string, closed: Promise<boolean> }> {
  const socket = connect(Number(port), '127.0.0.1')
  t.teardown(() => { socket.destroy() })
  let text = ''
  socket.setEncoding('utf8')
  socket.on('data', chunk => { text += chunk })
  socket.on('error', () => {})
  const closed = new Promise<boolean>(resolve => {
    const timer = setTimeout(() => resolve(false), CUT_OFF_WITHIN_MS)
    socket.once('close', () => { clearTimeout(timer); resolve(true) })
  })
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  return { socket, received: () => text, closed }
}

t.test('a slow body (headers, part of the body, then nothing) is answered 408 and closed', async t => {
  const { socket, received, closed } = await rawConnection(t)
  socket.write('POST /api/v1/users/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"email":')
  t.ok(await closed, `the server closed the connection within ${CUT_OFF_WITHIN_MS / 1000} s`)
  t.match(received(), /^HTTP\/1\.1 408 /, 'answered 408 Request Timeout')
})

t.test('a body trickled a byte at a time is cut off too (the whole request has a deadline)', async t => {
  const { socket, closed } = await rawConnection(t)
  socket.write('POST /api/v1/users/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n')
  const trickle = setInterval(() => { if (!socket.destroyed) socket.write(' ') }, 200)
  t.teardown(() => { clearInterval(trickle) })
  t.ok(await closed, 'closed although a byte arrives every 200 ms')
})

t.test('slowloris: headers that never end are cut off', async t => {
  const { socket, closed } = await rawConnection(t)
  socket.write('GET /health HTTP/1.1\r\nHost: localhost\r\n')
  let n = 0
  const trickle = setInterval(() => { if (!socket.destroyed) socket.write(`X-Header-${++n}: a\r\n`) }, 200)
  t.teardown(() => { clearInterval(trickle) })
  t.ok(await closed, 'closed although a header line arrives every 200 ms')
})

t.test('a connection that sends nothing is closed', async t => {
  const { closed } = await rawConnection(t)
  t.ok(await closed, 'closed without a byte sent')
})

t.test('an idle keep-alive connection is closed after its request was answered', async t => {
  const { socket, received, closed } = await rawConnection(t)
  socket.write('GET /health/live HTTP/1.1\r\nHost: localhost\r\n\r\n')
  t.ok(await closed, 'closed after the answer')
  t.match(received(), /^HTTP\/1\.1 200 /, 'the request itself was answered')
})

t.test('an open WebSocket survives every timeout', async t => {
  const room = await createRoom(app, user, 'still here')
  const socket = await TestSocket.as(t, wsUrl, user)
  await sleep((2 * CONNECTION_TIMEOUT_SECONDS + 1) * 1000)
  t.equal(socket.ws.readyState, socket.ws.OPEN, 'still open after twice the longest timeout, with no traffic meanwhile')
  const sent = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: user.auth, payload: { room_id: room, content: 'after the timeouts' } })
  t.equal(sent.statusCode, 201)
  t.match((await socket.message('after the timeouts')).payload, { room_id: room }, 'and still delivers')
  socket.send({ type: 'message:send', payload: { room_id: room, content: 'sent over the old socket' } })
  t.match((await socket.message('sent over the old socket')).payload, { room_id: room }, 'and still accepts frames')
})

stillHealthy(t, app, user)
