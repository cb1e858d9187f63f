import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { sql } from 'kysely'
import { insertRoom } from '../../db/rooms.js'
import { build, createRoom, fixtureUser, joinRoom, redisUrl, sendAs, type Session } from '../helper.js'
import { type Frame, listen, TestSocket, twoInstances } from '../ws-client.js'

// Room moderation (CONTRACT.md Part 2, "Rooms"): the member list, roles, kicks, bans, mutes, and
// who may do which to whom.

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

async function call (app: FastifyInstance, user: Session, method: Method, url: string, payload?: object): Promise<{ statusCode: number, body: any }> {
  const response = await app.inject({ method, url, headers: user.auth, ...(payload === undefined ? {} : { payload }) })
  return { statusCode: response.statusCode, body: response.body === '' ? undefined : response.json() }
}

/** A refusal: its status and code. */
const refused = (statusCode: number, code: string): { statusCode: number, body: { code: string } } => ({ statusCode, body: { code } })

const FOREVER = '9999-12-31T23:59:59.000Z'

/** Frames of the room's feed (those with a seq). */
const feedOf = (roomId: number) => (f: Frame): boolean => f.payload?.room_id === roomId && typeof f.payload?.seq === 'number'

/** A public room with an owner, a moderator and two plain members, each with their own socket. */
async function cast (t: Test, app: FastifyInstance, url?: string) {
  const owner = await fixtureUser(app)
  const mod = await fixtureUser(app)
  const alice = await fixtureUser(app)
  const bob = await fixtureUser(app)
  const outsider = await fixtureUser(app)
  const room = await createRoom(app, owner, 'moderated')
  for (const user of [mod, alice, bob]) await joinRoom(app, user, room)
  const promoted = await call(app, owner, 'PATCH', `/api/v1/rooms/${room}/members/${mod.id}`, { role: 'moderator' })
  if (promoted.statusCode !== 200) throw new Error(`promote: ${promoted.statusCode}`)
  const open = async (url: string) => ({
    owner: await TestSocket.as(t, url, owner),
    mod: await TestSocket.as(t, url, mod),
    alice: await TestSocket.as(t, url, alice),
    bob: await TestSocket.as(t, url, bob)
  })
  const sockets = url === undefined ? undefined : await open(url)
  return { owner, mod, alice, bob, outsider, room, sockets }
}

t.test('GET /members: every member with role and mute, in join order, paged; members only', async t => {
  const app = await build(t)
  const { owner, mod, alice, bob, outsider, room } = await cast(t, app)

  const list = await call(app, alice, 'GET', `/api/v1/rooms/${room}/members`)
  t.equal(list.statusCode, 200)
  t.same(list.body.map((m: any) => [m.user_id, m.username, m.role, m.muted_until]), [
    [owner.id, owner.username, 'owner', null], [mod.id, mod.username, 'moderator', null], [alice.id, alice.username, 'member', null], [bob.id, bob.username, 'member', null]
  ], 'in the order they joined, with their roles')
  t.same(Object.keys(list.body[0]).sort(), ['joined_at', 'muted_until', 'role', 'user_id', 'username'])
  t.ok(list.body.every((m: any) => !Number.isNaN(Date.parse(m.joined_at))), 'joined_at is a timestamp')
  t.same((await call(app, alice, 'GET', `/api/v1/rooms/${room}/members?limit=2&offset=1`)).body.map((m: any) => m.user_id), [mod.id, alice.id], 'limit and offset')

  t.equal((await call(app, mod, 'PUT', `/api/v1/rooms/${room}/mutes/${bob.id}`, { minutes: 30 })).statusCode, 204)
  const muted = (await call(app, alice, 'GET', `/api/v1/rooms/${room}/members`)).body.find((m: any) => m.user_id === bob.id).muted_until
  t.ok(Math.abs(Date.parse(muted) - Date.now() - 30 * 60_000) < 60_000, `a muted member shows until when (${String(muted)})`)
  await sql`update room_members set muted_until = now() - interval '1 minute' where room_id = ${room} and user_id = ${bob.id}`.execute(app.db)
  t.equal((await call(app, alice, 'GET', `/api/v1/rooms/${room}/members`)).body.find((m: any) => m.user_id === bob.id).muted_until, null, 'a mute that has ended shows as null')

  t.match(await call(app, outsider, 'GET', `/api/v1/rooms/${room}/members`), refused(403, 'NOT_A_MEMBER'), 'a public room: 403 to a non-member')
  const secret = json201(await call(app, owner, 'POST', '/api/v1/rooms', { name: 'secret', is_private: true }))
  t.match(await call(app, outsider, 'GET', `/api/v1/rooms/${secret}/members`), refused(404, 'ROOM_NOT_FOUND'), 'a private room: 404, as for no room')
  t.match(await call(app, outsider, 'GET', '/api/v1/rooms/424242/members'), refused(404, 'ROOM_NOT_FOUND'))
  t.equal((await call(app, owner, 'GET', `/api/v1/rooms/${secret}/members`)).statusCode, 200, 'its members see it')
  for (const query of ['limit=0', 'limit=101', 'offset=-1']) t.match(await call(app, alice, 'GET', `/api/v1/rooms/${room}/members?${query}`), { statusCode: 400 }, query)
})

