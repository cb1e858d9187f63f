import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { build, createRoom, type Session, signUp } from '../../helper.js'
import { type Frame, listen, refusedUpgrade, TestSocket } from '../../ws-client.js'

async function post (app: FastifyInstance, user: Session, roomId: number, content: string): Promise<void> {
  const response = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: user.auth, payload: { room_id: roomId, content } })
  if (response.statusCode !== 201) throw new Error(`send: ${response.statusCode} ${response.body}`)
}

/** What a catch-up sent, up to and including sync:done: type, room and seq of each frame. */
function catchUp (socket: TestSocket): unknown[] {
  const frames = socket.received.filter(f => ['message:new', 'sync:done', 'sync:reset', 'error'].includes(f.type))
  return frames.map((f: Frame) => f.type === 'message:new' ? [f.type, f.payload.room_id, f.payload.seq, f.payload.content] : [f.type, f.payload])
}

t.test('?since= on connect catches up exactly as a sync frame sent right after connecting', async t => {
  const app = await build(t)
  const url = await listen(app)
  const alice = await signUp(app)
  const bob = await signUp(app)
  const roomA = await createRoom(app, alice, 'a')
  const roomB = await createRoom(app, alice, 'b')
  const closed = await createRoom(app, bob, 'not alice\'s')
  for (let i = 1; i <= 5; i++) await post(app, alice, roomA, `a${i}`)
  for (let i = 1; i <= 3; i++) await post(app, alice, roomB, `b${i}`)

  const since = `${roomA}:2,${roomB}:0,${closed}:0`
  const viaQuery = await TestSocket.open(t, `${url}?since=${since}`, { ws: { headers: { authorization: `Bearer ${alice.token}` } } })
  const done = await viaQuery.next(f => f.type === 'sync:done', 'sync:done')
  t.same(done.payload, { rooms: { [roomA]: 5, [roomB]: 3 } }, 'the last seq per room; the refused room is left out')
  t.same(viaQuery.all(f => f.type === 'message:new').map(f => f.payload.content), ['a3', 'a4', 'a5', 'b1', 'b2', 'b3'], 'what was missed, in order, once')
  t.match(viaQuery.all(f => f.type === 'error'), [{ payload: { code: 'NOT_A_MEMBER', room_id: closed } }], 'a room the user may not read: an error naming it')

  const viaFrame = await TestSocket.as(t, url, alice)
  viaFrame.send({ type: 'sync', payload: { rooms: { [roomA]: 2, [roomB]: 0, [closed]: 0 } } })
  await viaFrame.next(f => f.type === 'sync:done', 'sync:done')
  t.same(catchUp(viaQuery), catchUp(viaFrame), 'the same frames as the sync frame, in the same order')

  await post(app, alice, roomA, 'live')
  t.equal((await viaQuery.message('live')).payload.seq, 6, 'then live messages, with no gap')
  t.equal(viaQuery.all(f => f.type === 'message:new').length, 7, 'and no duplicate')
})

t.test('an invalid ?since= is refused with 400 before the upgrade', async t => {
  const app = await build(t)
  const url = await listen(app)
  const alice = await signUp(app)
  const headers = { authorization: `Bearer ${alice.token}` }
  for (const bad of ['1', '1:x', 'x:1', '0:1', '1:1,', '1:-1']) {
    const refused = await refusedUpgrade(`${url}?since=${encodeURIComponent(bad)}`, { headers })
    t.equal(refused.status, 400, `since=${bad}`)
    t.match(JSON.parse(refused.body).error, /since/, 'the error names since')
  }
  const tooFar = await refusedUpgrade(`${url}?since=1:9999999999`, { headers })
  t.equal(tooFar.status, 400)
  t.match(JSON.parse(tooFar.body).error, /^since: .*at most 2147483647/, 'checked by the sync frame\'s schema')
  const tooMany = Array.from({ length: 501 }, (_, i) => `${i + 1}:0`).join(',')
  const refused = await refusedUpgrade(`${url}?since=${tooMany}`, { headers })
  t.equal(refused.status, 400)
  t.match(JSON.parse(refused.body).error, /too many entries \(at most 500\)/)
  t.equal((await refusedUpgrade(`${url}?since=1:0`)).status, 401, 'without a token: still 401')
})
