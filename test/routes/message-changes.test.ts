import { sql } from 'kysely'
import t from 'tap'
import { build, createRoom, fixtureUser, joinRoom, sendAs, type Session } from '../helper.js'
import { type Frame, listen, TestSocket } from '../ws-client.js'

// PATCH/DELETE /messages/{id} and the reaction routes (CONTRACT.md Part 2, "Messages"): who may,
// what the feed gets, what changes nothing, and the codes.

const inRoom = (roomId: number, type: string) => (f: Frame): boolean => f.type === type && f.payload.room_id === roomId

t.test('edit and delete', async t => {
  const app = await build(t, { env: { AUTH_CACHE_SECONDS: '0' } })
  const url = await listen(app)
  const alice = await fixtureUser(app)
  const bob = await fixtureUser(app)
  const mallory = await fixtureUser(app)
  const room = await createRoom(app, alice, 'edits')
  await joinRoom(app, bob, room)
  const watcher = await TestSocket.as(t, url, bob)
  const message = await sendAs(app, alice, room, 'helo')
  await watcher.message('helo')

  const edit = async (user: Session, id: number, content: string): Promise<{ statusCode: number, body: any }> => {
    const response = await app.inject({ method: 'PATCH', url: `/api/v1/messages/${id}`, headers: user.auth, payload: { content } })
    return { statusCode: response.statusCode, body: response.json() }
  }

  const edited = await edit(alice, message.id, '  hello  ')
  t.equal(edited.statusCode, 200)
  t.match(edited.body, { id: message.id, seq: message.seq, content: 'hello', deleted_at: null, reactions: [] }, 'trimmed as a send is; it keeps its place')
  t.ok(typeof edited.body.edited_at === 'string', 'edited_at is set')
  const updated = await watcher.next(inRoom(room, 'message:updated'), 'message:updated')
  t.same(updated.payload, { seq: message.seq + 1, room_id: room, message_id: message.id, content: 'hello', edited_at: edited.body.edited_at }, 'the feed: message:updated at the room\'s next seq')

  const same = await edit(alice, message.id, 'hello')
  t.equal(same.statusCode, 200, 'unchanged content: 200')
  t.same(same.body.edited_at, edited.body.edited_at, 'and nothing changed')

  t.match(await edit(bob, message.id, 'mine now'), { statusCode: 403, body: { code: 'NOT_AUTHOR' } }, 'only the author edits')
  const hidden = await edit(mallory, message.id, 'peek')
  const missing = await edit(mallory, 424242, 'peek')
  t.match(hidden, { statusCode: 404, body: { code: 'MESSAGE_NOT_FOUND' } }, 'a room you are not in: 404')
  t.same(hidden, missing, 'the same answer as an id that does not exist')
  t.match(await edit(alice, message.id, '   '), { statusCode: 400 }, 'the send rules apply')
  t.match(await edit(alice, 0, 'x'), { statusCode: 400 })

  const del = async (user: Session, id: number): Promise<{ statusCode: number, body: string }> => {
    const response = await app.inject({ method: 'DELETE', url: `/api/v1/messages/${id}`, headers: user.auth })
    return { statusCode: response.statusCode, body: response.body }
  }
  const bobs = await sendAs(app, bob, room, 'bob says')
  t.match(await del(alice, message.id + 424242), { statusCode: 404 })
  t.match(JSON.parse((await del(mallory, bobs.id)).body), { code: 'MESSAGE_NOT_FOUND' }, 'a non-member cannot even tell it exists')
  const carol = await fixtureUser(app)
  await joinRoom(app, carol, room)
  t.match(JSON.parse((await del(carol, bobs.id)).body), { code: 'NOT_ALLOWED' }, 'another member may not delete it: 403')
  t.equal((await del(bob, bobs.id)).statusCode, 204, 'its author may')
  const deleted = await watcher.next(inRoom(room, 'message:deleted'), 'message:deleted')
  t.same(Object.keys(deleted.payload).sort(), ['message_id', 'room_id', 'seq'])
  t.equal(deleted.payload.message_id, bobs.id)
  t.equal((await del(bob, bobs.id)).statusCode, 204, 'again: 204')
  t.equal((await del(alice, message.id)).statusCode, 204, 'alice deletes her own')
  const secondDelete = await watcher.next(inRoom(room, 'message:deleted'), 'the second message:deleted')
  t.equal(secondDelete.payload.seq, deleted.payload.seq + 1, 'the repeated delete took no seq')

  const history = (await app.inject({ method: 'GET', url: `/api/v1/rooms/${room}/messages`, headers: bob.auth })).json<any[]>()
  const tombstone = history.find(m => m.id === bobs.id)
  t.match(tombstone, { id: bobs.id, seq: bobs.seq, room_id: room, user_id: bob.id, content: '', reactions: [], attachments: [] }, 'a tombstone keeps its place, nothing of its content')
  t.ok(typeof tombstone.deleted_at === 'string')
  t.match(await edit(alice, message.id, 'too late'), { statusCode: 409, body: { code: 'MESSAGE_DELETED' } })

  await t.test('the room owner deletes others\' messages; a site admin does, in any room', async t => {
    const fromCarol = await sendAs(app, carol, room, 'carol says')
    t.equal((await del(alice, fromCarol.id)).statusCode, 204, 'alice created the room: she owns it')
    const fromBob = await sendAs(app, bob, room, 'bob again')
    await sql`update users set role = 'admin' where id = ${mallory.id}`.execute(app.db)
    t.equal((await del(mallory, fromBob.id)).statusCode, 204, 'a site admin, not a member')
    const stored = await app.db.selectFrom('messages').select(['content', 'deleted_at']).where('id', '=', fromBob.id).executeTakeFirstOrThrow()
    t.equal(stored.content, '', 'the content is gone from the database too')
    t.not(stored.deleted_at, null)
  })
})

