import t from 'tap'
import { sql } from 'kysely'
import type { FastifyInstance } from 'fastify'
import { build, createRoom, fixtureUser, joinRoom, json, type Session } from '../helper.js'
import { type Frame, listen, TestSocket } from '../ws-client.js'

interface Message { id: number, room_id: number, user_id: number, content: string, seq: number, client_msg_id: string | null }

const isNew = (f: Frame): boolean => f.type === 'message:new'

async function rest (app: FastifyInstance, by: Session, payload: Record<string, unknown>): Promise<{ status: number, body: any }> {
  const res = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: by.auth, payload })
  return { status: res.statusCode, body: json(res) }
}

async function markers (app: FastifyInstance, roomId: number): Promise<Map<number, number>> {
  const rows = await app.db.selectFrom('room_members').select(['user_id', 'last_read_seq']).where('room_id', '=', roomId).execute()
  return new Map(rows.map(r => [r.user_id, r.last_read_seq]))
}

t.test('concurrent sends into one room from many users, over REST and WebSocket: seqs 1..N, each sender gets its own message', async t => {
  const app = await build(t)
  const url = await listen(app)
  const owner = await fixtureUser(app)
  const room = await createRoom(app, owner, 'busy')
  const restUsers = await Promise.all(Array.from({ length: 5 }, async () => await fixtureUser(app)))
  const wsUsers = await Promise.all(Array.from({ length: 5 }, async () => await fixtureUser(app)))
  for (const user of [...restUsers, ...wsUsers]) await joinRoom(app, user, room)
  // The joins took seqs 1..10 (member:joined): the messages come after them.
  const base = 10
  const watcher = await TestSocket.as(t, url, owner)
  const sockets = await Promise.all(wsUsers.map(async user => await TestSocket.as(t, url, user)))
  const perUser = 6
  const total = (restUsers.length + wsUsers.length) * perUser

  // Every send at once: REST requests all in flight together, and each socket's frames sent in one go.
  const restSends = restUsers.flatMap(user => Array.from({ length: perUser }, async (_, i) => ({ user, i, answer: await rest(app, user, { room_id: room, content: `${user.id} says ${i}`, client_msg_id: `r-${i}` }) })))
  sockets.forEach((socket, n) => { for (let i = 0; i < perUser; i++) socket.send({ type: 'message:send', payload: { room_id: room, content: `${wsUsers[n]!.id} says ${i}`, client_msg_id: `w-${i}` } }) })

  for (const { user, i, answer } of await Promise.all(restSends)) {
    t.equal(answer.status, 201)
    t.match(answer.body, { room_id: room, user_id: user.id, content: `${user.id} says ${i}`, client_msg_id: `r-${i}` }, 'a REST sender gets its own message back')
  }
  for (const [n, socket] of sockets.entries()) {
    for (let i = 0; i < perUser; i++) {
      const own = await socket.next(f => isNew(f) && f.payload.user_id === wsUsers[n]!.id && f.payload.client_msg_id === `w-${i}`, `own message:new w-${i}`)
      t.equal(own.payload.content, `${wsUsers[n]!.id} says ${i}`)
    }
  }
  const seen: Message[] = []
  while (seen.length < total) seen.push((await watcher.next(isNew, 'message:new')).payload)
  t.same(seen.map(m => m.seq), Array.from({ length: total }, (_, i) => base + i + 1), 'the watcher got seqs 1..N (after the joins) in order, without gap or duplicate')
  t.equal(new Set(seen.map(m => m.id)).size, total, 'N distinct messages')

  const stored = await app.db.selectFrom('messages').select(['seq', 'user_id', 'content', 'created_at']).where('room_id', '=', room).orderBy('seq').execute()
  t.same(stored.map(m => m.seq), Array.from({ length: total }, (_, i) => base + i + 1), 'stored with seqs 1..N (after the joins)')
  t.equal((await app.db.selectFrom('rooms').select('last_seq').where('id', '=', room).executeTakeFirstOrThrow()).last_seq, base + total)
  // Rows stored by one statement share its transaction's time: fewer times than messages means
  // sends were stored together.
  t.ok(new Set(stored.map(m => new Date(m.created_at).getTime())).size < total, 'some sends were stored together, in one statement')

  const marks = await markers(app, room)
  for (const user of [...restUsers, ...wsUsers]) {
    t.equal(marks.get(user.id), Math.max(...stored.filter(m => m.user_id === user.id).map(m => m.seq)), 'each sender\'s read marker is at their newest message')
  }
  t.equal(marks.get(owner.id), 0, 'a member who sent nothing has read nothing')
})