function json201 (response: { statusCode: number, body: any }): number {
  if (response.statusCode !== 201) throw new Error(`expected 201, got ${response.statusCode}`)
  return response.body.id
}

t.test('PATCH /members/{user_id}: the owner sets roles, hands the room over; the others may not', async t => {
  const app = await build(t)
  const url = await listen(app)
  const { owner, mod, alice, bob, outsider, room, sockets } = await cast(t, app, url)
  const path = (user: Session): string => `/api/v1/rooms/${room}/members/${user.id}`

  const promoted = await call(app, owner, 'PATCH', path(alice), { role: 'moderator' })
  t.equal(promoted.statusCode, 200)
  t.match(promoted.body, { user_id: alice.id, username: alice.username, role: 'moderator', muted_until: null, joined_at: String })
  const frame = await sockets!.bob.next(f => f.type === 'member:updated', 'member:updated')
  t.same(frame.payload, { seq: frame.payload.seq, room_id: room, user_id: alice.id, role: 'moderator', muted_until: null }, 'every member gets member:updated')
  const before = sockets!.bob.all(feedOf(room)).length
  const again = await call(app, owner, 'PATCH', path(alice), { role: 'moderator' })
  t.match(again, { statusCode: 200, body: { user_id: alice.id, role: 'moderator' } }, 'the role they have: 200')
  t.equal((await call(app, owner, 'PATCH', path(alice), { role: 'member' })).body.role, 'member', 'and back')
  const back = await sockets!.bob.next(f => f.type === 'member:updated' && f.payload.role === 'member', 'member:updated (member)')
  t.equal(back.payload.seq, frame.payload.seq + 1, 'the unchanged role published nothing: no seq was used')
  t.equal(sockets!.bob.all(feedOf(room)).length, before + 1)

  t.match(await call(app, mod, 'PATCH', path(alice), { role: 'moderator' }), refused(403, 'NOT_ALLOWED'), 'a moderator may not')
  t.match(await call(app, alice, 'PATCH', path(bob), { role: 'moderator' }), refused(403, 'NOT_ALLOWED'), 'a member may not')
  t.match(await call(app, alice, 'PATCH', path(alice), { role: 'owner' }), refused(403, 'NOT_ALLOWED'), 'nor make themself owner')
  t.match(await call(app, owner, 'PATCH', path(owner), { role: 'member' }), refused(403, 'NOT_ALLOWED'), 'the owner does not change their own role')
  t.match(await call(app, owner, 'PATCH', path(outsider), { role: 'moderator' }), refused(404, 'MEMBER_NOT_FOUND'), 'not a member: 404')
  t.match(await call(app, owner, 'PATCH', `/api/v1/rooms/${room}/members/424242`, { role: 'moderator' }), refused(404, 'MEMBER_NOT_FOUND'), 'no such user: 404')
  t.match(await call(app, outsider, 'PATCH', path(alice), { role: 'moderator' }), refused(403, 'NOT_A_MEMBER'), 'a non-member of a public room: 403')
  t.match(await call(app, owner, 'PATCH', '/api/v1/rooms/424242/members/1', { role: 'moderator' }), refused(404, 'ROOM_NOT_FOUND'))
  for (const body of [{ role: 'admin' }, {}, { role: 1 }, { role: null }]) {
    t.match(await call(app, owner, 'PATCH', path(alice), body), { statusCode: 400 }, JSON.stringify(body))
  }

  // Handing the room over: alice becomes the owner, then the owner a moderator.
  const handed = await call(app, owner, 'PATCH', path(alice), { role: 'owner' })
  t.match(handed, { statusCode: 200, body: { user_id: alice.id, role: 'owner' } })
  const first = await sockets!.bob.next(f => f.type === 'member:updated' && f.payload.role === 'owner', 'member:updated (owner)')
  const second = await sockets!.bob.next(f => f.type === 'member:updated' && f.payload.user_id === owner.id, 'member:updated (the old owner)')
  t.same([first.payload.user_id, second.payload.role], [alice.id, 'moderator'], 'two frames: the new owner, then the old one a moderator')
  t.equal(second.payload.seq, first.payload.seq + 1)
  const roles = (await call(app, bob, 'GET', `/api/v1/rooms/${room}/members`)).body.map((m: any) => [m.user_id, m.role])
  t.same(roles, [[owner.id, 'moderator'], [mod.id, 'moderator'], [alice.id, 'owner'], [bob.id, 'member']], 'exactly one owner')
  t.match(await call(app, owner, 'PATCH', path(bob), { role: 'moderator' }), refused(403, 'NOT_ALLOWED'), 'the old owner no longer sets roles')
  t.equal((await call(app, alice, 'PATCH', path(bob), { role: 'moderator' })).statusCode, 200, 'the new one does')
  t.equal((await call(app, owner, 'GET', '/api/v1/users/me/rooms')).body.find((r: any) => r.id === room).role, 'moderator')
})

