import { createHmac } from 'node:crypto'
import t from 'tap'
import { build, json, signUp, testConfig, uniqueEmail } from '../helper.js'

interface Message { id: number, room_id: number, user_id: number | null, username: string | null, content: string, created_at: string }

t.test('the same API on the embedded engine (PGlite)', async t => {
  const app = await build(t, { engine: 'embedded' })
  t.equal(app.dbEngine, 'embedded')
  t.equal((await app.inject({ url: '/health' })).statusCode, 200)

  // Register and log in.
  const email = uniqueEmail('Embedded.User')
  const registered = await app.inject({ method: 'POST', url: '/api/v1/users/register', payload: { email, password: 'embedded passphrase', username: 'embedded' } })
  t.equal(registered.statusCode, 201)
  t.match(json(registered), { id: Number, email, username: 'embedded', created_at: /^\d{4}-/ })
  const duplicate = await app.inject({ method: 'POST', url: '/api/v1/users/register', payload: { email: email.toLowerCase(), password: 'another passphrase', username: 'copy' } })
  t.equal(duplicate.statusCode, 409, 'the unique index on lower(email) works here too')
  t.same(json(duplicate), { error: 'Email already registered', code: 'EMAIL_TAKEN' })
  const login = await app.inject({ method: 'POST', url: '/api/v1/users/login', payload: { email: email.toUpperCase(), password: 'embedded passphrase' } })
  t.equal(login.statusCode, 200)
  const owner = { id: json(login).user.id as number, auth: { authorization: `Bearer ${json(login).token as string}` } }
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/users/login', payload: { email, password: 'wrong passphrase' } })).statusCode, 401)

  const member = await signUp(app, { username: 'member' })
  const outsider = await signUp(app, { username: 'outsider' })

  // Rooms: create (creator is a member), join twice, member counts.
  const created = await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: owner.auth, payload: { name: '  Embedded Room ', description: 'on PGlite' } })
  t.equal(created.statusCode, 201)
  const room = json(created)
  t.match(room, { id: Number, name: 'Embedded Room', description: 'on PGlite', created_by: owner.id, created_at: String })
  for (let i = 0; i < 2; i++) {
    const join = await app.inject({ method: 'POST', url: `/api/v1/rooms/${room.id as number}/join`, headers: member.auth })
    t.same(json(join), { message: 'Successfully joined room', room_id: room.id })
  }
  const rooms = json<Array<{ id: number, member_count: number }>>(await app.inject({ url: '/api/v1/rooms', headers: owner.auth }))
  t.equal(rooms.find(r => r.id === room.id)?.member_count, 2)
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/rooms/424242/join', headers: member.auth })).statusCode, 404)

  // Messages: send, trim, refuse, membership.
  const sent: Message[] = []
  for (let i = 1; i <= 6; i++) {
    const res = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: i % 2 === 0 ? member.auth : owner.auth, payload: { room_id: room.id, content: ` e${i} ` } })
    t.equal(res.statusCode, 201)
    sent.push(json(res))
  }
  t.match(sent[1], { room_id: room.id, user_id: member.id, username: 'member', content: 'e2' })
  const empty = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: owner.auth, payload: { room_id: room.id, content: '   ' } })
  t.equal(empty.statusCode, 400)
  t.equal(json(empty).error, 'content must not be empty')
  const nul = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: owner.auth, payload: { room_id: room.id, content: 'a\u0000b' } })
  t.equal(nul.statusCode, 400)
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/messages', headers: outsider.auth, payload: { room_id: room.id, content: 'hi' } })).statusCode, 403)
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/messages', headers: owner.auth, payload: { room_id: 424242, content: 'hi' } })).statusCode, 404)

  // History paging: offset from the newest, pages oldest first, cursors.
  const history = async (query: string): Promise<string[]> => {
    const res = await app.inject({ url: `/api/v1/rooms/${room.id as number}/messages?${query}`, headers: member.auth })
    t.equal(res.statusCode, 200, query)
    return json<Message[]>(res).map(m => m.content)
  }
  t.same(await history(''), ['e1', 'e2', 'e3', 'e4', 'e5', 'e6'])
  t.same(await history('limit=1&offset=0'), ['e6'], 'the newest')
  t.same(await history('limit=2&offset=1'), ['e4', 'e5'])
  t.same(await history(`before=${sent[3]!.id}&limit=2`), ['e2', 'e3'])
  t.same(await history(`after=${sent[3]!.id}`), ['e5', 'e6'])
  const full = json<Message[]>(await app.inject({ url: `/api/v1/rooms/${room.id as number}/messages`, headers: member.auth }))
  t.same(full, sent, 'stored messages equal the send responses (timestamps included)')
  t.equal((await app.inject({ url: `/api/v1/rooms/${room.id as number}/messages`, headers: outsider.auth })).statusCode, 403)
  t.equal((await app.inject({ url: `/api/v1/rooms/${room.id as number}/messages?limit=101`, headers: member.auth })).statusCode, 400)

  // A valid token whose user is gone: 401 here too (the foreign key error is recognised on PGlite).
  const head = `${Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({
    sub: '2000000000', role: 'user', iss: 'chat-app', aud: 'chat-app', iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 600
  })).toString('base64url')}`
  const ghost = { authorization: `Bearer ${head}.${createHmac('sha256', testConfig().jwt.secret).update(head).digest('base64url')}` }
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: ghost, payload: { name: 'ghost' } })).statusCode, 401)
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/rooms/${room.id as number}/join`, headers: ghost })).statusCode, 401)

  // Token revocation (migration 0006) works here too: logout refuses the token from then on.
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/users/logout', headers: outsider.auth })).statusCode, 204)
  t.equal((await app.inject({ url: '/api/v1/users/me', headers: outsider.auth })).statusCode, 401, 'a revoked token is refused')
  t.equal((await app.inject({ url: '/api/v1/users/me', headers: member.auth })).statusCode, 200, 'other users are unaffected')
})