t.test('MESSAGE_EDIT_WINDOW bounds edits', async t => {
  const app = await build(t, { env: { MESSAGE_EDIT_WINDOW: '60' } })
  const alice = await fixtureUser(app)
  const room = await createRoom(app, alice, 'window')
  const fresh = await sendAs(app, alice, room, 'fresh')
  const old = await sendAs(app, alice, room, 'old')
  await sql`update messages set created_at = now() - interval '61 seconds' where id = ${old.id}`.execute(app.db)
  const ok = await app.inject({ method: 'PATCH', url: `/api/v1/messages/${fresh.id}`, headers: alice.auth, payload: { content: 'fresh!' } })
  t.equal(ok.statusCode, 200, 'within the window')
  const late = await app.inject({ method: 'PATCH', url: `/api/v1/messages/${old.id}`, headers: alice.auth, payload: { content: 'old!' } })
  t.equal(late.statusCode, 403)
  t.equal(late.json().code, 'EDIT_WINDOW_PASSED')
  const stored = await app.db.selectFrom('messages').select(['content', 'edited_at']).where('id', '=', old.id).executeTakeFirstOrThrow()
  t.same(stored, { content: 'old', edited_at: null }, 'nothing changed')
})

t.test('reactions', async t => {
  const app = await build(t)
  const url = await listen(app)
  const alice = await fixtureUser(app)
  const bob = await fixtureUser(app)
  const mallory = await fixtureUser(app)
  const room = await createRoom(app, alice, 'reactions')
  await joinRoom(app, bob, room)
  const watcher = await TestSocket.as(t, url, alice)
  const message = await sendAs(app, alice, room, 'react to me')

  const put = async (user: Session, id: number, emoji: string): Promise<{ statusCode: number, body: any }> => {
    const response = await app.inject({ method: 'PUT', url: `/api/v1/messages/${id}/reactions/${encodeURIComponent(emoji)}`, headers: user.auth })
    return { statusCode: response.statusCode, body: response.body === '' ? undefined : response.json() }
  }
  const remove = async (user: Session, id: number, emoji: string): Promise<number> =>
    (await app.inject({ method: 'DELETE', url: `/api/v1/messages/${id}/reactions/${encodeURIComponent(emoji)}`, headers: user.auth })).statusCode

  t.same(await put(bob, message.id, '👍'), { statusCode: 200, body: { message_id: message.id, emoji: '👍', count: 1, me: true } })
  const added = await watcher.next(inRoom(room, 'reaction:added'), 'reaction:added')
  t.same(added.payload, { seq: message.seq + 1, room_id: room, message_id: message.id, user_id: bob.id, emoji: '👍', count: 1 })
  t.same((await put(bob, message.id, '👍')).body.count, 1, 'reacting again: the same count')
  t.same((await put(alice, message.id, '👍')).body, { message_id: message.id, emoji: '👍', count: 2, me: true })
  t.equal((await watcher.next(inRoom(room, 'reaction:added'), 'the second reaction:added')).payload.seq, message.seq + 2, 'the repeat took no seq')
  for (const emoji of ['👩‍💻', '🇫🇷', '👍🏽', '1️⃣', 'party_parrot', '+1']) {
    t.equal((await put(bob, message.id, emoji)).statusCode, 200, `${emoji} is an emoji`)
  }
  for (const emoji of ['👍👍', 'a b', 'Party', 'x'.repeat(33), '<b>', '👍x']) {
    t.match(await put(bob, message.id, emoji), { statusCode: 400, body: { code: 'INVALID_EMOJI' } }, `${JSON.stringify(emoji)} is refused`)
  }

  const history = async (user: Session): Promise<any> =>
    (await app.inject({ method: 'GET', url: `/api/v1/rooms/${room}/messages`, headers: user.auth })).json<any[]>().find(m => m.id === message.id)
  t.same((await history(alice)).reactions.slice(0, 2), [{ emoji: '👍', count: 2, me: true }, { emoji: '👩‍💻', count: 1, me: false }], 'in order of first use, me for the reader')
  t.same((await history(bob)).reactions[1], { emoji: '👩‍💻', count: 1, me: true })

  t.equal(await remove(alice, message.id, '👍'), 204)
  const removed = await watcher.next(inRoom(room, 'reaction:removed'), 'reaction:removed')
  t.match(removed.payload, { message_id: message.id, user_id: alice.id, emoji: '👍', count: 1 })
  t.equal(await remove(alice, message.id, '👍'), 204, 'not there: 204')
  t.equal(await remove(alice, message.id, 'bad emoji'), 400)

  t.match(await put(mallory, message.id, '👍'), { statusCode: 404, body: { code: 'MESSAGE_NOT_FOUND' } }, 'not a member: 404')
  t.equal(await remove(mallory, message.id, '👍'), 404)

  await t.test('at most 50 distinct emojis on a message', async t => {
    const crowded = await sendAs(app, alice, room, 'crowded')
    for (let i = 0; i < 50; i++) t.equal((await put(alice, crowded.id, `e${i}`)).statusCode, 200)
    t.match(await put(alice, crowded.id, 'e50'), { statusCode: 409, body: { code: 'TOO_MANY_REACTIONS' } }, 'the 51st distinct: 409')
    t.same((await put(bob, crowded.id, 'e7')).body, { message_id: crowded.id, emoji: 'e7', count: 2, me: true }, 'one already there: fine')
    const racing = await Promise.all(['r1', 'r2', 'r3'].map(async emoji => await put(bob, (await sendAs(app, alice, room, `race ${emoji}`)).id, emoji)))
    t.same(racing.map(r => r.statusCode), [200, 200, 200])
  })

  await t.test('a deleted message takes no reactions and shows none', async t => {
    const doomed = await sendAs(app, alice, room, 'doomed')
    await put(bob, doomed.id, '👍')
    await app.inject({ method: 'DELETE', url: `/api/v1/messages/${doomed.id}`, headers: alice.auth })
    t.match(await put(bob, doomed.id, '🎉'), { statusCode: 409, body: { code: 'MESSAGE_DELETED' } })
    t.equal(await remove(bob, doomed.id, '👍'), 204)
    const rows = await app.db.selectFrom('reactions').select('id').where('message_id', '=', doomed.id).execute()
    t.same(rows, [], 'its reactions went with it')
  })
})