t.test('DELETE /members/{user_id}: a kick ends the room for the kicked user\'s sockets; they may come back', async t => {
  const app = await build(t)
  const url = await listen(app)
  const { owner, mod, alice, bob, outsider, room, sockets } = await cast(t, app, url)
  const kick = async (actor: Session, target: Session | number): Promise<{ statusCode: number, body: any }> =>
    await call(app, actor, 'DELETE', `/api/v1/rooms/${room}/members/${typeof target === 'number' ? target : target.id}`)

  t.match(await kick(alice, bob), refused(403, 'NOT_ALLOWED'), 'a member may not kick')
  t.match(await kick(mod, owner), refused(403, 'NOT_ALLOWED'), 'a moderator may not kick the owner')
  await call(app, owner, 'PATCH', `/api/v1/rooms/${room}/members/${alice.id}`, { role: 'moderator' })
  t.match(await kick(mod, alice), refused(403, 'NOT_ALLOWED'), 'nor another moderator')
  t.match(await kick(mod, mod), refused(403, 'NOT_ALLOWED'), 'nobody kicks themself')
  t.match(await kick(owner, owner), refused(403, 'NOT_ALLOWED'), 'the owner neither')
  t.match(await kick(mod, outsider), refused(404, 'MEMBER_NOT_FOUND'), 'not a member: 404')
  t.match(await kick(mod, 424242), refused(404, 'MEMBER_NOT_FOUND'))
  t.match(await kick(outsider, bob), refused(403, 'NOT_A_MEMBER'))
  t.match(await call(app, mod, 'DELETE', '/api/v1/rooms/424242/members/1'), refused(404, 'ROOM_NOT_FOUND'))
  t.match(await call(app, mod, 'DELETE', `/api/v1/rooms/${room}/members/abc`), { statusCode: 400 })

  const lastBefore = (await sendAs(app, bob, room, 'before the kick')).seq
  await sockets!.bob.message('before the kick')
  t.equal((await kick(mod, bob)).statusCode, 204, 'a moderator kicks a member')
  const left = await sockets!.alice.next(f => f.type === 'member:left', 'member:left')
  t.same(left.payload, { seq: lastBefore + 1, room_id: room, user_id: bob.id, reason: 'kicked' }, 'the room\'s feed: member:left, kicked')
  t.same((await sockets!.bob.next(f => f.type === 'room:removed', 'room:removed')).payload, { room_id: room, reason: 'kicked' }, 'the kicked user\'s socket: room:removed')
  await sendAs(app, owner, room, 'after the kick')
  await sockets!.alice.message('after the kick')
  await sockets!.owner.message('after the kick')
  t.same(sockets!.bob.all(f => f.payload?.room_id === room && (f.payload?.seq ?? 0) >= left.payload.seq), [], 'nothing of the room reached him after the kick')
  t.same(sockets!.bob.all(f => f.type === 'member:left'), [], 'not even his own member:left')
  sockets!.bob.send({ type: 'sync', payload: { rooms: { [room]: 0 } } })
  t.match((await sockets!.bob.error()).payload, { code: 'NOT_A_MEMBER', room_id: room }, 'sync for the room: an error frame')
  await sockets!.bob.next(f => f.type === 'sync:done', 'sync:done')
  t.same(sockets!.bob.all(f => f.payload?.room_id === room && (f.payload?.seq ?? 0) >= left.payload.seq), [], 'and no catch-up')
  t.match(await call(app, bob, 'GET', `/api/v1/rooms/${room}/messages`), refused(403, 'NOT_A_MEMBER'), 'nor history over REST')
  t.match(await call(app, bob, 'POST', '/api/v1/messages', { room_id: room, content: 'still here?' }), refused(403, 'NOT_A_MEMBER'))

  t.equal((await kick(owner, alice)).statusCode, 204, 'the owner kicks a moderator')
  t.match((await sockets!.alice.next(f => f.type === 'room:removed')).payload, { reason: 'kicked' })
  t.equal((await call(app, bob, 'POST', `/api/v1/rooms/${room}/join`)).statusCode, 200, 'a kicked user may join a public room again')
  t.match((await call(app, bob, 'GET', `/api/v1/rooms/${room}/members`)).body.find((m: any) => m.user_id === bob.id), { role: 'member' })
  await sockets!.bob.next(f => f.type === 'member:joined' && f.payload.user.id === bob.id, 'his own member:joined')
  await sendAs(app, owner, room, 'welcome back')
  await sockets!.bob.message('welcome back')
  t.match(await kick(mod, alice), refused(404, 'MEMBER_NOT_FOUND'), 'kicked once: not a member any more')
})

