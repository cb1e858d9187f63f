import t from 'tap'
import { build, json, signUp } from '../helper.js'

interface RoomSummary { id: number, name: string, description: string | null, created_by: number | null, member_count: number, created_at: string }

t.test('rooms', async t => {
  const app = await build(t)
  const owner = await signUp(app)
  const other = await signUp(app)

  async function createRoom (payload: Record<string, unknown>, auth = owner.auth): Promise<{ id: number, name: string }> {
    const res = await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: auth, payload })
    if (res.statusCode !== 201) throw new Error(`create room failed: ${res.statusCode} ${res.body}`)
    return json(res)
  }

  async function listRooms (): Promise<RoomSummary[]> {
    const res = await app.inject({ url: '/api/v1/rooms?limit=100', headers: owner.auth })
    if (res.statusCode !== 200) throw new Error(`list rooms failed: ${res.statusCode} ${res.body}`)
    return json(res)
  }

  async function memberCount (roomId: number): Promise<number | undefined> {
    return (await listRooms()).find(r => r.id === roomId)?.member_count
  }

  t.test('create returns 201 with the seed shape, name trimmed, creator as first member', async t => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/rooms',
      headers: owner.auth,
      payload: { name: '  General Discussion  ', description: 'A place for general topics' }
    })
    t.equal(res.statusCode, 201)
    const body = json(res)
    t.same(Object.keys(body).sort(), ['created_at', 'created_by', 'description', 'id', 'is_direct', 'is_private', 'member_count', 'my_role', 'name'])
    t.match(body, { is_private: false, is_direct: false, member_count: 1, my_role: 'owner' }, 'a public room with its creator as owner')
    t.equal(body.name, 'General Discussion', 'name is trimmed')
    t.equal(body.description, 'A place for general topics')
    t.equal(body.created_by, owner.id)
    t.type(body.id, 'number')
    t.ok(body.id >= 1)
    t.match(body.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/)
    t.ok(!Number.isNaN(Date.parse(body.created_at)), 'created_at parses as a date')
    t.equal(await memberCount(body.id), 1, 'the creator is the first member')
  })

  t.test('a room without a description has description null', async t => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: owner.auth, payload: { name: 'no description' } })
    t.equal(res.statusCode, 201)
    t.equal(json(res).description, null)
  })

  t.test('list returns every room with its member_count', async t => {
    const a = await createRoom({ name: 'list-a' })
    const b = await createRoom({ name: 'list-b', description: 'second' }, other.auth)
    await app.inject({ method: 'POST', url: `/api/v1/rooms/${a.id}/join`, headers: other.auth })
    const rooms = await listRooms()
    const ra = rooms.find(r => r.id === a.id)
    const rb = rooms.find(r => r.id === b.id)
    t.ok(ra, 'room a is listed')
    t.ok(rb, 'room b is listed')
    t.match(ra, { id: a.id, name: 'list-a', description: null, created_by: owner.id, member_count: 2 })
    t.match(rb, { id: b.id, name: 'list-b', description: 'second', created_by: other.id, member_count: 1 })
    t.match(ra?.created_at, /^\d{4}-\d\d-\d\dT/)
    const ids = rooms.map(r => r.id)
    t.same(ids, [...ids].sort((x, y) => x - y), 'rooms are ordered by id')
  })

  t.test('list honours limit and offset, and refuses bad values', async t => {
    await createRoom({ name: 'page-1' })
    await createRoom({ name: 'page-2' })
    const all = await listRooms()
    t.ok(all.length >= 3)
    const page = json<RoomSummary[]>(await app.inject({ url: '/api/v1/rooms?limit=2&offset=1', headers: owner.auth }))
    t.same(page.map(r => r.id), all.slice(1, 3).map(r => r.id))
    for (const query of ['limit=0', 'limit=101', 'limit=abc', 'offset=-1']) {
      const res = await app.inject({ url: `/api/v1/rooms?${query}`, headers: owner.auth })
      t.equal(res.statusCode, 400, query)
      t.match(json(res).error, new RegExp(`^${query.split('=')[0]!} `), `${query}: the error names the field`)
    }
  })

  t.test('join returns 200 with the seed message; joining twice is harmless', async t => {
    const room = await createRoom({ name: 'join-me' })
    const first = await app.inject({ method: 'POST', url: `/api/v1/rooms/${room.id}/join`, headers: other.auth })
    t.equal(first.statusCode, 200)
    t.same(json(first), { message: 'Successfully joined room', room_id: room.id })
    t.equal(await memberCount(room.id), 2)

    const second = await app.inject({ method: 'POST', url: `/api/v1/rooms/${room.id}/join`, headers: other.auth })
    t.equal(second.statusCode, 200)
    t.same(json(second), { message: 'Successfully joined room', room_id: room.id })
    t.equal(await memberCount(room.id), 2, 'member_count unchanged by a second join')

    const creator = await app.inject({ method: 'POST', url: `/api/v1/rooms/${room.id}/join`, headers: owner.auth })
    t.equal(creator.statusCode, 200, 'the creator joining again is harmless too')
    t.equal(await memberCount(room.id), 2)
  })

  t.test('join: unknown room 404, bad id 400', async t => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/rooms/999999/join', headers: owner.auth })
    t.equal(res.statusCode, 404)
    t.match(json(res), { error: String })
    for (const id of ['abc', '0', '-1', '1.5', '99999999999999999999', '2147483648']) {
      const bad = await app.inject({ method: 'POST', url: `/api/v1/rooms/${id}/join`, headers: owner.auth })
      t.equal(bad.statusCode, 400, `id ${id}`)
      t.match(json(bad).error, /^id /, `id ${id}: the error names the field`)
    }
  })

  t.test('validation: name and description bounds', async t => {
    const before = (await listRooms()).length
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ['empty name', { name: '' }, /^name /],
      ['whitespace-only name', { name: '   \t\n ' }, /^name /],
      ['missing name', { description: 'x' }, /^name /],
      ['name not a string', { name: { text: 'x' } }, /^name must be a string/],
      ['name over 255 characters', { name: 'n'.repeat(256) }, /^name must be at most 255 characters/],
      ['description over 2000 characters', { name: 'ok', description: 'd'.repeat(2001) }, /^description /],
      ['NUL in name', { name: 'a\u0000b' }, /^name /]
    ]
    for (const [label, payload, error] of cases) {
      const res = await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: owner.auth, payload })
      t.equal(res.statusCode, 400, label)
      t.match(json(res).error, error, `${label}: ${json(res).error as string}`)
    }
    t.equal((await listRooms()).length, before, 'no room was created by a refused request')

    const max = await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: owner.auth, payload: { name: 'n'.repeat(255), description: 'd'.repeat(2000) } })
    t.equal(max.statusCode, 201, 'exactly 255 / 2000 characters are accepted')
    const padded = await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: owner.auth, payload: { name: ` ${'p'.repeat(253)} ` } })
    t.equal(padded.statusCode, 201, '253 characters with spaces around fit after trimming')
    t.equal(json(padded).name, 'p'.repeat(253))
    const paddedMax = await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: owner.auth, payload: { name: `  ${'q'.repeat(255)}  ` } })
    t.equal(paddedMax.statusCode, 201, 'the 255 bound applies after trimming')
    t.equal(json(paddedMax).name, 'q'.repeat(255))
  })

  t.test('every room route needs a token (401)', async t => {
    const room = await createRoom({ name: 'auth' })
    const requests = [
      { method: 'POST' as const, url: '/api/v1/rooms', payload: { name: 'x' } },
      { method: 'GET' as const, url: '/api/v1/rooms' },
      { method: 'POST' as const, url: `/api/v1/rooms/${room.id}/join` },
      { method: 'GET' as const, url: `/api/v1/rooms/${room.id}/messages` }
    ]
    for (const request of requests) {
      const res = await app.inject(request)
      t.equal(res.statusCode, 401, `${request.method} ${request.url}`)
      t.same(json(res), { error: 'Missing or invalid authentication token', code: 'UNAUTHORIZED' })
      const bad = await app.inject({ ...request, headers: { authorization: 'Bearer not-a-token' } })
      t.equal(bad.statusCode, 401, `${request.method} ${request.url} with a bad token`)
    }
  })
})
