import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { sql } from 'kysely'
import { insertRoom } from '../../db/rooms.js'
import { build, createRoom, fixtureUser, joinRoom, sendAs, type Session } from '../helper.js'
import { type Frame, listen, PrivateRedis, TestSocket, twoInstances } from '../ws-client.js'

// Rooms (CONTRACT.md Part 2, "Rooms"): GET, PATCH and DELETE /rooms/{id}, GET /rooms with `q`,
// private rooms on create. The privacy rules of the other routes: private-rooms.test.ts.

interface Answer { statusCode: number, body: any, raw: string }

async function call (app: FastifyInstance, user: Session, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object): Promise<Answer> {
  const response = await app.inject({ method, url, headers: user.auth, ...(payload === undefined ? {} : { payload }) })
  return { statusCode: response.statusCode, body: response.body === '' ? undefined : response.json(), raw: response.body }
}

async function createPrivate (app: FastifyInstance, owner: Session, name: string): Promise<number> {
  const created = await call(app, owner, 'POST', '/api/v1/rooms', { name, is_private: true })
  if (created.statusCode !== 201) throw new Error(`create: ${created.statusCode} ${created.raw}`)
  return created.body.id
}

const makeAdmin = async (app: FastifyInstance, user: Session): Promise<void> => {
  await sql`update users set role = 'admin' where id = ${user.id}`.execute(app.db)
}
const makeModerator = async (app: FastifyInstance, roomId: number, user: Session): Promise<void> => {
  await sql`update room_members set role = 'moderator' where room_id = ${roomId} and user_id = ${user.id}`.execute(app.db)
}
const invite = async (app: FastifyInstance, roomId: number, user: Session, by: Session): Promise<void> => {
  await sql`insert into room_invites (room_id, user_id, invited_by) values (${roomId}, ${user.id}, ${by.id})`.execute(app.db)
}
const ban = async (app: FastifyInstance, roomId: number, user: Session, by: Session): Promise<void> => {
  await sql`insert into room_bans (room_id, user_id, banned_by) values (${roomId}, ${user.id}, ${by.id})`.execute(app.db)
}
/** A DM between two users, as `POST /dms` stores one: private, direct, both members with no role above `member`. */
async function directRoom (app: FastifyInstance, a: Session, b: Session): Promise<number> {
  const room = await insertRoom(app.db, { name: `${a.username} & ${b.username}`, description: null, created_by: a.id, is_private: true, is_direct: true, direct_key: `${Math.min(a.id, b.id)}:${Math.max(a.id, b.id)}` },
    [{ user_id: a.id, role: 'member' }, { user_id: b.id, role: 'member' }])
  return room.id
}
const lastSeq = async (app: FastifyInstance, roomId: number): Promise<number> =>
  (await app.db.selectFrom('rooms').select('last_seq').where('id', '=', roomId).executeTakeFirstOrThrow()).last_seq

/** A public room with its owner, a moderator and a member (who joined in that order), an outsider and a site admin. */
async function staffedRoom (app: FastifyInstance, name: string) {
  const [owner, moderator, member, outsider, admin] = [await fixtureUser(app), await fixtureUser(app), await fixtureUser(app), await fixtureUser(app), await fixtureUser(app)] as const
  await makeAdmin(app, admin)
  const room = await createRoom(app, owner, name)
  for (const user of [moderator, member]) await joinRoom(app, user, room)
  await makeModerator(app, room, moderator)
  return { owner, moderator, member, outsider, admin, room }
}

const MISSING = 2147483647
const AUTH_NOW = { env: { AUTH_CACHE_SECONDS: '0' } }

