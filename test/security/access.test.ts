import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { build, createRoom, joinRoom, json, signUp, uniqueEmail } from '../helper.js'
import { claims, craftToken, HS256, isClientError, stillHealthy } from './hostile.js'

// Who may do what: mass assignment, account enumeration, brute force, object- and function-level
// authorization (OWASP API1, API3, API5), and what responses never carry.

const app = await build(t)
const PASSWORD = 'correct horse battery staple'
const alice = await signUp(app, { username: 'alice' })
const bob = await signUp(app, { username: 'bob' })

async function login (app: FastifyInstance, email: string, password = PASSWORD, remoteAddress = '127.0.0.1'): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url: '/api/v1/users/login', remoteAddress, payload: { email, password } })
}
async function register (email: string, password = PASSWORD, remoteAddress = '127.0.0.1'): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url: '/api/v1/users/register', remoteAddress, payload: { email, password, username: email.split('@')[0]! } })
}
/** A 429 with a Retry-After of 1..max seconds and the `{"error"}` shape. */
function isRateLimited (t: Test, res: LightMyRequestResponse, maxSeconds: number, label: string): void {
  isClientError(t, res, 429, label)
  const retryAfter = Number(res.headers['retry-after'])
  t.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= maxSeconds, `${label}: Retry-After ${String(res.headers['retry-after'])} is 1..${maxSeconds}`)
}

// Mass assignment (API3: object property level authorization)

t.test('mass assignment: role, id, created_at in a registration are ignored', async t => {
  const email = uniqueEmail('sneaky')
  const res = await app.inject({ method: 'POST', url: '/api/v1/users/register', payload: { email, password: PASSWORD, username: 'sneaky', role: 'admin', id: 424242, is_admin: true, created_at: '2000-01-01T00:00:00Z', token_version: 99 } })
  t.equal(res.statusCode, 201)
  const body = json(res)
  t.not(body.id, 424242, 'the id is the server\'s')
  t.notOk('role' in body)
  t.not(body.created_at.slice(0, 4), '2000', 'created_at is the server\'s')
  const auth = { authorization: `Bearer ${json(await login(app, email)).token as string}` }
  const other = await app.inject({ url: `/api/v1/users/${alice.id}`, headers: auth })
  t.equal(other.statusCode, 200)
  t.notOk('email' in json(other), 'another user\'s email stays hidden: the new user is not an admin')
  const admin = await app.inject({ method: 'PATCH', url: `/api/v1/users/${bob.id}`, headers: auth, payload: { disabled: true } })
  isClientError(t, admin, 403, 'an admin action')
})

t.test('mass assignment: created_by, id, member_count in a new room are ignored', async t => {
  const res = await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: alice.auth, payload: { name: 'extra', created_by: bob.id, id: 777, member_count: 50 } })
  t.equal(res.statusCode, 201)
  t.equal(json(res).created_by, alice.id)
  t.not(json(res).id, 777)
  const listed = json<Array<{ id: number, member_count: number }>>(await app.inject({ url: '/api/v1/rooms?limit=100', headers: alice.auth })).find(r => r.id === json(res).id)
  t.equal(listed?.member_count, 1, 'only the creator is a member')
})

t.test('mass assignment: user_id, username, id, seq in a message are ignored', async t => {
  const room = await createRoom(app, alice, 'spoof')
  const res = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: alice.auth, payload: { room_id: room, content: 'hi', user_id: bob.id, username: 'bob', id: 999, seq: 500, created_at: '2000-01-01T00:00:00Z' } })
  t.equal(res.statusCode, 201)
  t.match(json(res), { user_id: alice.id, username: 'alice', seq: 1 })
  t.not(json(res).id, 999)
})

t.test('mass assignment: role and id in PATCH /users/me are ignored or refused', async t => {
  const me = await signUp(app)
  const res = await app.inject({ method: 'PATCH', url: '/api/v1/users/me', headers: me.auth, payload: { current_password: PASSWORD, username: 'renamed', role: 'admin', id: alice.id, disabled_at: null } })
  t.ok(res.statusCode === 200 || res.statusCode === 400, `status ${res.statusCode}`)
  if (res.statusCode === 400) isClientError(t, res, 400, 'unknown fields')
  const token = res.statusCode === 200 ? json(res).token as string : me.token
  if (res.statusCode === 200) t.equal(json(res).user.id, me.id, 'still the same account')
  const other = await app.inject({ url: `/api/v1/users/${alice.id}`, headers: { authorization: `Bearer ${token}` } })
  t.notOk('email' in json(other), 'still not an admin')
  t.equal(json(await app.inject({ url: `/api/v1/users/${alice.id}`, headers: alice.auth })).username, 'alice', 'alice is unchanged')
})

