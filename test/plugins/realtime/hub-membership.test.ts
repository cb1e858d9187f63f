// Membership is checked at delivery (CONTRACT.md Part 2, "The room feed"), in the hub itself: once
// a socket stopped listening to a room (room:removed, room:deleted), nothing of the room reaches it,
// not even what a catch-up had already read; a deleted room is never listened to again.
import type { Duplex } from 'node:stream'
import t from 'tap'
import type { WebSocket } from 'ws'
import { Hub } from '../../../plugins/realtime/hub.js'

const noFeed = { gapWaitMs: 100, readFeed: async () => [], readLastSeqs: async () => new Map<number, number>() }

/** A socket that records what it is sent (no network). */
function fakeSocket (): { socket: WebSocket, connection: Duplex, frames: () => Array<{ type: string, payload: any }> } {
  const sent: string[] = []
  const socket = {
    OPEN: 1,
    readyState: 1,
    bufferedAmount: 0,
    send (data: unknown, _options: unknown, done?: () => void) { sent.push(String(data)); done?.() },
    close () { this.readyState = 3 }
  }
  const connection = { cork () {}, uncork () {}, destroyed: false, once () {} }
  return { socket: socket as unknown as WebSocket, connection: connection as unknown as Duplex, frames: () => sent.map(text => JSON.parse(text)) }
}

const ROOM = 7
const messages = (n: number) => Array.from({ length: n }, (_, i) => ({
  seq: i + 1,
  frame: { type: 'message:deleted' as const, payload: { seq: i + 1, room_id: ROOM, message_id: i + 1 } }
}))

function setUp () {
  const hub = new Hub({ maxBufferedBytes: 1 << 20, maxSocketsPerUser: 5, maxSocketsPerAddress: 5, feed: noFeed })
  const fake = fakeSocket()
  const client = hub.add(fake.socket, fake.connection, hub.reserve(1, 'a'), 0)!
  return { hub, client, ...fake }
}

t.test('a catch-up stops at room:deleted: what it read is not sent after it', async t => {
  const { hub, client, frames } = setUp()
  hub.subscribe(client, ROOM, 0)
  const upTo = await hub.catchUp(client, ROOM, async () => {
    // The room is deleted after the catch-up read its frames, before they are sent.
    hub.closeRoom(ROOM, Buffer.from(JSON.stringify({ type: 'room:deleted', payload: { room_id: ROOM } })))
    return { reset: false, frames: messages(250), upTo: 250 }
  })
  t.equal(upTo, undefined, 'the room is not reported as caught up')
  t.same(frames().map(f => f.type), ['room:deleted'], 'room:deleted, and nothing of the room after it')
  t.notOk(client.rooms.has(ROOM))
})

t.test('a catch-up stops at room:removed (the user left while it was being sent)', async t => {
  const { hub, client, frames } = setUp()
  hub.subscribe(client, ROOM, 0)
  let chunks = 0
  const original = hub.sendPaced.bind(hub)
  hub.sendPaced = async (c, batch) => {
    await original(c, batch)
    // After the first chunk went out, the user leaves.
    if (++chunks === 1) hub.removeUserFromRoom(1, ROOM, 'left')
  }
  await hub.catchUp(client, ROOM, async () => ({ reset: false, frames: messages(250), upTo: 250 }))
  const types = frames().map(f => f.type)
  t.equal(types.indexOf('room:removed'), 100, 'the first chunk (100 frames), then room:removed')
  t.equal(types.length, 101, 'and nothing after it')
})

t.test('a deleted room is not subscribed to again; a socket that would have been is told', async t => {
  const { hub, client, frames } = setUp()
  hub.closeRoom(ROOM, Buffer.from(JSON.stringify({ type: 'room:deleted', payload: { room_id: ROOM } })))
  t.same(frames(), [], 'a socket that did not listen to it is not told at deletion')
  hub.subscribe(client, ROOM)
  t.notOk(client.rooms.has(ROOM), 'a join or catch-up racing the deletion does not subscribe')
  t.same(frames(), [])
  // A socket opening with the room among its rooms (read before the deletion), or a join that committed before it.
  hub.subscribe(client, ROOM, 3)
  t.notOk(client.rooms.has(ROOM))
  t.same(frames(), [{ type: 'room:deleted', payload: { room_id: ROOM } }], 'gets room:deleted instead')
  hub.handle({ type: 'message:deleted', room_id: ROOM, payload: { seq: 4, room_id: ROOM, message_id: 1 } })
  t.equal(frames().length, 1, 'a frame of the room arriving late reaches nobody')
  let read = false
  await hub.catchUp(client, ROOM, async () => { read = true; throw new Error('no such room') })
    .then(() => t.fail('the catch-up answers why'), (err: Error) => t.equal(err.message, 'no such room', 'a catch-up of the deleted room asks `read`, which refuses'))
  t.ok(read)
  t.notOk(client.rooms.has(ROOM))
})
