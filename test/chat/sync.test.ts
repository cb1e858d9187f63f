import t from 'tap'
import { sendMessage } from '../../src/chat/messages.js'
import { roomCatchUp } from '../../src/chat/sync.js'
import { MAX_CATCH_UP } from '../../src/schemas/realtime.js'
import { build, createRoom, seedMessages, signUp } from '../helper.js'

t.test('roomCatchUp: members only, every message after the seq in order, or a reset past the bound', async t => {
  const app = await build(t)
  const alice = await signUp(app)
  const mallory = await signUp(app)
  const room = await createRoom(app, alice, 'catch up')
  for (let i = 1; i <= 5; i++) await sendMessage(app, alice.id, { room_id: room, content: `m${i}` })

  const after2 = await roomCatchUp(app.db, alice.id, room, 2)
  if (after2.reset) throw new Error('unexpected reset')
  t.same(after2.frames.map(f => f.seq), [3, 4, 5], 'after seq 2: 3, 4, 5')
  t.same(after2.frames.map(f => f.frame.type === 'message:new' && f.frame.payload.content), ['m3', 'm4', 'm5'])
  t.ok(after2.frames.every(f => f.frame.type === 'message:new'), 'as the frames sent live')
  t.equal(after2.upTo, 5)

  const upToDate = await roomCatchUp(app.db, alice.id, room, 5)
  t.same(upToDate, { reset: false, frames: [], upTo: 5 }, 'nothing missed: nothing to send, the client keeps its seq')

  await t.rejects(roomCatchUp(app.db, mallory.id, room, 0), { statusCode: 403, code: 'NOT_A_MEMBER' }, 'not a member: 403')
  await t.rejects(roomCatchUp(app.db, alice.id, 424242, 0), { statusCode: 404, code: 'ROOM_NOT_FOUND' }, 'no such room: 404')

  await seedMessages(app, room, alice.id, MAX_CATCH_UP + 1)
  t.same(await roomCatchUp(app.db, alice.id, room, 0), { reset: true }, `more than ${MAX_CATCH_UP} behind: reset`)
  const within = await roomCatchUp(app.db, alice.id, room, 6)
  t.equal(within.reset, false, `exactly ${MAX_CATCH_UP} behind: served`)
})