t.test('function level (API5): a normal user cannot use the admin-only PATCH /users/{id}', async t => {
  for (const payload of [{ disabled: true }, { disabled: false }]) {
    const res = await app.inject({ method: 'PATCH', url: `/api/v1/users/${bob.id}`, headers: alice.auth, payload })
    isClientError(t, res, 403, `disabled: ${String(payload.disabled)}`)
    t.match(json(res), { code: 'ADMIN_ONLY' })
  }
  t.equal((await login(app, bob.email)).statusCode, 200, 'bob can still log in')
  const forged = craftToken(HS256, claims(alice.id, { role: 'admin' }), 'not-the-server-secret-but-32-characters-long')
  const res = await app.inject({ method: 'PATCH', url: `/api/v1/users/${bob.id}`, headers: { authorization: `Bearer ${forged}` }, payload: { disabled: true } })
  isClientError(t, res, 401, 'a self-made admin token')
})

// Enumeration

t.test('login: an unknown email and a wrong password give the identical answer', async t => {
  const unknown = await login(app, uniqueEmail('nobody'), 'some password here', '203.0.113.200')
  const wrong = await login(app, alice.email, 'some password here', '203.0.113.201')
  isClientError(t, unknown, 401, 'unknown email')
  t.equal(unknown.statusCode, wrong.statusCode, 'same status')
  t.equal(unknown.body, wrong.body, 'byte-identical bodies')
  t.equal(unknown.headers['content-type'], wrong.headers['content-type'])
  const malformed = await login(app, 'not-an-email', 'some password here', '203.0.113.202')
  t.equal(malformed.body, wrong.body, 'a malformed email is not told apart either')
})

t.test('register: a taken email says 409 and nothing about the account', async t => {
  for (const email of [alice.email, alice.email.toUpperCase()]) {
    const res = await register(email)
    isClientError(t, res, 409, email)
    t.same(json(res), { error: 'Email already registered', code: 'EMAIL_TAKEN' }, 'only the contract\'s 409 body')
    t.notMatch(res.body, new RegExp(`alice|"id"|${alice.id}`), 'no id or username of the holder')
  }
})

// Brute force

t.test('brute force: 10 failures lock the account and address pair (429, Retry-After), even for the right password', async t => {
  const victim = uniqueEmail('victim')
  const bystander = uniqueEmail('bystander')
  t.equal((await register(victim)).statusCode, 201)
  t.equal((await register(bystander)).statusCode, 201)
  const attacker = '203.0.113.7'
  for (let i = 1; i <= 10; i++) t.equal((await login(app, victim, `wrong password ${i}`, attacker)).statusCode, 401, `failure ${i} is a plain 401`)
  const locked = await login(app, victim, PASSWORD, attacker)
  isRateLimited(t, locked, 15 * 60, 'the right password from the locked address')
  t.match(json(locked), { code: 'LOGIN_LOCKED' })
  t.ok(Number(locked.headers['retry-after']) > 14 * 60, 'locked for about 15 minutes')
  t.notOk('token' in json(locked), 'no token while locked')
  isRateLimited(t, await login(app, victim, 'wrong again', attacker), 15 * 60, 'a wrong password from the locked address')
  t.equal((await login(app, bystander, PASSWORD, attacker)).statusCode, 200, 'another account from the same address is unaffected')
  const elsewhere = await login(app, victim, PASSWORD, '198.51.100.20')
  t.equal(elsewhere.statusCode, 200, 'the same account from another address is unaffected')
  t.type(json(elsewhere).token, 'string')
  t.equal((await login(app, victim.toUpperCase(), PASSWORD, attacker)).statusCode, 429, 'the email\'s case does not dodge the lock')
})

t.test('brute force: an unknown email is locked the same way (no enumeration by lockout)', async t => {
  const ghost = uniqueEmail('ghost')
  const address = '203.0.113.50'
  for (let i = 1; i <= 10; i++) t.equal((await login(app, ghost, `guess ${i}`, address)).statusCode, 401)
  isRateLimited(t, await login(app, ghost, 'guess 11', address), 15 * 60, 'unknown email after 10 failures')
})

t.test('brute force: a successful login clears the pair\'s failures', async t => {
  const email = uniqueEmail('forgetful')
  t.equal((await register(email)).statusCode, 201)
  const address = '203.0.113.99'
  for (let i = 0; i < 9; i++) t.equal((await login(app, email, 'nope nope nope', address)).statusCode, 401)
  t.equal((await login(app, email, PASSWORD, address)).statusCode, 200, 'the 10th attempt, right, succeeds')
  t.equal((await login(app, email, 'nope nope nope', address)).statusCode, 401, 'a 10th failure in 15 minutes...')
  t.equal((await login(app, email, PASSWORD, address)).statusCode, 200, '...does not lock: the success cleared the count')
})

// Object level (API1): rooms and their messages

const secretRoom = await createRoom(app, alice, 'alice only')
await app.inject({ method: 'POST', url: '/api/v1/messages', headers: alice.auth, payload: { room_id: secretRoom, content: 'for members only' } })

t.test('reading a room you are not in is 403 and shows nothing', async t => {
  for (const query of ['', '?limit=100', '?offset=0&limit=1', '?after=1', '?before=2147483647']) {
    const res = await app.inject({ url: `/api/v1/rooms/${secretRoom}/messages${query}`, headers: bob.auth })
    isClientError(t, res, 403, `GET messages${query}`)
    t.notMatch(res.body, /for members only/)
  }
  isClientError(t, await app.inject({ url: '/api/v1/rooms/2000000000/messages', headers: bob.auth }), 404, 'a room that does not exist')
})