t.test('GET /rooms/{id}: anyone for a public room; members and invitees for a private one; 404 for everyone else, the body of a missing id', async t => {
  const app = await build(t, AUTH_NOW)
  const [owner, member, invitee, outsider, banned, admin] = [await fixtureUser(app), await fixtureUser(app), await fixtureUser(app), await fixtureUser(app), await fixtureUser(app), await fixtureUser(app)] as const
  await makeAdmin(app, admin)

  const open = await createRoom(app, owner, 'open to all')
  await joinRoom(app, member, open)
  const seen = await call(app, outsider, 'GET', `/api/v1/rooms/${open}`)
  t.equal(seen.statusCode, 200)
  t.same(Object.keys(seen.body).sort(), ['created_at', 'created_by', 'description', 'id', 'is_direct', 'is_private', 'member_count', 'my_role', 'name'])
  t.match(seen.body, { id: open, name: 'open to all', description: null, created_by: owner.id, is_private: false, is_direct: false, member_count: 2, my_role: null },
    'a public room, to a non-member: my_role null')
  t.equal((await call(app, member, 'GET', `/api/v1/rooms/${open}`)).body.my_role, 'member')
  t.equal((await call(app, owner, 'GET', `/api/v1/rooms/${open}`)).body.my_role, 'owner')

  const hidden = await createPrivate(app, owner, 'hidden')
  await invite(app, hidden, invitee, owner)
  await invite(app, hidden, member, owner)
  await joinRoom(app, member, hidden) // an invitee joins
  await ban(app, hidden, banned, owner)
  t.match((await call(app, owner, 'GET', `/api/v1/rooms/${hidden}`)).body, { id: hidden, is_private: true, member_count: 2, my_role: 'owner' })
  t.match((await call(app, member, 'GET', `/api/v1/rooms/${hidden}`)).body, { id: hidden, my_role: 'member' }, 'a member')
  t.match((await call(app, invitee, 'GET', `/api/v1/rooms/${hidden}`)).body, { id: hidden, is_private: true, my_role: null }, 'an invitee sees it before joining')

  const missing = await call(app, outsider, 'GET', `/api/v1/rooms/${MISSING}`)
  t.equal(missing.statusCode, 404)
  t.same(missing.body, { error: 'Room not found', code: 'ROOM_NOT_FOUND' })
  for (const [who, user] of [['a user never invited', outsider], ['a banned user', banned], ['a site admin who is not a member', admin]] as const) {
    const answer = await call(app, user, 'GET', `/api/v1/rooms/${hidden}`)
    t.equal(answer.statusCode, 404, who)
    t.equal(answer.raw, missing.raw, `${who}: byte for byte the answer for an id that does not exist`)
  }

  t.equal((await call(app, member, 'POST', `/api/v1/rooms/${hidden}/leave`)).statusCode, 204)
  t.equal((await call(app, member, 'GET', `/api/v1/rooms/${hidden}`)).raw, missing.raw, 'read again at once: a member who left no longer sees it')

  t.equal((await call(app, owner, 'GET', '/api/v1/rooms/abc')).statusCode, 400)
  t.equal((await app.inject({ url: `/api/v1/rooms/${open}` })).statusCode, 401)
})