t.test('bans: remove the member and any invite, refuse joining until lifted; pre-emptive bans; GET /bans', async t => {
  const app = await build(t)
  const url = await listen(app)
  const { owner, mod, alice, bob, outsider, room, sockets } = await cast(t, app, url)
  const ban = async (actor: Session, target: Session | number, method: 'PUT' | 'DELETE' = 'PUT'): Promise<{ statusCode: number, body: any }> =>
    await call(app, actor, method, `/api/v1/rooms/${room}/bans/${typeof target === 'number' ? target : target.id}`)
  const bans = async (user: Session): Promise<{ statusCode: number, body: any }> => await call(app, user, 'GET', `/api/v1/rooms/${room}/bans`)

  t.match(await ban(alice, bob), refused(403, 'NOT_ALLOWED'), 'a member may not ban')
  t.match(await ban(mod, owner), refused(403, 'NOT_ALLOWED'), 'a moderator may not ban the owner')
  t.match(await ban(mod, mod), refused(403, 'NOT_ALLOWED'), 'nobody bans themself')
  t.match(await ban(owner, owner), refused(403, 'NOT_ALLOWED'))
  t.match(await ban(owner, 424242), refused(404, 'USER_NOT_FOUND'), 'no such user: 404')
  t.match(await ban(outsider, bob), refused(403, 'NOT_A_MEMBER'))
  t.match(await call(app, owner, 'PUT', '/api/v1/rooms/424242/bans/1'), refused(404, 'ROOM_NOT_FOUND'))

  t.equal((await ban(mod, bob)).statusCode, 204, 'a moderator bans a member')
  const left = await sockets!.alice.next(f => f.type === 'member:left', 'member:left')
  t.same(left.payload, { seq: left.payload.seq, room_id: room, user_id: bob.id, reason: 'banned' })
  t.same((await sockets!.bob.next(f => f.type === 'room:removed', 'room:removed')).payload, { room_id: room, reason: 'banned' })
  await sendAs(app, alice, room, 'after the ban')
  await sockets!.owner.message('after the ban')
  await sockets!.alice.message('after the ban')
  t.same(sockets!.bob.all(f => f.payload?.room_id === room && (f.payload?.seq ?? 0) >= left.payload.seq), [], 'nothing of the room after the ban')
  sockets!.bob.send({ type: 'sync', payload: { rooms: { [room]: 0 } } })
  t.match((await sockets!.bob.error()).payload, { code: 'NOT_A_MEMBER', room_id: room }, 'sync for the room: an error frame')
  t.match(await call(app, bob, 'POST', `/api/v1/rooms/${room}/join`), refused(403, 'BANNED'), 'a banned user cannot join')
  sockets!.bob.send({ type: 'room:join', payload: { room_id: room } })
  t.match((await sockets!.bob.error()).payload, { code: 'BANNED' }, 'nor over the socket')

  const again = sockets!.alice.all(feedOf(room)).length
  t.equal((await ban(owner, bob)).statusCode, 204, 'banned again: 204')
  t.equal((await ban(owner, outsider)).statusCode, 204, 'a user who never joined can be banned beforehand')
  t.match(await call(app, outsider, 'POST', `/api/v1/rooms/${room}/join`), refused(403, 'BANNED'), 'and then cannot join')
  await sendAs(app, alice, room, 'marker')
  await sockets!.alice.message('marker')
  t.equal(sockets!.alice.all(feedOf(room)).length, again + 1, 'neither published a frame (only the marker message came)')

  const list = await bans(mod)
  t.equal(list.statusCode, 200)
  t.same(list.body.map((b: any) => [b.user_id, b.username, b.banned_by]), [[bob.id, bob.username, mod.id], [outsider.id, outsider.username, owner.id]], 'oldest first, the first ban kept')
  t.same(Object.keys(list.body[0]).sort(), ['banned_by', 'created_at', 'user_id', 'username'])
  t.same((await call(app, owner, 'GET', `/api/v1/rooms/${room}/bans?limit=1&offset=1`)).body.map((b: any) => b.user_id), [outsider.id], 'paged')
  t.match(await bans(alice), refused(403, 'NOT_ALLOWED'), 'a member may not list the bans')
  t.match(await bans(outsider), refused(403, 'NOT_A_MEMBER'))

  // A moderator cannot ban another moderator (a member, so moderation would reach up).
  await call(app, owner, 'PATCH', `/api/v1/rooms/${room}/members/${alice.id}`, { role: 'moderator' })
  t.match(await ban(mod, alice), refused(403, 'NOT_ALLOWED'), 'a moderator may not ban another moderator')

  // A ban cancels an invite (the invite routes live elsewhere: the row is written directly).
  const carol = await fixtureUser(app)
  await app.db.insertInto('room_invites').values({ room_id: room, user_id: carol.id, invited_by: owner.id }).execute()
  t.equal((await ban(mod, carol)).statusCode, 204)
  t.same(await app.db.selectFrom('room_invites').select('user_id').where('room_id', '=', room).execute(), [], 'the invite is gone')

  // Lifting.
  t.match(await ban(mod, mod, 'DELETE'), refused(403, 'NOT_ALLOWED'), 'nobody unbans themself')
  t.match(await ban(outsider, bob, 'DELETE'), refused(403, 'NOT_A_MEMBER'))
  const member = await fixtureUser(app)
  await joinRoom(app, member, room)
  t.match(await ban(member, bob, 'DELETE'), refused(403, 'NOT_ALLOWED'), 'a member may not unban')
  t.equal((await ban(mod, bob, 'DELETE')).statusCode, 204, 'a moderator lifts a ban')
  t.equal((await ban(mod, bob, 'DELETE')).statusCode, 204, 'not banned: 204 anyway')
  t.equal((await ban(mod, member, 'DELETE')).statusCode, 204, 'never banned: 204 too')
  t.equal((await call(app, bob, 'POST', `/api/v1/rooms/${room}/join`)).statusCode, 200, 'unbanned: he may join again')
  t.same((await bans(owner)).body.map((b: any) => b.user_id), [outsider.id, carol.id])
  t.match(await call(app, owner, 'DELETE', '/api/v1/rooms/424242/bans/1'), refused(404, 'ROOM_NOT_FOUND'))

  // A private room stays invisible to someone banned from it.
  const secret = json201(await call(app, owner, 'POST', '/api/v1/rooms', { name: 'secret', is_private: true }))
  t.equal((await call(app, owner, 'PUT', `/api/v1/rooms/${secret}/bans/${carol.id}`)).statusCode, 204)
  t.match(await call(app, carol, 'POST', `/api/v1/rooms/${secret}/join`), refused(404, 'ROOM_NOT_FOUND'), 'banned from a private room: 404')
  t.match(await call(app, outsider, 'GET', `/api/v1/rooms/${secret}/bans`), refused(404, 'ROOM_NOT_FOUND'), 'its bans: 404 to outsiders')
  t.match(await call(app, outsider, 'PUT', `/api/v1/rooms/${secret}/bans/${carol.id}`), refused(404, 'ROOM_NOT_FOUND'))
})