t.test('sending to a room you are not in is 403 and stores nothing', async t => {
  const res = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: bob.auth, payload: { room_id: secretRoom, content: 'let me in' } })
  isClientError(t, res, 403, 'send')
  const history = json<Array<{ content: string }>>(await app.inject({ url: `/api/v1/rooms/${secretRoom}/messages`, headers: alice.auth }))
  t.same(history.map(m => m.content), ['for members only'], 'nothing was stored')
  isClientError(t, await app.inject({ method: 'POST', url: '/api/v1/messages', headers: bob.auth, payload: { room_id: 2_000_000_000, content: 'x' } }), 404, 'a room that does not exist')
})

t.test('a message from another room is not visible through your own room', async t => {
  const bobsRoom = await createRoom(app, bob, 'bob only')
  await app.inject({ method: 'POST', url: '/api/v1/messages', headers: bob.auth, payload: { room_id: bobsRoom, content: 'bob\'s own' } })
  const alicesId = json<Array<{ id: number }>>(await app.inject({ url: `/api/v1/rooms/${secretRoom}/messages`, headers: alice.auth }))[0]!.id
  for (const query of ['?limit=100', '?after=1', `?before=${alicesId + 1}`]) {
    const history = json<Array<{ room_id: number, content: string }>>(await app.inject({ url: `/api/v1/rooms/${bobsRoom}/messages${query}`, headers: bob.auth }))
    t.ok(history.every(m => m.room_id === bobsRoom), `${query}: only this room's messages`)
    t.notOk(history.some(m => m.content === 'for members only'), `${query}: not alice's message`)
  }
})

t.test('join semantics: joining is the way in, and then reading and sending work', async t => {
  const room = await createRoom(app, alice, 'open door')
  isClientError(t, await app.inject({ url: `/api/v1/rooms/${room}/messages`, headers: bob.auth }), 403, 'before joining')
  await joinRoom(app, bob, room)
  t.equal((await app.inject({ url: `/api/v1/rooms/${room}/messages`, headers: bob.auth })).statusCode, 200, 'after joining: read')
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/messages', headers: bob.auth, payload: { room_id: room, content: 'joined' } })).statusCode, 201, 'after joining: send')
  isClientError(t, await app.inject({ method: 'POST', url: '/api/v1/rooms/2000000000/join', headers: bob.auth }), 404, 'joining a room that does not exist')
})

// What responses carry (API3: excessive data exposure)

t.test('other users\' emails are never shown', async t => {
  const list = json<Array<{ id: number, email?: string }>>(await app.inject({ url: '/api/v1/users?limit=100', headers: bob.auth }))
  t.ok(list.length >= 2)
  t.same(list.filter(u => u.email !== undefined).map(u => u.id), [bob.id], 'only bob\'s own email in the list')
  t.notOk('email' in json(await app.inject({ url: `/api/v1/users/${alice.id}`, headers: bob.auth })), 'not in GET /users/{id}')
  t.equal(json(await app.inject({ url: `/api/v1/users/${bob.id}`, headers: bob.auth })).email, bob.email, 'your own is shown')
  const room = await createRoom(app, alice, 'emails')
  await joinRoom(app, bob, room)
  const sent = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: alice.auth, payload: { room_id: room, content: 'hello' } })
  const bodies = [sent.body, (await app.inject({ url: `/api/v1/rooms/${room}/messages`, headers: bob.auth })).body, (await app.inject({ url: '/api/v1/rooms?limit=100', headers: bob.auth })).body]
  for (const body of bodies) t.notMatch(body, alice.email, 'no email in messages or rooms')
})

t.test('no password hash, token version or secret in any response', async t => {
  const email = uniqueEmail('hashless')
  const room = await createRoom(app, alice, 'hashless')
  const responses = [
    await register(email),
    await login(app, email),
    await login(app, email, 'wrong password!!'),
    await app.inject({ url: '/api/v1/users?limit=100', headers: alice.auth }),
    await app.inject({ url: `/api/v1/users/${alice.id}`, headers: alice.auth }),
    await app.inject({ url: `/api/v1/users/${bob.id}`, headers: alice.auth }),
    await app.inject({ url: '/api/v1/users/me', headers: alice.auth }),
    await app.inject({ url: '/api/v1/rooms?limit=100', headers: alice.auth }),
    await app.inject({ method: 'POST', url: '/api/v1/messages', headers: alice.auth, payload: { room_id: room, content: 'x' } }),
    await app.inject({ url: `/api/v1/rooms/${room}/messages`, headers: alice.auth }),
    await app.inject({ method: 'POST', url: `/api/v1/rooms/${room}/join`, headers: bob.auth }),
    await register(email),
    await app.inject({ url: '/health' })
  ]
  for (const res of responses) {
    t.ok(res.statusCode < 500, `${res.statusCode}`)
    t.notMatch(res.body, /password_hash|passwordHash|token_version|\$2[aby]\$\d\d\$|test-secret/, `${res.body.slice(0, 50)}: nothing secret`)
  }
})

stillHealthy(t, app, alice)