t.test('create with is_private: true; GET /rooms lists public rooms and your private ones, never DMs; q is a literal piece of the name', async t => {
  const app = await build(t)
  const alice = await fixtureUser(app)
  const bob = await fixtureUser(app)
  const carol = await fixtureUser(app)

  const created = await call(app, alice, 'POST', '/api/v1/rooms', { name: 'Secret Plans', is_private: true })
  t.equal(created.statusCode, 201)
  t.match(created.body, { name: 'Secret Plans', is_private: true, is_direct: false, member_count: 1, my_role: 'owner' })
  const secret = created.body.id as number
  t.equal((await call(app, bob, 'POST', `/api/v1/rooms/${secret}/join`)).statusCode, 404, 'not invited: the private room cannot be joined, nor seen')
  const explicit = await call(app, alice, 'POST', '/api/v1/rooms', { name: 'Public Plans', is_private: false })
  t.equal(explicit.body.is_private, false)
  const plain = await call(app, alice, 'POST', '/api/v1/rooms', { name: 'Plain' })
  t.equal(plain.body.is_private, false, 'public unless asked')
  t.equal((await call(app, alice, 'POST', '/api/v1/rooms', { name: 'x', is_private: 'yes' })).statusCode, 400, 'is_private must be a boolean')

  const bobs = await createPrivate(app, bob, 'Bob Plans')
  const dm = await directRoom(app, alice, bob)
  const literal = [
    await createRoom(app, carol, '100% sure'),
    await createRoom(app, carol, '1000 sure'),
    await createRoom(app, carol, 'snake_case'),
    await createRoom(app, carol, 'snakeXcase'),
    await createRoom(app, carol, 'back\\slash'),
    await createRoom(app, carol, 'backslash')
  ]

  const list = async (user: Session, query = ''): Promise<number[]> => {
    const answer = await call(app, user, 'GET', `/api/v1/rooms?limit=100${query}`)
    t.equal(answer.statusCode, 200, `GET /rooms${query}`)
    return answer.body.map((r: { id: number }) => r.id)
  }
  const ofAlice = await list(alice)
  t.ok(ofAlice.includes(secret), 'alice sees her private room')
  t.notOk(ofAlice.includes(bobs), 'not bob\'s, which she is not in')
  t.notOk(ofAlice.includes(dm), 'never a DM (they are in GET /users/me/rooms)')
  const ofCarol = await list(carol)
  t.notOk(ofCarol.includes(secret) || ofCarol.includes(bobs), 'an outsider sees no private room')
  t.ok(ofCarol.includes(explicit.body.id) && ofCarol.includes(plain.body.id), 'and every public one')

  await invite(app, secret, carol, alice)
  t.notOk((await list(carol)).includes(secret), 'an invite alone does not list it (GET /users/me/invites does)')
  await joinRoom(app, carol, secret)
  t.ok((await list(carol)).includes(secret), 'a member sees it')
  t.equal((await call(app, carol, 'POST', `/api/v1/rooms/${secret}/leave`)).statusCode, 204)
  t.notOk((await list(carol)).includes(secret), 'and after leaving no longer')

  t.same(await list(alice, '&q=plans'), [secret, explicit.body.id], 'q: a case-insensitive piece of the name, private rooms you are in included')
  t.same(await list(carol, '&q=PLANS'), [explicit.body.id])
  t.same(await list(carol, `&q=${encodeURIComponent('%')}`), [literal[0]], '% is a character, not a wildcard')
  t.same(await list(carol, `&q=${encodeURIComponent('0% s')}`), [literal[0]])
  t.same(await list(carol, '&q=e_c'), [literal[2]], '_ is a character, not any character')
  t.same(await list(carol, `&q=${encodeURIComponent('k\\s')}`), [literal[4]], 'a backslash is a character too')
  t.same(await list(carol, '&q=nothing-like-this'), [])
  t.equal((await call(app, carol, 'GET', '/api/v1/rooms?q=')).statusCode, 400, 'an empty q is 400')
  t.equal((await call(app, carol, 'GET', `/api/v1/rooms?q=${'x'.repeat(101)}`)).statusCode, 400, 'q over 100 characters is 400')
})