t.test('mutes: a muted member reads but cannot send (REST and socket), edit or react; a timed mute ends by itself', async t => {
  const app = await build(t)
  const url = await listen(app)
  const { owner, mod, alice, bob, outsider, room, sockets } = await cast(t, app, url)
  const mute = async (actor: Session, target: Session | number, body: object | undefined = {}, method: 'PUT' | 'DELETE' = 'PUT'): Promise<{ statusCode: number, body: any }> =>
    await call(app, actor, method, `/api/v1/rooms/${room}/mutes/${typeof target === 'number' ? target : target.id}`, method === 'PUT' ? body : undefined)
  const earlier = await sendAs(app, bob, room, 'said before the mute')

  t.match(await mute(alice, bob), refused(403, 'NOT_ALLOWED'), 'a member may not mute')
  t.match(await mute(mod, owner), refused(403, 'NOT_ALLOWED'), 'a moderator may not mute the owner')
  t.match(await mute(mod, mod), refused(403, 'NOT_ALLOWED'), 'nobody mutes themself')
  t.match(await mute(owner, owner), refused(403, 'NOT_ALLOWED'))
  t.match(await mute(mod, outsider), refused(404, 'MEMBER_NOT_FOUND'), 'not a member: 404')
  t.match(await mute(outsider, bob), refused(403, 'NOT_A_MEMBER'))
  t.match(await call(app, mod, 'PUT', '/api/v1/rooms/424242/mutes/1', {}), refused(404, 'ROOM_NOT_FOUND'))
  for (const body of [{ minutes: 0 }, { minutes: 525_601 }, { minutes: 1.5 }, { minutes: '5' }, { minutes: null }]) {
    t.match(await mute(mod, bob, body), { statusCode: 400 }, JSON.stringify(body))
  }

  // Timed.
  t.equal((await mute(mod, bob, { minutes: 10 })).statusCode, 204, 'a moderator mutes a member for 10 minutes')
  const muted = await sockets!.alice.next(f => f.type === 'member:updated', 'member:updated')
  t.match(muted.payload, { room_id: room, user_id: bob.id, role: 'member', muted_until: String })
  const until = Date.parse(muted.payload.muted_until)
  t.ok(Math.abs(until - Date.now() - 10 * 60_000) < 60_000, `muted_until is in 10 minutes (${String(muted.payload.muted_until)})`)
  await sockets!.bob.next(f => f.type === 'member:updated', 'his own socket gets it too')

  t.match(await call(app, bob, 'POST', '/api/v1/messages', { room_id: room, content: 'let me speak' }), refused(403, 'MUTED'), 'REST send: 403 MUTED')
  sockets!.bob.send({ type: 'message:send', payload: { room_id: room, content: 'over the socket then' } })
  t.match((await sockets!.bob.error()).payload, { code: 'MUTED' }, 'message:send: an error frame, MUTED')
  t.match(await call(app, bob, 'PATCH', `/api/v1/messages/${earlier.id}`, { content: 'edited while muted' }), refused(403, 'MUTED'), 'no edits')
  t.match(await call(app, bob, 'PUT', `/api/v1/messages/${earlier.id}/reactions/${encodeURIComponent('👍')}`), refused(403, 'MUTED'), 'no reactions')
  const history = await call(app, bob, 'GET', `/api/v1/rooms/${room}/messages`)
  t.equal(history.statusCode, 200, 'but he reads')
  t.same(history.body.map((m: any) => m.content), ['said before the mute'], 'and nothing of his was stored')
  await sendAs(app, alice, room, 'others speak')
  await sockets!.bob.message('others speak')

  // Lifted.
  t.equal((await mute(mod, bob, undefined, 'DELETE')).statusCode, 204, 'unmuted')
  const lifted = await sockets!.alice.next(f => f.type === 'member:updated' && f.payload.muted_until === null, 'member:updated (unmuted)')
  t.same(lifted.payload, { seq: lifted.payload.seq, room_id: room, user_id: bob.id, role: 'member', muted_until: null })
  await sendAs(app, bob, room, 'free again')
  t.equal((await call(app, bob, 'PATCH', `/api/v1/messages/${earlier.id}`, { content: 'edited after' })).statusCode, 200)
  await sockets!.alice.next(f => f.type === 'message:updated' && f.payload.content === 'edited after', 'the edit')
  const seqBefore = sockets!.alice.all(feedOf(room)).length
  t.equal((await mute(mod, bob, undefined, 'DELETE')).statusCode, 204, 'not muted: 204')

  // Until unmuted.
  t.equal((await mute(owner, mod, {})).statusCode, 204, 'the owner mutes a moderator, with no minutes')
  const forever = await sockets!.alice.next(f => f.type === 'member:updated' && f.payload.user_id === mod.id, 'member:updated (forever)')
  t.same(forever.payload, { seq: forever.payload.seq, room_id: room, user_id: mod.id, role: 'moderator', muted_until: FOREVER }, 'until unmuted')
  t.equal(sockets!.alice.all(feedOf(room)).length, seqBefore + 1, 'unmuting someone not muted published nothing: the mute came next')
  t.match(await call(app, mod, 'POST', '/api/v1/messages', { room_id: room, content: 'mod speaks' }), refused(403, 'MUTED'))
  t.equal((await mute(mod, bob, { minutes: 5 })).statusCode, 204, 'a muted moderator still moderates')
  await call(app, owner, 'PATCH', `/api/v1/rooms/${room}/members/${alice.id}`, { role: 'moderator' })
  t.match(await mute(alice, mod, undefined, 'DELETE'), refused(403, 'NOT_ALLOWED'), 'a moderator may not unmute another moderator')
  t.match(await mute(alice, owner, undefined, 'DELETE'), refused(403, 'NOT_ALLOWED'), 'nor the owner')
  t.match(await mute(mod, mod, undefined, 'DELETE'), refused(403, 'NOT_ALLOWED'), 'nor themself')
  t.match(await mute(mod, outsider, undefined, 'DELETE'), refused(404, 'MEMBER_NOT_FOUND'))
  t.equal((await mute(owner, mod, undefined, 'DELETE')).statusCode, 204)
  await sendAs(app, mod, room, 'mod speaks')
  await sockets!.alice.message('mod speaks')

  // A timed mute ends by itself: its end moved into the past, as if the minutes had passed.
  t.match(await call(app, bob, 'POST', '/api/v1/messages', { room_id: room, content: 'still muted' }), refused(403, 'MUTED'))
  await sql`update room_members set muted_until = now() - interval '1 second' where room_id = ${room} and user_id = ${bob.id}`.execute(app.db)
  const frames = sockets!.alice.all(feedOf(room)).length
  t.equal((await call(app, bob, 'POST', '/api/v1/messages', { room_id: room, content: 'the mute ended' })).statusCode, 201, 'REST: he sends again, nobody unmuted him')
  sockets!.bob.send({ type: 'message:send', payload: { room_id: room, content: 'and over the socket' } })
  await sockets!.alice.message('and over the socket')
  t.equal((await call(app, bob, 'PUT', `/api/v1/messages/${earlier.id}/reactions/${encodeURIComponent('👍')}`)).statusCode, 200, 'and reacts')
  t.equal((await call(app, bob, 'PATCH', `/api/v1/messages/${earlier.id}`, { content: 'edited once the mute ended' })).statusCode, 200, 'and edits')
  t.equal((await mute(mod, bob, undefined, 'DELETE')).statusCode, 204, 'unmuting after the end: 204')
  await sendAs(app, alice, room, 'marker')
  await sockets!.alice.message('marker')
  t.same(sockets!.alice.all(feedOf(room)).slice(frames).map(f => f.type), ['message:new', 'message:new', 'reaction:added', 'message:updated', 'message:new'], 'the end of a mute publishes nothing, and neither does lifting an ended one')
})

