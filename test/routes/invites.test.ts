import { sql } from 'kysely'
import t from 'tap'
import { build, createRoom, fixtureUser, joinRoom, json, type Session } from '../helper.js'
import { listen, TestSocket } from '../ws-client.js'

// POST/DELETE /rooms/{id}/invites, GET /users/me/invites, and joining with an invite
// (CONTRACT.md Part 2, "Rooms: privacy, roles, moderation, invites, direct messages").

t.test('invites', async t => {
  const app = await build(t)
  const url = await listen(app)
  const owner = await fixtureUser(app)
  const member = await fixtureUser(app)
  const invitee = await fixtureUser(app)
  const outsider = await fixtureUser(app)

  const createPrivate = async (user: Session, name: string): Promise<number> => {
    const response = await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: user.auth, payload: { name, is_private: true } })
    t.equal(response.statusCode, 201, `create private room ${name}`)
    return json(response).id
  }
  const invite = async (user: Session, roomId: number, userId: number | unknown) =>
    await app.inject({ method: 'POST', url: `/api/v1/rooms/${roomId}/invites`, headers: user.auth, payload: { user_id: userId } })
  const uninvite = async (user: Session, roomId: number, userId: number) =>
    await app.inject({ method: 'DELETE', url: `/api/v1/rooms/${roomId}/invites/${userId}`, headers: user.auth })
  const myInvites = async (user: Session): Promise<any[]> => {
    const response = await app.inject({ url: '/api/v1/users/me/invites', headers: user.auth })
    t.equal(response.statusCode, 200, 'GET /users/me/invites')
    return json(response)
  }
  const getRoomEvents = async (user: Session, roomId: number) => await app.inject({ url: `/api/v1/rooms/${roomId}/events`, headers: user.auth })

  t.test('a member invites to a private room: 201, room:invited to the invitee, the invite is listed; a second invite changes nothing', async t => {
    const room = await createPrivate(owner, 'private invite')
    const socket = await TestSocket.as(t, url, invitee)
    const created = await invite(owner, room, invitee.id)
    t.equal(created.statusCode, 201)
    const body = json(created)
    t.same(Object.keys(body).sort(), ['created_at', 'invited_by', 'room_id', 'user_id'])
    t.match(body, { room_id: room, user_id: invitee.id, invited_by: owner.id })
    t.ok(!Number.isNaN(Date.parse(body.created_at)), 'created_at is a timestamp')

    const frame = await socket.next(f => f.type === 'room:invited', 'room:invited')
    t.match(frame.payload, { invited_by: owner.id, room: { id: room, name: 'private invite', is_private: true, is_direct: false, member_count: 1, my_role: null } },
      'the room as the invitee sees it')

    const again = await invite(owner, room, invitee.id)
    t.equal(again.statusCode, 200, 'inviting twice: 200')
    t.same(json(again), body, 'with the invite as it was')

    const list = await myInvites(invitee)
    const mine = list.filter(i => i.room_id === room)
    t.equal(mine.length, 1, 'listed once')
    t.match(mine[0], { ...body, room: { id: room, is_private: true, my_role: null } })
    t.same(await myInvites(outsider), [], 'nobody else sees it')

    // Give a second invite time to arrive, were there one.
    const marker = await createPrivate(owner, 'marker')
    await invite(owner, marker, invitee.id)
    await socket.next(f => f.type === 'room:invited' && f.payload.room.id === marker, 'the marker invite')
    t.equal(socket.all(f => f.type === 'room:invited' && f.payload.room.id === room).length, 1, 'no second notification')
  })

  t.test('an invitee sees the private room and joins it (200); the invite is used up; a non-invitee gets the answer of a missing id', async t => {
    const room = await createPrivate(owner, 'join with invite')
    t.equal((await invite(owner, room, invitee.id)).statusCode, 201)
    t.equal((await getRoomEvents(invitee, room)).statusCode, 403, 'the invitee sees the room (not a member yet: 403, not 404)')

    const stranger = await app.inject({ method: 'POST', url: `/api/v1/rooms/${room}/join`, headers: outsider.auth })
    const missing = await app.inject({ method: 'POST', url: '/api/v1/rooms/2147483647/join', headers: outsider.auth })
    t.equal(stranger.statusCode, 404)
    t.same(json(stranger), { error: 'Room not found', code: 'ROOM_NOT_FOUND' })
    t.same(json(stranger), json(missing), 'exactly the body of a missing id')

    const joined = await app.inject({ method: 'POST', url: `/api/v1/rooms/${room}/join`, headers: invitee.auth })
    t.equal(joined.statusCode, 200)
    t.same(json(joined), { message: 'Successfully joined room', room_id: room })
    t.equal((await getRoomEvents(invitee, room)).statusCode, 200, 'a member now')
    t.notOk((await myInvites(invitee)).some(i => i.room_id === room), 'the invite is used up')
    t.equal((await uninvite(owner, room, invitee.id)).statusCode, 404, 'there is no invite left to remove')
    const again = await invite(owner, room, invitee.id)
    t.equal(again.statusCode, 409)
    t.equal(json(again).code, 'ALREADY_MEMBER', 'a member is not invited')
  })

  t.test('members may invite to public rooms too; the invitee is notified', async t => {
    const room = await createRoom(app, owner, 'public invite')
    await joinRoom(app, member, room)
    const socket = await TestSocket.as(t, url, invitee)
    const created = await invite(member, room, invitee.id)
    t.equal(created.statusCode, 201, 'an ordinary member invites')
    t.match(json(created), { invited_by: member.id })
    const frame = await socket.next(f => f.type === 'room:invited' && f.payload.room.id === room, 'room:invited')
    t.match(frame.payload, { invited_by: member.id, room: { id: room, is_private: false, my_role: null, member_count: 2 } })
  })

  t.test('refusals', async t => {
    const room = await createPrivate(owner, 'refusals')
    const pub = await createRoom(app, owner, 'public refusals')
    const code = async (response: Promise<{ statusCode: number, json: () => any }>): Promise<[number, string | undefined]> => {
      const r = await response
      return [r.statusCode, r.json().code]
    }
    t.same(await code(invite(owner, room, owner.id)), [400, 'CANNOT_INVITE_SELF'], 'yourself: 400')
    t.same(await code(invite(owner, room, 2147483647)), [404, 'USER_NOT_FOUND'], 'an unknown user')
    const disabled = await fixtureUser(app)
    await sql`update users set disabled_at = now() where id = ${disabled.id}`.execute(app.db)
    t.same(await code(invite(owner, room, disabled.id)), [404, 'USER_NOT_FOUND'], 'a disabled user')
    t.same(await code(invite(outsider, room, invitee.id)), [404, 'ROOM_NOT_FOUND'], 'a private room you cannot see')
    t.same(await code(invite(outsider, pub, invitee.id)), [403, 'NOT_A_MEMBER'], 'a public room you are not in')
    t.same(await code(invite(owner, 2147483647, invitee.id)), [404, 'ROOM_NOT_FOUND'], 'no such room')
    t.same(await code(invite(owner, room, '1')), [400, 'VALIDATION_ERROR'], 'user_id is never coerced')
    const noBody = await app.inject({ method: 'POST', url: `/api/v1/rooms/${room}/invites`, headers: owner.auth, payload: {} })
    t.match(json(noBody), { code: 'VALIDATION_ERROR', error: 'user_id is required' })

    await sql`insert into room_bans (room_id, user_id, banned_by) values (${pub}, ${outsider.id}, ${owner.id})`.execute(app.db)
    t.same(await code(invite(owner, pub, outsider.id)), [403, 'BANNED'], 'the invitee is banned from the room')

    const other = await fixtureUser(app)
    const dm = json(await app.inject({ method: 'POST', url: '/api/v1/dms', headers: owner.auth, payload: { user_id: other.id } }))
    t.same(await code(invite(owner, dm.id, invitee.id)), [403, 'DIRECT_ROOM'], 'a DM has no invites')
    t.same(await code(uninvite(owner, dm.id, invitee.id)), [403, 'DIRECT_ROOM'])
    t.same(await code(invite(invitee, dm.id, outsider.id)), [404, 'ROOM_NOT_FOUND'], 'a DM is invisible to a third user')

    for (const path of [`/api/v1/rooms/${room}/invites/abc`, `/api/v1/rooms/0/invites/${invitee.id}`]) {
      t.equal((await app.inject({ method: 'DELETE', url: path, headers: owner.auth })).statusCode, 400, `DELETE ${path}`)
    }
    t.equal((await app.inject({ method: 'POST', url: `/api/v1/rooms/${room}/invites`, payload: { user_id: invitee.id } })).statusCode, 401, 'POST needs a token')
    t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/rooms/${room}/invites/${invitee.id}` })).statusCode, 401, 'DELETE needs a token')
    t.equal((await app.inject({ url: '/api/v1/users/me/invites' })).statusCode, 401, 'GET /users/me/invites needs a token')
  })

  t.test('who removes an invite: the invitee, the inviter, the owner, moderators; nobody else', async t => {
    const room = await createRoom(app, owner, 'remove invites')
    const moderator = await fixtureUser(app)
    await joinRoom(app, member, room)
    await joinRoom(app, moderator, room)
    await sql`update room_members set role = 'moderator' where room_id = ${room} and user_id = ${moderator.id}`.execute(app.db)
    const guests = await Promise.all([fixtureUser(app), fixtureUser(app), fixtureUser(app), fixtureUser(app)])
    for (const guest of guests) t.equal((await invite(member, room, guest.id)).statusCode, 201)

    const other = await fixtureUser(app)
    await joinRoom(app, other, room)
    const refused = await uninvite(other, room, guests[0]!.id)
    t.equal(refused.statusCode, 403, 'another member')
    t.equal(json(refused).code, 'NOT_ALLOWED')
    t.equal(json(await uninvite(outsider, room, guests[0]!.id)).code, 'NOT_ALLOWED', 'a non-member of the public room')
    t.equal(json(await uninvite(guests[1]!, room, guests[0]!.id)).code, 'NOT_ALLOWED', 'another invitee')

    t.equal((await uninvite(guests[0]!, room, guests[0]!.id)).statusCode, 204, 'the invitee declines')
    t.equal((await uninvite(member, room, guests[1]!.id)).statusCode, 204, 'the inviter withdraws')
    t.equal((await uninvite(owner, room, guests[2]!.id)).statusCode, 204, 'the owner withdraws')
    t.equal((await uninvite(moderator, room, guests[3]!.id)).statusCode, 204, 'a moderator withdraws')
    for (const guest of guests) t.notOk((await myInvites(guest)).some(i => i.room_id === room), 'gone from the invitee\'s list')
    const again = await uninvite(owner, room, guests[0]!.id)
    t.equal(again.statusCode, 404, 'no such invite')
    t.same(json(again), { error: 'No such invite', code: 'INVITE_NOT_FOUND' })
    t.equal(json(await uninvite(owner, room, 2147483647)).code, 'INVITE_NOT_FOUND', 'an unknown user has none')
  })

  t.test('declining a private room makes it invisible again', async t => {
    const room = await createPrivate(owner, 'decline')
    const guest = await fixtureUser(app)
    t.equal((await invite(owner, room, guest.id)).statusCode, 201)
    t.equal((await getRoomEvents(guest, room)).statusCode, 403, 'visible while invited')
    t.equal((await uninvite(guest, room, guest.id)).statusCode, 204)
    const hidden = await getRoomEvents(guest, room)
    t.equal(hidden.statusCode, 404)
    t.same(json(hidden), json(await getRoomEvents(guest, 2147483647)), 'as a missing id')
    const join = await app.inject({ method: 'POST', url: `/api/v1/rooms/${room}/join`, headers: guest.auth })
    t.equal(join.statusCode, 404, 'and cannot be joined')
    t.equal(json(await uninvite(guest, room, guest.id)).code, 'ROOM_NOT_FOUND', 'declining again: the room is invisible')
  })

  t.test('GET /users/me/invites: newest first, paged', async t => {
    const guest = await fixtureUser(app)
    const rooms: number[] = []
    for (const name of ['first', 'second', 'third']) {
      const room = await createPrivate(owner, `list ${name}`)
      rooms.push(room)
      t.equal((await invite(owner, room, guest.id)).statusCode, 201)
    }
    const list = await myInvites(guest)
    t.same(list.map(i => i.room_id), [...rooms].reverse(), 'newest first')
    t.match(list[0], { user_id: guest.id, invited_by: owner.id, room: { id: rooms[2], name: 'list third', my_role: null } })
    const page = json(await app.inject({ url: '/api/v1/users/me/invites?limit=1&offset=1', headers: guest.auth }))
    t.same(page.map((i: any) => i.room_id), [rooms[1]])
    t.equal((await app.inject({ url: '/api/v1/users/me/invites?limit=0', headers: guest.auth })).statusCode, 400, 'limit is checked')
  })
})