t.test('PATCH /rooms/{id}: who may change what; room:updated live, over HTTP and in sync, the same frame', async t => {
  const app = await build(t, AUTH_NOW)
  const url = await listen(app)
  const { owner, moderator, member, outsider, admin, room } = await staffedRoom(app, 'Town Hall') // joins: seq 1, 2
  const watcher = await TestSocket.as(t, url, member)

  const renamed = await call(app, owner, 'PATCH', `/api/v1/rooms/${room}`, { name: '  Town Square  ', description: '  Everything local  ' }) // 3
  t.equal(renamed.statusCode, 200)
  t.match(renamed.body, { id: room, name: 'Town Square', description: 'Everything local', is_private: false, member_count: 3, my_role: 'owner' }, 'name and description trimmed; the answer is the room as the caller sees it')
  const live = await watcher.next(f => f.type === 'room:updated', 'room:updated')
  t.same(live.payload, { seq: 3, room_id: room, room: { ...renamed.body, my_role: null } }, 'the frame: the room as it is now, with nobody\'s role')

  const events = await call(app, member, 'GET', `/api/v1/rooms/${room}/events?after=2`)
  t.same(events.body, [live], 'GET /events serves the frame that was sent live')
  const resumed = await TestSocket.as(t, url, member)
  resumed.send({ type: 'sync', payload: { rooms: { [room]: 2 } } })
  await resumed.next(f => f.type === 'sync:done')
  t.same(resumed.all(f => f.type === 'room:updated'), [live], 'and so does sync')

  const byModerator = await call(app, moderator, 'PATCH', `/api/v1/rooms/${room}`, { description: null }) // 4
  t.equal(byModerator.statusCode, 200, 'a moderator changes the description')
  t.match(byModerator.body, { name: 'Town Square', description: null, my_role: 'moderator' })
  t.equal((await watcher.next(f => f.type === 'room:updated' && f.payload.seq === 4, 'the second room:updated')).payload.room.description, null)
  t.equal((await call(app, moderator, 'PATCH', `/api/v1/rooms/${room}`, { name: 'Mod Square', is_private: false })).statusCode, 200,
    'a moderator sending the privacy the room already has changes nothing of it') // 5
  const privacyByModerator = await call(app, moderator, 'PATCH', `/api/v1/rooms/${room}`, { name: 'Not this', is_private: true })
  t.match(privacyByModerator, { statusCode: 403, body: { code: 'NOT_ALLOWED' } }, 'privacy is the owner\'s')
  t.equal((await call(app, owner, 'GET', `/api/v1/rooms/${room}`)).body.name, 'Mod Square', 'a refused request changes nothing, not even the name it carried')

  const before = await lastSeq(app, room)
  for (const body of [{ name: 'Mod Square' }, { name: ' Mod Square ', description: '' }, { is_private: false }]) {
    const same = await call(app, owner, 'PATCH', `/api/v1/rooms/${room}`, body)
    t.equal(same.statusCode, 200, `no change (${JSON.stringify(body)}): 200`)
    t.match(same.body, { name: 'Mod Square', description: null })
  }
  t.equal(await lastSeq(app, room), before, 'and no feed entry')

  for (const [who, user, status, code] of [
    ['a member', member, 403, 'NOT_ALLOWED'],
    ['a non-member', outsider, 403, 'NOT_ALLOWED'],
    ['a site admin who is not a member', admin, 403, 'NOT_ALLOWED']
  ] as const) {
    t.match(await call(app, user, 'PATCH', `/api/v1/rooms/${room}`, { name: 'mine now' }), { statusCode: status, body: { code } }, who)
  }
  t.match(await call(app, owner, 'PATCH', `/api/v1/rooms/${MISSING}`, { name: 'x' }), { statusCode: 404, body: { code: 'ROOM_NOT_FOUND' } })

  for (const [label, body, error] of [
    ['an empty body', {}, /^request body /],
    ['a blank name', { name: ' \t ' }, /^name must not be empty/],
    ['a name over 255 characters after trimming', { name: ` ${'n'.repeat(256)} ` }, /^name must be at most 255 characters/],
    ['a description over 2000 characters', { description: 'd'.repeat(2001) }, /^description /],
    ['is_private not a boolean', { is_private: 1 }, /^is_private must be a boolean/],
    ['NUL in the name', { name: 'a\u0000b' }, /^name /]
  ] as const) {
    const refused = await call(app, owner, 'PATCH', `/api/v1/rooms/${room}`, body)
    t.equal(refused.statusCode, 400, label)
    t.match(refused.body.error, error, `${label}: ${String(refused.body.error)}`)
  }
  t.equal((await call(app, owner, 'PATCH', `/api/v1/rooms/${room}`, { name: `  ${'m'.repeat(255)}  ` })).body.name, 'm'.repeat(255), '255 characters after trimming fit') // 6

  await t.test('the owner makes the room private, then public again; the replay shows each change as it was', async t => {
    const madePrivate = await call(app, owner, 'PATCH', `/api/v1/rooms/${room}`, { is_private: true, name: 'Back Room' }) // 7
    t.match(madePrivate.body, { is_private: true, name: 'Back Room' })
    t.match(await call(app, outsider, 'GET', `/api/v1/rooms/${room}`), { statusCode: 404, body: { code: 'ROOM_NOT_FOUND' } }, 'outsiders no longer see it')
    t.match(await call(app, outsider, 'PATCH', `/api/v1/rooms/${room}`, { name: 'x' }), { statusCode: 404, body: { code: 'ROOM_NOT_FOUND' } }, 'nor change it: 404, not 403')
    t.match(await call(app, admin, 'PATCH', `/api/v1/rooms/${room}`, { name: 'x' }), { statusCode: 404 }, 'a site admin who is not a member neither')
    t.match(await call(app, outsider, 'POST', `/api/v1/rooms/${room}/join`), { statusCode: 404 }, 'nor join it')
    t.equal((await call(app, member, 'GET', `/api/v1/rooms/${room}`)).body.is_private, true, 'members still do')
    const madePublic = await call(app, owner, 'PATCH', `/api/v1/rooms/${room}`, { is_private: false }) // 8
    t.equal(madePublic.body.is_private, false)
    t.equal((await call(app, outsider, 'GET', `/api/v1/rooms/${room}`)).statusCode, 200, 'public again: visible to all')
    await watcher.next(f => f.type === 'room:updated' && f.payload.seq === 8, 'the last room:updated')

    const replay = (await call(app, member, 'GET', `/api/v1/rooms/${room}/events?after=2`)).body.filter((f: Frame) => f.type === 'room:updated')
    t.same(replay.map((f: Frame) => [f.payload.seq, f.payload.room.name, f.payload.room.description, f.payload.room.is_private]), [
      [3, 'Town Square', 'Everything local', false], [4, 'Town Square', null, false], [5, 'Mod Square', null, false], [6, 'm'.repeat(255), null, false],
      [7, 'Back Room', null, true], [8, 'Back Room', null, false]
    ], 'each room:updated shows the room as it was stored at that change')
    t.same(replay, watcher.all(f => f.type === 'room:updated'), 'exactly the frames sent live')
  })

  await t.test('a DM cannot be renamed: 403 DIRECT_ROOM for its members, 404 for anyone else', async t => {
    const dm = await directRoom(app, owner, member)
    t.match(await call(app, owner, 'PATCH', `/api/v1/rooms/${dm}`, { name: 'our room' }), { statusCode: 403, body: { code: 'DIRECT_ROOM' } })
    t.match(await call(app, member, 'PATCH', `/api/v1/rooms/${dm}`, { is_private: false }), { statusCode: 403, body: { code: 'DIRECT_ROOM' } })
    t.match(await call(app, outsider, 'PATCH', `/api/v1/rooms/${dm}`, { name: 'x' }), { statusCode: 404, body: { code: 'ROOM_NOT_FOUND' } })
    t.match((await call(app, member, 'GET', `/api/v1/rooms/${dm}`)).body, { is_direct: true, is_private: true, member_count: 2, my_role: 'member' })
  })
})