t.test('leaving is no way out of a mute: a muted member who leaves (or is kicked) and joins again is still muted', async t => {
  const app = await build(t)
  const { owner, mod, bob, room } = await cast(t, app)
  const mute = async (minutes?: number): Promise<number> =>
    (await call(app, mod, 'PUT', `/api/v1/rooms/${room}/mutes/${bob.id}`, minutes === undefined ? {} : { minutes })).statusCode
  const send = async (content: string): Promise<{ statusCode: number, body: any }> => await call(app, bob, 'POST', '/api/v1/messages', { room_id: room, content })

  t.equal(await mute(10), 204)
  t.equal((await call(app, bob, 'POST', `/api/v1/rooms/${room}/leave`)).statusCode, 204, 'he leaves while muted')
  await joinRoom(app, bob, room)
  t.match(await send('back and talking'), refused(403, 'MUTED'), 'rejoined: still muted')
  const members = await call(app, owner, 'GET', `/api/v1/rooms/${room}/members`)
  t.match(members.body.find((m: any) => m.user_id === bob.id), { muted_until: String }, 'the member list shows the mute')

  t.equal((await call(app, owner, 'DELETE', `/api/v1/rooms/${room}/members/${bob.id}`)).statusCode, 204, 'kicked while muted')
  await joinRoom(app, bob, room)
  t.match(await send('after the kick'), refused(403, 'MUTED'), 'and after a kick')

  // A parked mute that ended meanwhile does not come back.
  await call(app, bob, 'POST', `/api/v1/rooms/${room}/leave`)
  await sql`update parked_mutes set muted_until = now() - interval '1 second' where room_id = ${room} and user_id = ${bob.id}`.execute(app.db)
  await joinRoom(app, bob, room)
  t.equal((await send('the mute ended while he was away')).statusCode, 201, 'a mute that ended while he was away is gone')

  // Unmuted before leaving: nothing is parked.
  t.equal(await mute(), 204)
  t.equal((await call(app, mod, 'DELETE', `/api/v1/rooms/${room}/mutes/${bob.id}`)).statusCode, 204)
  await call(app, bob, 'POST', `/api/v1/rooms/${room}/leave`)
  await joinRoom(app, bob, room)
  t.equal((await send('never muted again')).statusCode, 201)
  const parked = await app.db.selectFrom('parked_mutes').selectAll().where('room_id', '=', room).execute()
  t.same(parked, [], 'no parked mute is left over')
})

