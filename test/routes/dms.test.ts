import { sql } from 'kysely'
import t from 'tap'
import { build, fixtureUser, json, postgresReachable, sendAs, type Session } from '../helper.js'
import { listen, PrivateRedis, TestSocket, twoInstances } from '../ws-client.js'

// POST /dms (CONTRACT.md Part 2, "Rooms: privacy, roles, moderation, invites, direct messages").

t.test('direct messages', async t => {
  const app = await build(t)
  const url = await listen(app)
  const alice = await fixtureUser(app)
  const bob = await fixtureUser(app)
  const carol = await fixtureUser(app)

  const open = async (user: Session, userId: unknown) =>
    await app.inject({ method: 'POST', url: '/api/v1/dms', headers: user.auth, payload: { user_id: userId } })
  const directRooms = async (a: number, b: number): Promise<number> => {
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from rooms where is_direct and direct_key = ${`${Math.min(a, b)}:${Math.max(a, b)}`}`.execute(app.db)
    return rows[0]!.n
  }

  t.test('opening a DM: 201 a private direct room with both as members; again from either side: 200, the same room', async t => {
    const aliceSocket = await TestSocket.as(t, url, alice)
    const bobSocket = await TestSocket.as(t, url, bob)

    const created = await open(alice, bob.id)
    t.equal(created.statusCode, 201)
    const room = json(created)
    const [first, second] = alice.id < bob.id ? [alice, bob] : [bob, alice]
    t.match(room, { is_direct: true, is_private: true, member_count: 2, my_role: 'member', created_by: alice.id, description: null })
    t.equal(room.name, `${first.username} & ${second.username}`, 'named after both, the lower id first')

    const added = await bobSocket.next(f => f.type === 'room:added', 'room:added')
    t.match(added.payload.room, { id: room.id, is_direct: true, is_private: true, member_count: 2, my_role: 'member', name: room.name }, 'bob\'s sockets get room:added')
    t.same(aliceSocket.all(f => f.type === 'room:added'), [], 'the caller gets no room:added')

    const members = await sql<{ user_id: number, role: string }>`select user_id, role from room_members where room_id = ${room.id} order by user_id`.execute(app.db)
    t.same(members.rows, [first, second].map(u => ({ user_id: u.id, role: 'member' })), 'both are members, role member, no owner')

    const again = await open(alice, bob.id)
    t.equal(again.statusCode, 200, 'opening it again: 200')
    t.same(json(again), room, 'the same room')
    const fromBob = await open(bob, alice.id)
    t.equal(fromBob.statusCode, 200, 'from the other side: 200')
    t.match(json(fromBob), { id: room.id, name: room.name, my_role: 'member' })
    t.equal(await directRooms(alice.id, bob.id), 1)

    // Messages reach both already-open sockets without any join.
    await sendAs(app, alice, room.id, 'hi bob')
    t.match((await bobSocket.message('hi bob')).payload, { room_id: room.id, user_id: alice.id })
    await aliceSocket.message('hi bob')
    bobSocket.send({ type: 'message:send', payload: { room_id: room.id, content: 'hi alice' } })
    t.match((await aliceSocket.message('hi alice')).payload, { room_id: room.id, user_id: bob.id }, 'and over WebSocket the other way')
    t.equal(bobSocket.all(f => f.type === 'room:added').length, 1, 'room:added came once: reopening sends nothing')

    // Listed in GET /users/me/rooms for both, never in GET /rooms.
    for (const user of [alice, bob]) {
      const mine = json(await app.inject({ url: '/api/v1/users/me/rooms', headers: user.auth }))
      t.match(mine.find((r: any) => r.id === room.id), { is_direct: true, role: 'member', last_message: { content: 'hi alice' } }, 'in /users/me/rooms')
      const listed = json(await app.inject({ url: '/api/v1/rooms?limit=100', headers: user.auth }))
      t.notOk(listed.some((r: any) => r.id === room.id), 'not in GET /rooms')
    }

    // A DM has no leaving.
    const leave = await app.inject({ method: 'POST', url: `/api/v1/rooms/${room.id}/leave`, headers: alice.auth })
    t.equal(leave.statusCode, 403)
    t.equal(json(leave).code, 'DIRECT_ROOM')

    // A third user: 404 on every room route, exactly as for a missing id.
    const routes: Array<{ method: 'GET' | 'POST' | 'DELETE', path: (id: number) => string, payload?: (id: number) => unknown }> = [
      { method: 'POST', path: id => `/api/v1/rooms/${id}/join` },
      { method: 'POST', path: id => `/api/v1/rooms/${id}/leave` },
      { method: 'GET', path: id => `/api/v1/rooms/${id}/messages` },
      { method: 'GET', path: id => `/api/v1/rooms/${id}/events` },
      { method: 'POST', path: id => `/api/v1/rooms/${id}/read`, payload: () => ({ seq: 1 }) },
      { method: 'POST', path: id => `/api/v1/rooms/${id}/invites`, payload: () => ({ user_id: alice.id }) },
      { method: 'DELETE', path: id => `/api/v1/rooms/${id}/invites/${carol.id}` },
      { method: 'POST', path: () => '/api/v1/messages', payload: id => ({ room_id: id, content: 'let me in' }) }
    ]
    for (const route of routes) {
      const ask = async (id: number) => await app.inject({ method: route.method, url: route.path(id), headers: carol.auth, payload: route.payload?.(id) as any })
      const dm = await ask(room.id)
      const missing = await ask(2147483647)
      t.equal(dm.statusCode, 404, `${route.method} ${route.path(room.id)}: 404 to a third user`)
      t.same(json(dm), json(missing), `${route.method} ${route.path(room.id)}: the body of a missing id`)
    }
    const carolSocket = await TestSocket.as(t, url, carol)
    carolSocket.send({ type: 'room:join', payload: { room_id: room.id } })
    t.match((await carolSocket.error()).payload, { code: 'ROOM_NOT_FOUND' }, 'room:join over WebSocket: ROOM_NOT_FOUND')
  })

  t.test('many opening the same DM at once, from both sides: one room', async t => {
    const dave = await fixtureUser(app)
    const erin = await fixtureUser(app)
    const daveSocket = await TestSocket.as(t, url, dave)
    const erinSocket = await TestSocket.as(t, url, erin)
    const answers = await Promise.all(Array.from({ length: 20 }, async (_, i) => i % 2 === 0 ? await open(dave, erin.id) : await open(erin, dave.id)))
    const ids = new Set(answers.map(r => json(r).id))
    t.equal(ids.size, 1, 'every answer is the same room')
    t.same(answers.map(r => r.statusCode).sort((a, b) => a - b), [...Array(19).fill(200), 201], 'one 201, the rest 200')
    t.equal(await directRooms(dave.id, erin.id), 1, 'one row')
    const [room] = ids
    const members = await sql<{ n: number }>`select count(*)::int as n from room_members where room_id = ${room!}`.execute(app.db)
    t.equal(members.rows[0]!.n, 2, 'two members')
    const creator = json(answers.find(r => r.statusCode === 201)!).created_by
    const other = creator === dave.id ? erinSocket : daveSocket
    await other.next(f => f.type === 'room:added' && f.payload.room.id === room, 'room:added')
    await sendAs(app, dave, room!, 'race won')
    await erinSocket.message('race won')
    await daveSocket.message('race won')
    t.equal(other.all(f => f.type === 'room:added').length, 1, 'room:added once')
  })

  t.test('refusals', async t => {
    const self = await open(alice, alice.id)
    t.equal(self.statusCode, 400)
    t.same(json(self), { error: 'You cannot open a direct-message room with yourself', code: 'CANNOT_DM_SELF' })
    const unknown = await open(alice, 2147483647)
    t.equal(unknown.statusCode, 404)
    t.same(json(unknown), { error: 'User not found', code: 'USER_NOT_FOUND' })
    const disabled = await fixtureUser(app)
    await sql`update users set disabled_at = now() where id = ${disabled.id}`.execute(app.db)
    const refused = await open(alice, disabled.id)
    t.equal(refused.statusCode, 404, 'a disabled user')
    t.equal(json(refused).code, 'USER_NOT_FOUND')
    t.equal(await directRooms(alice.id, disabled.id), 0, 'no room was made')
    t.equal((await open(alice, '2')).statusCode, 400, 'user_id is never coerced')
    t.match(json(await app.inject({ method: 'POST', url: '/api/v1/dms', headers: alice.auth, payload: {} })), { error: 'user_id is required', code: 'VALIDATION_ERROR' })
    t.equal((await app.inject({ method: 'POST', url: '/api/v1/dms', payload: { user_id: bob.id } })).statusCode, 401, 'needs a token')
  })
})

t.test('one DM per pair on the embedded engine too', async t => {
  const app = await build(t, { engine: 'embedded' })
  const a = await fixtureUser(app)
  const b = await fixtureUser(app)
  const answers = await Promise.all(Array.from({ length: 20 }, async (_, i) =>
    await app.inject({ method: 'POST', url: '/api/v1/dms', headers: (i % 2 === 0 ? a : b).auth, payload: { user_id: i % 2 === 0 ? b.id : a.id } })))
  t.equal(new Set(answers.map(r => json(r).id)).size, 1, 'one room')
  t.equal(answers.filter(r => r.statusCode === 201).length, 1, 'made once')
  const { rows } = await sql<{ n: number }>`select count(*)::int as n from rooms where is_direct`.execute(app.db)
  t.equal(rows[0]!.n, 1)
})

t.test('on two instances: a DM opened on A reaches the other user\'s socket on B (room:added, then its messages), and an invite too', async t => {
  if (!await postgresReachable()) {
    t.comment('# SKIP two instances need the PostgreSQL server')
    return
  }
  const redis = await PrivateRedis.start(t)
  const { a, urlB } = await twoInstances(t, redis.url)
  const alice = await fixtureUser(a)
  const bob = await fixtureUser(a)
  const bobB = await TestSocket.as(t, urlB, bob)
  const opened = await a.inject({ method: 'POST', url: '/api/v1/dms', headers: alice.auth, payload: { user_id: bob.id } })
  t.equal(opened.statusCode, 201)
  const room = json(opened).id
  t.match((await bobB.next(f => f.type === 'room:added', 'room:added on B')).payload, { room: { id: room, is_direct: true } })
  await sendAs(a, alice, room, 'across instances')
  t.match((await bobB.message('across instances')).payload, { room_id: room, user_id: alice.id }, 'subscribed on B without a join')

  const created = await a.inject({ method: 'POST', url: '/api/v1/rooms', headers: alice.auth, payload: { name: 'invite across', is_private: true } })
  const invited = await a.inject({ method: 'POST', url: `/api/v1/rooms/${json(created).id}/invites`, headers: alice.auth, payload: { user_id: bob.id } })
  t.equal(invited.statusCode, 201)
  t.match((await bobB.next(f => f.type === 'room:invited', 'room:invited on B')).payload, { invited_by: alice.id, room: { id: json(created).id, my_role: null } })
})