t.test('DELETE /rooms/{id}: the owner or a site admin; the room goes with everything in it', async t => {
  const app = await build(t, AUTH_NOW)
  const { owner, moderator, member, outsider, admin, room } = await staffedRoom(app, 'doomed')
  const root = await sendAs(app, member, room, 'a thread root')
  const reply = await call(app, owner, 'POST', '/api/v1/messages', { room_id: room, content: 'a reply', reply_to: root.id })
  t.equal(reply.statusCode, 201)
  t.equal((await call(app, member, 'PATCH', `/api/v1/messages/${root.id}`, { content: 'edited' })).statusCode, 200)
  await app.inject({ method: 'PUT', url: `/api/v1/messages/${root.id}/reactions/${encodeURIComponent('👍')}`, headers: owner.auth })
  await invite(app, room, outsider, member)
  await ban(app, room, admin, owner)

  for (const [who, user, status, code] of [
    ['a member', member, 403, 'NOT_ALLOWED'],
    ['a moderator', moderator, 403, 'NOT_ALLOWED'],
    ['a non-member (invited)', outsider, 403, 'NOT_ALLOWED']
  ] as const) {
    t.match(await call(app, user, 'DELETE', `/api/v1/rooms/${room}`), { statusCode: status, body: { code } }, who)
  }
  t.equal((await call(app, member, 'GET', `/api/v1/rooms/${room}`)).statusCode, 200, 'refused: still there')

  t.equal((await call(app, owner, 'DELETE', `/api/v1/rooms/${room}`)).statusCode, 204, 'the owner deletes it')
  const missing = await call(app, owner, 'GET', `/api/v1/rooms/${MISSING}`)
  t.equal((await call(app, owner, 'GET', `/api/v1/rooms/${room}`)).raw, missing.raw, 'gone: 404 as for an id that never existed')
  t.match(await call(app, owner, 'DELETE', `/api/v1/rooms/${room}`), { statusCode: 404, body: { code: 'ROOM_NOT_FOUND' } }, 'deleting again: 404')
  t.match(await call(app, member, 'GET', `/api/v1/rooms/${room}/messages`), { statusCode: 404 })
  t.match(await call(app, member, 'GET', `/api/v1/messages/${root.id}/replies`), { statusCode: 404, body: { code: 'MESSAGE_NOT_FOUND' } })
  t.notOk((await call(app, member, 'GET', '/api/v1/users/me/rooms')).body.some((r: { id: number }) => r.id === room), 'not among the member\'s rooms')
  const left = await sql<{ n: number }>`select
      (select count(*) from messages where room_id = ${room}) + (select count(*) from room_events where room_id = ${room})
    + (select count(*) from room_members where room_id = ${room}) + (select count(*) from room_invites where room_id = ${room})
    + (select count(*) from room_bans where room_id = ${room}) + (select count(*) from reactions where message_id in (${root.id}, ${reply.body.id})) as n`.execute(app.db)
  t.equal(Number(left.rows[0]!.n), 0, 'its messages, reactions, feed, members, invites and bans are gone with it')

  await t.test('a site admin deletes any room, member or not, private included; for anything else a private room stays invisible to them', async t => {
    const hidden = await createPrivate(app, owner, 'hidden')
    t.match(await call(app, admin, 'GET', `/api/v1/rooms/${hidden}`), { statusCode: 404 })
    t.match(await call(app, outsider, 'DELETE', `/api/v1/rooms/${hidden}`), { statusCode: 404, body: { code: 'ROOM_NOT_FOUND' } }, 'a non-member who is not an admin: 404')
    t.equal((await call(app, admin, 'DELETE', `/api/v1/rooms/${hidden}`)).statusCode, 204)
    t.match(await call(app, owner, 'GET', `/api/v1/rooms/${hidden}`), { statusCode: 404 })
    t.match(await call(app, admin, 'DELETE', `/api/v1/rooms/${MISSING}`), { statusCode: 404, body: { code: 'ROOM_NOT_FOUND' } })
  })

  await t.test('a DM has no owner: only a site admin deletes it', async t => {
    const dm = await directRoom(app, owner, member)
    t.match(await call(app, owner, 'DELETE', `/api/v1/rooms/${dm}`), { statusCode: 403, body: { code: 'DIRECT_ROOM' } }, 'one of its two members')
    t.match(await call(app, outsider, 'DELETE', `/api/v1/rooms/${dm}`), { statusCode: 404 }, 'anyone else: it is private')
    t.equal((await call(app, admin, 'DELETE', `/api/v1/rooms/${dm}`)).statusCode, 204, 'a site admin')
  })

  t.equal((await call(app, owner, 'DELETE', '/api/v1/rooms/0')).statusCode, 400)
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/rooms/${MISSING}` })).statusCode, 401)
})

t.test('DELETE /rooms/{id} across two instances: every member socket gets room:deleted, then nothing of the room', async t => {
  const redis = await PrivateRedis.start(t)
  const { a, b, urlA, urlB } = await twoInstances(t, redis.url)
  const owner = await fixtureUser(a)
  const bob = await fixtureUser(b)
  const carol = await fixtureUser(a)
  const room = await createRoom(a, owner, 'going away')
  const other = await createRoom(a, owner, 'staying')
  for (const user of [bob, carol]) {
    await joinRoom(b, user, room)
    await joinRoom(b, user, other)
  }
  const sockets = {
    ownerA: await TestSocket.as(t, urlA, owner),
    bobB: await TestSocket.as(t, urlB, bob),
    bobA: await TestSocket.as(t, urlA, bob),
    carolB: await TestSocket.as(t, urlB, carol)
  }
  await sendAs(b, carol, room, 'before')
  for (const socket of Object.values(sockets)) await socket.message('before')

  // Sends racing the deletion, from the other instance: stored before it (and delivered before
  // room:deleted) or refused (404), never delivered after it.
  const racing = Array.from({ length: 10 }, async (_, i) => await b.inject({ method: 'POST', url: '/api/v1/messages', headers: carol.auth, payload: { room_id: room, content: `racing ${i}` } }))
  const deleted = await a.inject({ method: 'DELETE', url: `/api/v1/rooms/${room}`, headers: owner.auth })
  t.equal(deleted.statusCode, 204)
  for (const answer of await Promise.all(racing)) t.ok([201, 404].includes(answer.statusCode), `a racing send: ${answer.statusCode}`)

  for (const [name, socket] of Object.entries(sockets)) {
    const frame = await socket.next(f => f.type === 'room:deleted', `room:deleted on ${name}`)
    t.same(frame.payload, { room_id: room }, `${name} gets room:deleted`)
  }
  t.match(await b.inject({ method: 'POST', url: '/api/v1/messages', headers: bob.auth, payload: { room_id: room, content: 'after' } }), { statusCode: 404 })
  sockets.bobB.send({ type: 'message:send', payload: { room_id: room, content: 'after, over ws' } })
  t.match((await sockets.bobB.error()).payload, { code: 'ROOM_NOT_FOUND' })
  sockets.carolB.send({ type: 'sync', payload: { rooms: { [room]: 0 } } })
  t.match((await sockets.carolB.next(f => f.type === 'error', 'sync of the deleted room')).payload, { code: 'ROOM_NOT_FOUND', room_id: room })
  t.same((await sockets.carolB.next(f => f.type === 'sync:done')).payload, { rooms: {} })

  // Barrier: a message in the other room reaches every socket after anything the deleted room could still send.
  await sendAs(a, owner, other, 'barrier')
  for (const [name, socket] of Object.entries(sockets)) {
    await socket.message('barrier')
    const at = socket.received.findIndex(f => f.type === 'room:deleted')
    const later = socket.received.slice(at + 1).filter(f => f.payload?.room_id === room && f.type !== 'error')
    t.same(later, [], `${name}: nothing of the room after room:deleted`)
    t.equal(socket.all(f => f.type === 'room:deleted').length, 1, `${name}: room:deleted once`)
  }
  const outsider = await TestSocket.as(t, urlB, await fixtureUser(b))
  await sendAs(a, owner, other, 'second barrier')
  t.same(outsider.all(f => f.type === 'room:deleted'), [], 'a socket that was not in the room hears nothing')
})