t.test('feed frames of moderation reach a member\'s socket in seq order, as GET /events replays them', async t => {
  const app = await build(t)
  const url = await listen(app)
  const { owner, mod, alice, bob, room, sockets } = await cast(t, app, url)
  const carol = await fixtureUser(app)
  await joinRoom(app, carol, room)
  const start = (await call(app, owner, 'GET', `/api/v1/rooms/${room}/events`)).body.at(-1).payload.seq

  await call(app, owner, 'PATCH', `/api/v1/rooms/${room}/members/${alice.id}`, { role: 'moderator' })
  await call(app, mod, 'PUT', `/api/v1/rooms/${room}/mutes/${bob.id}`, { minutes: 5 })
  await call(app, mod, 'DELETE', `/api/v1/rooms/${room}/mutes/${bob.id}`)
  await call(app, alice, 'DELETE', `/api/v1/rooms/${room}/members/${bob.id}`)
  await call(app, mod, 'PUT', `/api/v1/rooms/${room}/bans/${carol.id}`)
  await call(app, owner, 'PATCH', `/api/v1/rooms/${room}/members/${mod.id}`, { role: 'owner' })
  await sockets!.alice.next(f => f.type === 'member:updated' && f.payload.user_id === owner.id, 'the last frame')

  const live = sockets!.alice.all(f => feedOf(room)(f) && f.payload.seq > start)
  t.same(live.map(f => [f.type, f.payload.user_id, f.payload.role ?? f.payload.reason, f.payload.muted_until === undefined ? undefined : f.payload.muted_until !== null]), [
    ['member:updated', alice.id, 'moderator', false],
    ['member:updated', bob.id, 'member', true],
    ['member:updated', bob.id, 'member', false],
    ['member:left', bob.id, 'kicked', undefined],
    ['member:left', carol.id, 'banned', undefined],
    ['member:updated', mod.id, 'owner', false],
    ['member:updated', owner.id, 'moderator', false]
  ], 'every change once, in order')
  t.same(live.map(f => f.payload.seq), live.map((_f, i) => start + 1 + i), 'consecutive seqs')
  const replayed = (await call(app, owner, 'GET', `/api/v1/rooms/${room}/events?after=${start}`)).body
  t.same(replayed, live, 'GET /events: the same frames')
  const resumed = await TestSocket.as(t, url, owner)
  resumed.send({ type: 'sync', payload: { rooms: { [room]: start } } })
  await resumed.next(f => f.type === 'sync:done', 'sync:done')
  t.same(resumed.all(feedOf(room)), live, 'sync: the same frames')
})