t.test('sends that wait together each get their own answer: a non-member, retries of one client_msg_id, a bad reply_to, good ones', async t => {
  const app = await build(t)
  const alice = await fixtureUser(app)
  const bob = await fixtureUser(app)
  const outsider = await fixtureUser(app)
  const room = await createRoom(app, alice, 'mixed')
  await joinRoom(app, bob, room)
  const original = await rest(app, alice, { room_id: room, content: 'original', client_msg_id: 'dup' })
  t.equal(original.status, 201)

  const [outside, retry, reused, twiceA, twiceB, badReply, good1, good2, noRoom] = await Promise.all([
    rest(app, outsider, { room_id: room, content: 'let me in' }),
    rest(app, alice, { room_id: room, content: 'original', client_msg_id: 'dup' }),
    rest(app, alice, { room_id: room, content: 'something else', client_msg_id: 'dup' }),
    rest(app, bob, { room_id: room, content: 'twice', client_msg_id: 'same' }),
    rest(app, bob, { room_id: room, content: 'twice', client_msg_id: 'same' }),
    rest(app, bob, { room_id: room, content: 'reply to nothing', reply_to: 2_000_000_000 }),
    rest(app, alice, { room_id: room, content: 'good one' }),
    rest(app, bob, { room_id: room, content: 'good two' }),
    rest(app, alice, { room_id: 424242, content: 'nowhere' })
  ])
  t.match(outside, { status: 403, body: { code: 'NOT_A_MEMBER' } })
  // Seq 1 is bob's member:joined.
  t.match(retry, { status: 200, body: { id: original.body.id, seq: 2 } }, 'a retry answers the original')
  t.match(reused, { status: 409, body: { code: 'CLIENT_MSG_ID_REUSED' } })
  t.same([twiceA.status, twiceB.status].sort(), [200, 201], 'one client_msg_id sent twice at once: stored once, the other answers it')
  t.equal(twiceA.body.id, twiceB.body.id)
  t.match(badReply, { status: 400, body: { code: 'INVALID_REPLY_TO' } })
  t.match([good1, good2], [{ status: 201, body: { content: 'good one' } }, { status: 201, body: { content: 'good two' } }])
  t.match(noRoom, { status: 404, body: { code: 'ROOM_NOT_FOUND' } })

  const seqs = [twiceA, twiceB, good1, good2].filter(r => r.status === 201).map(r => r.body.seq as number).sort((a, b) => a - b)
  t.same(seqs, [3, 4, 5], 'the stored sends took 3, 4, 5: no seq went to a refused one')
  const stored = await app.db.selectFrom('messages').select('seq').where('room_id', '=', room).orderBy('seq').execute()
  t.same(stored.map(m => m.seq), [2, 3, 4, 5])
})

t.test('reply_to: a message of the same room that is not deleted; a reply to a reply joins the root\'s thread', async t => {
  const app = await build(t)
  const url = await listen(app)
  const alice = await fixtureUser(app)
  const bob = await fixtureUser(app)
  const outsider = await fixtureUser(app)
  const room = await createRoom(app, alice, 'threads')
  await joinRoom(app, bob, room)
  const other = await createRoom(app, alice, 'other')
  const socket = await TestSocket.as(t, url, bob)

  const root = (await rest(app, alice, { room_id: room, content: 'root' })).body as Message
  const elsewhere = (await rest(app, alice, { room_id: other, content: 'in the other room' })).body as Message
  const gone = (await rest(app, alice, { room_id: room, content: 'soon deleted' })).body as Message
  await sql`update messages set deleted_at = now(), content = '' where id = ${gone.id}`.execute(app.db)

  const reply = await rest(app, bob, { room_id: room, content: 'a reply', reply_to: root.id })
  t.equal(reply.status, 201)
  const nested = await rest(app, alice, { room_id: room, content: 'a reply to the reply', reply_to: reply.body.id })
  t.equal(nested.status, 201)
  socket.send({ type: 'message:send', payload: { room_id: room, content: 'over the socket', reply_to: nested.body.id } })
  const frame = await socket.message('over the socket')
  t.equal(frame.payload.reply_to, root.id, 'over WebSocket too; message:new carries the root')
  const rows = await app.db.selectFrom('messages').select(['id', 'reply_to', 'reply_count']).where('room_id', '=', room).orderBy('seq').execute()
  t.same(rows.map(r => [r.id, r.reply_to, r.reply_count]), [
    [root.id, null, 3], [gone.id, null, 0], [reply.body.id, root.id, 0], [nested.body.id, root.id, 0], [frame.payload.id, root.id, 0]
  ], 'every reply is stored with the root, which counts them')

  for (const [name, replyTo] of [['a message of another room', elsewhere.id], ['a deleted message', gone.id], ['no such message', 2_000_000_000]] as const) {
    t.match(await rest(app, bob, { room_id: room, content: 'refused', reply_to: replyTo }), { status: 400, body: { code: 'INVALID_REPLY_TO' } }, name)
  }
  socket.send({ type: 'message:send', payload: { room_id: room, content: 'refused', reply_to: elsewhere.id } })
  t.match((await socket.error()).payload, { code: 'INVALID_REPLY_TO' }, 'over WebSocket: an error frame')
  t.match(await rest(app, outsider, { room_id: room, content: 'refused', reply_to: root.id }), { status: 403, body: { code: 'NOT_A_MEMBER' } }, 'a non-member learns nothing about the message')
  for (const [name, replyTo] of [['a string', String(root.id)], ['zero', 0], ['too large', 2_147_483_648]] as const) {
    t.match(await rest(app, bob, { room_id: room, content: 'refused', reply_to: replyTo }), { status: 400, body: { error: /^reply_to /, code: 'VALIDATION_ERROR' } }, name)
  }
  t.equal((await app.db.selectFrom('rooms').select('last_seq').where('id', '=', room).executeTakeFirstOrThrow()).last_seq, 6, 'no refused send took a seq (1 is bob\'s join)')
})

t.test('a send moves the sender\'s read marker to it, never back', async t => {
  const app = await build(t)
  const alice = await fixtureUser(app)
  const bob = await fixtureUser(app)
  const room = await createRoom(app, alice, 'markers')
  await joinRoom(app, bob, room)
  await rest(app, alice, { room_id: room, content: 'one' })
  const two = await rest(app, bob, { room_id: room, content: 'two' })
  // Seq 1 is bob's member:joined.
  t.same([...(await markers(app, room))].sort(), [[alice.id, 2], [bob.id, 3]].sort())
  t.equal(two.body.seq, 3)
  await app.db.updateTable('room_members').set({ last_read_seq: 99 }).where('room_id', '=', room).where('user_id', '=', alice.id).execute()
  await rest(app, alice, { room_id: room, content: 'three' })
  t.equal((await markers(app, room)).get(alice.id), 99, 'a marker ahead of the send stays where it is')
})