t.test('GET /messages/{id}/replies: a thread, oldest first, tombstones included, members only', async t => {
  const app = await build(t)
  const alice = await fixtureUser(app)
  const mallory = await fixtureUser(app)
  const room = await createRoom(app, alice, 'threads')
  const root = await sendAs(app, alice, room, 'root')
  const reply = async (to: number, content: string): Promise<{ id: number, seq: number, reply_to: number }> =>
    (await app.inject({ method: 'POST', url: '/api/v1/messages', headers: alice.auth, payload: { room_id: room, content, reply_to: to } })).json()
  const first = await reply(root.id, 'r1')
  const nested = await reply(first.id, 'r2, to r1')
  t.equal(nested.reply_to, root.id, 'a reply to a reply joins the root\'s thread')
  const third = await reply(root.id, 'r3')
  await sendAs(app, alice, room, 'not in the thread')
  await app.inject({ method: 'DELETE', url: `/api/v1/messages/${nested.id}`, headers: alice.auth })

  const replies = async (id: number, query = ''): Promise<{ statusCode: number, body: any }> => {
    const response = await app.inject({ method: 'GET', url: `/api/v1/messages/${id}/replies${query}`, headers: alice.auth })
    return { statusCode: response.statusCode, body: response.json() }
  }
  const thread = await replies(root.id)
  t.same(thread.body.map((m: { id: number }) => m.id), [first.id, nested.id, third.id], 'the thread, oldest first')
  t.match(thread.body[1], { content: '', reply_to: root.id }, 'a deleted reply stays as a tombstone in its place')
  t.same((await replies(first.id)).body.map((m: { id: number }) => m.id), [first.id, nested.id, third.id], 'a reply\'s id gives its root\'s thread')
  t.same((await replies(root.id, '?limit=2')).body.map((m: { id: number }) => m.id), [nested.id, third.id], 'the newest `limit`')
  t.same((await replies(root.id, `?before=${third.seq}`)).body.map((m: { id: number }) => m.id), [first.id, nested.id], 'before a seq')
  t.same((await replies(root.id, `?after=${first.seq}&limit=1`)).body.map((m: { id: number }) => m.id), [nested.id], 'after a seq')
  t.equal((await replies(root.id, '?before=1&after=1')).statusCode, 400)
  const rootNow = (await app.inject({ method: 'GET', url: `/api/v1/rooms/${room}/messages`, headers: alice.auth })).json<any[]>().find(m => m.id === root.id)
  t.equal(rootNow.reply_count, 2, 'reply_count: the replies not deleted')
  const hidden = await app.inject({ method: 'GET', url: `/api/v1/messages/${root.id}/replies`, headers: mallory.auth })
  t.equal(hidden.statusCode, 404)
  t.equal(hidden.json().code, 'MESSAGE_NOT_FOUND')
})