t.test('a direct-message room has no moderation: 403 DIRECT_ROOM on every route', async t => {
  const app = await build(t)
  const ann = await fixtureUser(app)
  const ben = await fixtureUser(app)
  const dm = await insertRoom(app.db, { name: 'dm', description: null, created_by: ann.id, is_private: true, is_direct: true, direct_key: `${ann.id}:${ben.id}` },
    [{ user_id: ann.id, role: 'member' }, { user_id: ben.id, role: 'member' }])
  const base = `/api/v1/rooms/${dm.id}`
  const requests: Array<[Method, string, object?]> = [
    ['PATCH', `${base}/members/${ben.id}`, { role: 'moderator' }], ['DELETE', `${base}/members/${ben.id}`],
    ['GET', `${base}/bans`], ['PUT', `${base}/bans/${ben.id}`], ['DELETE', `${base}/bans/${ben.id}`],
    ['PUT', `${base}/mutes/${ben.id}`, {}], ['DELETE', `${base}/mutes/${ben.id}`]
  ]
  for (const [method, path, body] of requests) t.match(await call(app, ann, method, path, body), refused(403, 'DIRECT_ROOM'), `${method} ${path}`)
  const members = await call(app, ann, 'GET', `${base}/members`)
  t.same(members.body.map((m: any) => [m.user_id, m.role]), [[ann.id, 'member'], [ben.id, 'member']], 'listing the two members is no moderation: 200')
  const outsider = await fixtureUser(app)
  t.match(await call(app, outsider, 'GET', `${base}/members`), refused(404, 'ROOM_NOT_FOUND'), 'and to anyone else it is invisible')
  t.equal((await call(app, ben, 'POST', '/api/v1/messages', { room_id: dm.id, content: 'still talking' })).statusCode, 201, 'nobody was banned or muted')
})

t.test('every moderation route needs a token (401)', async t => {
  const app = await build(t)
  const requests: Array<{ method: Method, url: string, payload?: object }> = [
    { method: 'GET', url: '/api/v1/rooms/1/members' }, { method: 'PATCH', url: '/api/v1/rooms/1/members/2', payload: { role: 'member' } },
    { method: 'DELETE', url: '/api/v1/rooms/1/members/2' }, { method: 'GET', url: '/api/v1/rooms/1/bans' },
    { method: 'PUT', url: '/api/v1/rooms/1/bans/2' }, { method: 'DELETE', url: '/api/v1/rooms/1/bans/2' },
    { method: 'PUT', url: '/api/v1/rooms/1/mutes/2', payload: {} }, { method: 'DELETE', url: '/api/v1/rooms/1/mutes/2' }
  ]
  for (const request of requests) {
    const response = await app.inject(request)
    t.equal(response.statusCode, 401, `${request.method} ${request.url}`)
    t.same(response.json(), { error: 'Missing or invalid authentication token', code: 'UNAUTHORIZED' })
  }
})

t.test('on two instances: a kicked user\'s sockets on both get room:removed, and nothing of the room after it', async t => {
  const { a, b, urlA, urlB } = await twoInstances(t, redisUrl)
  const owner = await fixtureUser(a)
  const bob = await fixtureUser(a)
  const room = await createRoom(a, owner, 'two instances')
  await joinRoom(a, bob, room)
  const bobOnA = await TestSocket.as(t, urlA, bob)
  const bobOnB = await TestSocket.as(t, urlB, bob)
  const ownerOnA = await TestSocket.as(t, urlA, owner)
  const ownerOnB = await TestSocket.as(t, urlB, owner)
  await sendAs(a, owner, room, 'before')
  for (const socket of [bobOnA, bobOnB]) await socket.message('before')

  t.equal((await call(b, owner, 'DELETE', `/api/v1/rooms/${room}/members/${bob.id}`)).statusCode, 204, 'kicked through B')
  for (const [name, socket] of [['A', bobOnA], ['B', bobOnB]] as const) {
    t.same((await socket.next(f => f.type === 'room:removed', `room:removed on ${name}`)).payload, { room_id: room, reason: 'kicked' }, `his socket on ${name}: room:removed`)
  }
  const left = await ownerOnA.next(f => f.type === 'member:left', 'member:left on A')
  await ownerOnB.next(f => f.type === 'member:left', 'member:left on B')
  await sendAs(a, owner, room, 'after on A')
  await sendAs(b, owner, room, 'after on B')
  for (const socket of [ownerOnA, ownerOnB]) {
    await socket.message('after on A')
    await socket.message('after on B')
  }
  for (const [name, socket] of [['A', bobOnA], ['B', bobOnB]] as const) {
    t.same(socket.all(f => f.payload?.room_id === room && (f.payload?.seq ?? 0) >= left.payload.seq), [], `nothing of the room on ${name} after the kick`)
  }
  bobOnA.send({ type: 'message:send', payload: { room_id: room, content: 'let me back' } })
  t.match((await bobOnA.error()).payload, { code: 'NOT_A_MEMBER' }, 'his sends are refused')
})
