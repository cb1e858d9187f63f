import t from 'tap'
import { build, json, signUp, type Session } from '../helper.js'

interface Message { id: number, room_id: number, user_id: number | null, username: string | null, content: string, created_at: string }

t.test('messages', async t => {
  const app = await build(t)
  const alice = await signUp(app, { username: 'alice' })
  const bob = await signUp(app, { username: 'bob' })
  const outsider = await signUp(app, { username: 'outsider' })

  async function createRoom (name: string, by: Session = alice): Promise<number> {
    const res = await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: by.auth, payload: { name } })
    if (res.statusCode !== 201) throw new Error(`create room failed: ${res.statusCode} ${res.body}`)
    return json(res).id
  }

  async function send (roomId: number, content: string, by: Session = alice): Promise<Message> {
    const res = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: by.auth, payload: { room_id: roomId, content } })
    if (res.statusCode !== 201) throw new Error(`send failed: ${res.statusCode} ${res.body}`)
    return json(res)
  }

  async function history (roomId: number, query = '', by: Session = alice): Promise<Message[]> {
    const res = await app.inject({ url: `/api/v1/rooms/${roomId}/messages${query === '' ? '' : `?${query}`}`, headers: by.auth })
    if (res.statusCode !== 200) throw new Error(`history ${query} failed: ${res.statusCode} ${res.body}`)
    return json(res)
  }

  const room = await createRoom('chat')
  await app.inject({ method: 'POST', url: `/api/v1/rooms/${room}/join`, headers: bob.auth })

  t.test('send returns 201 with the seed shape', async t => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: alice.auth, payload: { room_id: room, content: 'Hello, everyone!' } })
    t.equal(res.statusCode, 201)
    const body = json<Message>(res)
    t.match(body, { id: Number, room_id: room, user_id: alice.id, username: 'alice', content: 'Hello, everyone!', created_at: String })
    t.has(body, { room_id: room, user_id: alice.id })
    t.ok(body.id >= 1)
    t.match(body.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/)
    t.ok(Math.abs(Date.parse(body.created_at) - Date.now()) < 60_000, 'created_at is now')
    for (const key of ['id', 'room_id', 'user_id', 'username', 'content', 'created_at']) t.ok(key in body, `has ${key}`)

    const fromBob = await send(room, 'hi alice', bob)
    t.match(fromBob, { user_id: bob.id, username: 'bob' })
    t.ok(fromBob.id > body.id, 'ids grow')

    const stored = (await history(room, 'limit=2'))
    t.same(stored, [body, fromBob], 'history returns the same messages as the sends did')
  })

  t.test('content is trimmed', async t => {
    const message = await send(room, '  \n\t padded message \t\n ')
    t.equal(message.content, 'padded message')
    const [last] = await history(room, 'limit=1')
    t.equal(last?.content, 'padded message')
    const inner = await send(room, ' line one\n  line two ')
    t.equal(inner.content, 'line one\n  line two', 'inner whitespace is kept')
  })

  t.test('content bounds: 1 to 4000 characters after trimming, no NUL', async t => {
    const count = (await history(room, 'limit=100')).length
    const cases: Array<[string, unknown, RegExp]> = [
      ['empty', '', /^content must not be empty/],
      ['whitespace only', ' \n\t  ', /^content must not be empty/],
      ['4001 characters', 'x'.repeat(4001), /^content must be at most 4000 characters/],
      ['a NUL byte', 'before\u0000after', /^content must not contain NUL characters/],
      ['a lone NUL byte', '\u0000', /^content /],
      ['missing', undefined, /^content is required/],
      ['not a string', { text: 'hi' }, /^content must be a string/]
    ]
    for (const [label, content, error] of cases) {
      const res = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: alice.auth, payload: { room_id: room, content } })
      t.equal(res.statusCode, 400, label)
      t.match(json(res), { error, code: 'VALIDATION_ERROR' }, `${label}: ${json(res).error as string}`)
    }
    t.equal((await history(room, 'limit=100')).length, count, 'nothing was stored')

    const max = await send(room, 'y'.repeat(4000))
    t.equal(max.content.length, 4000, 'exactly 4000 characters are accepted')
    const padded = await send(room, `  ${'p'.repeat(4000)}\n `)
    t.equal(padded.content, 'p'.repeat(4000), 'the bound applies after trimming: 4000 characters with whitespace around are accepted, stored trimmed')
    const emoji = '\u{1F600}'.repeat(4000)
    const wide = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: alice.auth, payload: { room_id: room, content: emoji } })
    t.equal(wide.statusCode, 201, '4000 characters outside the BMP count as 4000, not 8000')
    t.equal(json(wide).content, emoji)
    const tooWide = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: alice.auth, payload: { room_id: room, content: emoji + '\u{1F600}' } })
    t.equal(tooWide.statusCode, 400, '4001 emoji are too many')
  })

  t.test('room_id is checked: missing, bad, unknown', async t => {
    for (const roomId of [0, -1, 1.5, 'abc', 2147483648]) {
      const res = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: alice.auth, payload: { room_id: roomId, content: 'x' } })
      t.equal(res.statusCode, 400, `room_id ${roomId}`)
      t.match(json(res).error, /^room_id /)
    }
    const missing = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: alice.auth, payload: { content: 'x' } })
    t.equal(missing.statusCode, 400)
    t.match(json(missing).error, /^room_id is required/)

    const unknown = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: alice.auth, payload: { room_id: 999999, content: 'x' } })
    t.equal(unknown.statusCode, 404)
    t.match(json(unknown), { error: String, code: 'ROOM_NOT_FOUND' })
  })

  t.test('only members send: 403 for others, then 201 once joined', async t => {
    const own = await createRoom('members only')
    const res = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: outsider.auth, payload: { room_id: own, content: 'let me in' } })
    t.equal(res.statusCode, 403)
    t.match(json(res), { error: String, code: 'NOT_A_MEMBER' })
    t.same(await history(own), [], 'nothing was stored')

    const read = await app.inject({ url: `/api/v1/rooms/${own}/messages`, headers: outsider.auth })
    t.equal(read.statusCode, 403, 'a non-member cannot read either')
    t.match(json(read), { error: String, code: 'NOT_A_MEMBER' })

    await app.inject({ method: 'POST', url: `/api/v1/rooms/${own}/join`, headers: outsider.auth })
    const after = await send(own, 'thanks', outsider)
    t.match(after, { room_id: own, user_id: outsider.id, username: 'outsider', content: 'thanks' })
    t.same((await history(own, '', outsider)).map(m => m.content), ['thanks'])
  })

  t.test('sending needs a token', async t => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/messages', payload: { room_id: room, content: 'anon' } })
    t.equal(res.statusCode, 401)
    t.same(json(res), { error: 'Missing or invalid authentication token', code: 'UNAUTHORIZED' })
  })

  t.test('history: limit and offset count back from the newest; pages are oldest first', async t => {
    const paged = await createRoom('paging')
    const noise = await createRoom('noise')
    const sent: Message[] = []
    for (let i = 1; i <= 7; i++) {
      sent.push(await send(paged, `m${i}`))
      await send(noise, `noise ${i}`) // interleaved ids in another room must not show up
    }
    const ids = (list: Message[]): string[] => list.map(m => m.content)

    t.same(ids(await history(paged)), ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7'], 'default: everything, oldest first')
    t.same(ids(await history(paged, 'limit=1&offset=0')), ['m7'], 'limit=1&offset=0 is the newest message')
    t.same(ids(await history(paged, 'limit=1')), ['m7'], 'offset defaults to 0')
    t.same(ids(await history(paged, 'limit=3')), ['m5', 'm6', 'm7'], 'the newest three, oldest first')
    t.same(ids(await history(paged, 'limit=3&offset=2')), ['m3', 'm4', 'm5'], 'offset skips the newest')
    t.same(ids(await history(paged, 'limit=3&offset=5')), ['m1', 'm2'], 'a short last page')
    t.same(ids(await history(paged, 'limit=3&offset=7')), [], 'past the oldest: empty')
    t.same(ids(await history(paged, 'offset=6')), ['m1'])
    t.same(ids(await history(paged, 'limit=100')), ids(sent), 'limit=100 is allowed')

    const full = await history(paged)
    t.same(full, sent, 'history entries equal the send responses')
    t.ok(full.every(m => m.room_id === paged))
  })

  t.test('history: before and after cursors', async t => {
    const cursor = await createRoom('cursors')
    await app.inject({ method: 'POST', url: `/api/v1/rooms/${cursor}/join`, headers: bob.auth })
    const m: Message[] = []
    for (let i = 1; i <= 6; i++) m.push(await send(cursor, `c${i}`, i % 2 === 0 ? bob : alice))
    const names = (list: Message[]): string[] => list.map(x => x.content)
    const id = (i: number): number => m[i - 1]!.id

    t.same(names(await history(cursor, `before=${id(5)}`)), ['c1', 'c2', 'c3', 'c4'], 'before: only older, oldest first')
    t.same(names(await history(cursor, `before=${id(5)}&limit=2`)), ['c3', 'c4'], 'before + limit: the newest of the older ones')
    t.same(names(await history(cursor, `before=${id(5)}&limit=2&offset=1`)), ['c2', 'c3'], 'offset counts back from the cursor')
    t.same(names(await history(cursor, `before=${id(1)}`)), [], 'nothing before the first')
    t.same(names(await history(cursor, `after=${id(2)}`)), ['c3', 'c4', 'c5', 'c6'], 'after: only newer, oldest first')
    t.same(names(await history(cursor, `after=${id(2)}&limit=2`)), ['c3', 'c4'], 'after + limit: the page starts just after the cursor')
    t.same(names(await history(cursor, `after=${id(6)}`)), [], 'nothing after the newest')

    // Walking backwards page by page with `before` visits every message once.
    const seen: string[] = []
    let page = await history(cursor, 'limit=4')
    while (page.length > 0) {
      seen.unshift(...names(page))
      page = await history(cursor, `limit=4&before=${page[0]!.id}`)
    }
    t.same(seen, ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'], 'walking back with before')

    // Walking forwards with `after` from the first message visits every later one once.
    const forward: string[] = []
    let last = id(1)
    for (;;) {
      const next = await history(cursor, `limit=2&after=${last}`)
      if (next.length === 0) break
      forward.push(...names(next))
      last = next[next.length - 1]!.id
    }
    t.same(forward, ['c2', 'c3', 'c4', 'c5', 'c6'], 'walking forward with after')

    const both = await app.inject({ url: `/api/v1/rooms/${cursor}/messages?before=${id(5)}&after=${id(2)}`, headers: alice.auth })
    t.equal(both.statusCode, 400, 'before and after together')
    t.match(json(both).error, /before|after/)
    for (const query of ['before=0', 'before=abc', 'after=-1', 'after=1.5']) {
      const res = await app.inject({ url: `/api/v1/rooms/${cursor}/messages?${query}`, headers: alice.auth })
      t.equal(res.statusCode, 400, query)
      t.match(json(res).error, new RegExp(`^${query.split('=')[0]!} `), `${query}: the error names the field`)
    }
  })

  t.test('history: default limit is 50', async t => {
    const big = await createRoom('busy')
    const all: Message[] = []
    for (let i = 1; i <= 55; i++) all.push(await send(big, `b${i}`))
    const page = await history(big)
    t.equal(page.length, 50)
    t.same(page.map(m => m.id), all.slice(5).map(m => m.id), 'the newest 50, oldest first')
    t.equal((await history(big, 'limit=100')).length, 55)
  })

  t.test('history: bad limit and offset are 400 naming the field', async t => {
    for (const query of ['limit=0', 'limit=101', 'limit=abc', 'limit=-5', 'limit=1.5', 'offset=-1', 'offset=abc']) {
      const res = await app.inject({ url: `/api/v1/rooms/${room}/messages?${query}`, headers: alice.auth })
      t.equal(res.statusCode, 400, query)
      t.match(json(res), { error: new RegExp(`^${query.split('=')[0]!} `), code: 'VALIDATION_ERROR' }, `${query}: ${json(res).error as string}`)
    }
  })

  t.test('history: unknown room 404, bad id 400, no token 401', async t => {
    const unknown = await app.inject({ url: '/api/v1/rooms/999999/messages', headers: alice.auth })
    t.equal(unknown.statusCode, 404)
    t.match(json(unknown), { error: String, code: 'ROOM_NOT_FOUND' })
    for (const id of ['abc', '0', '-3', '99999999999']) {
      const res = await app.inject({ url: `/api/v1/rooms/${id}/messages`, headers: alice.auth })
      t.equal(res.statusCode, 400, `id ${id}`)
      t.match(json(res).error, /^id /)
    }
    const anon = await app.inject({ url: `/api/v1/rooms/${room}/messages` })
    t.equal(anon.statusCode, 401)
  })
})
