import { createHmac } from 'node:crypto'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { build, json, signUp, testConfig, uniqueEmail } from '../helper.js'

const secret = testConfig().jwt.secret
const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')

/** A JWT made by hand, so the test can get every part of it wrong on purpose. */
function craftToken (header: Record<string, unknown>, payload: Record<string, unknown>, key: string | null = secret): string {
  const head = `${b64(header)}.${b64(payload)}`
  if (key === null) return `${head}.`
  const algorithm = header.alg === 'HS512' ? 'sha512' : header.alg === 'HS384' ? 'sha384' : 'sha256'
  return `${head}.${createHmac(algorithm, key).update(head).digest('base64url')}`
}

const now = (): number => Math.floor(Date.now() / 1000)

/** Asserts the response is a 4xx with the `{"error"}` shape (never a 5xx). */
function isClientError (t: Test, res: LightMyRequestResponse, status: number | number[], label: string): void {
  const allowed = Array.isArray(status) ? status : [status]
  t.ok(allowed.includes(res.statusCode), `${label}: status ${res.statusCode} is ${allowed.join(' or ')}`)
  t.ok(res.statusCode < 500, `${label}: never a 5xx`)
  const body = json(res)
  t.type(body.error, 'string', `${label}: {"error"} body`)
  t.not(body.error, 'Bad Request', `${label}: a sentence, not just "Bad Request"`)
}

t.test('hostile input', async t => {
  const app = await build(t)
  const user = await signUp(app)
  const roomRes = await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: user.auth, payload: { name: 'target' } })
  const room = json(roomRes).id as number
  const roomCount = async (): Promise<number> => json<unknown[]>(await app.inject({ url: '/api/v1/rooms?limit=100', headers: user.auth })).length

  t.test('malformed JSON is 400 {"error"}', async t => {
    for (const payload of ['{', '{"name": }', 'not json', '{"name": "x"', "{'name': 'x'}", '{"name": "x"}}']) {
      const res = await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: { ...user.auth, 'content-type': 'application/json' }, payload })
      isClientError(t, res, 400, `body ${payload}`)
      t.equal(json(res).error, 'request body is not valid JSON')
    }
    const bytes = await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: { ...user.auth, 'content-type': 'application/json' }, payload: Buffer.from([0xff, 0xfe, 0x00, 0x7b]) })
    isClientError(t, bytes, 400, 'invalid UTF-8')
    t.equal(await roomCount(), 1, 'nothing was created')
  })

  t.test('a body that is not JSON is 415', async t => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) {
      const res = await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: { ...user.auth, 'content-type': type }, payload: 'name=x' })
      isClientError(t, res, 415, type)
      t.equal(json(res).error, 'Content-Type must be application/json')
    }
  })

  t.test('a body over 64 KiB is 413', async t => {
    const content = 'x'.repeat(65 * 1024)
    const res = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: user.auth, payload: { room_id: room, content } })
    isClientError(t, res, 413, '65 KiB message')
    t.equal(json(res).error, 'request body is too large')
    const register = await app.inject({ method: 'POST', url: '/api/v1/users/register', payload: { email: uniqueEmail(), password: 'p'.repeat(70_000), username: 'big' } })
    isClientError(t, register, 413, '70 kB password')
  })

  t.test('an empty body with a JSON content type is 400', async t => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: { ...user.auth, 'content-type': 'application/json' }, payload: '' })
    isClientError(t, res, 400, 'empty body')
    t.match(json(res).error, /empty/)
    const none = await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: user.auth })
    isClientError(t, none, [400, 415], 'no body at all')
    for (const payload of ['null', '[]', '"name"', '42', 'true']) {
      const res = await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: { ...user.auth, 'content-type': 'application/json' }, payload })
      isClientError(t, res, 400, `body ${payload}`)
    }
  })

  t.test('deeply nested JSON is refused cleanly', async t => {
    const deep = '['.repeat(20_000) + ']'.repeat(20_000)
    const res = await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: { ...user.auth, 'content-type': 'application/json' }, payload: `{"name": ${deep}}` })
    isClientError(t, res, 400, 'nested 20,000 deep')
  })

  t.test('__proto__ and constructor in a body are refused or ignored, and change nothing', async t => {
    const email = uniqueEmail('proto')
    const bodies = [
      `{"email":"${email}","password":"a perfectly fine passphrase","username":"proto","__proto__":{"role":"admin","isAdmin":true}}`,
      `{"email":"${email}","password":"a perfectly fine passphrase","username":"proto","constructor":{"prototype":{"role":"admin"}}}`
    ]
    for (const payload of bodies) {
      const res = await app.inject({ method: 'POST', url: '/api/v1/users/register', headers: { 'content-type': 'application/json' }, payload })
      t.ok(res.statusCode === 400 || res.statusCode === 201 || res.statusCode === 409, `status ${res.statusCode}`)
      if (res.statusCode === 400) t.type(json(res).error, 'string')
      if (res.statusCode === 201) t.notOk('role' in json(res), 'no role in the answer')
    }
    t.equal(({} as Record<string, unknown>).role, undefined, 'Object.prototype is not polluted')
    t.equal(({} as Record<string, unknown>).isAdmin, undefined)

    const login = await app.inject({ method: 'POST', url: '/api/v1/users/login', payload: { email, password: 'a perfectly fine passphrase' } })
    if (login.statusCode === 200) {
      const auth = { authorization: `Bearer ${json(login).token as string}` }
      const other = await app.inject({ url: `/api/v1/users/${user.id}`, headers: auth })
      t.notOk('email' in json(other), 'the user made with __proto__ is not an admin')
    } else {
      t.equal(login.statusCode, 401, 'refused bodies created no account')
    }

    const room = await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: { ...user.auth, 'content-type': 'application/json' }, payload: '{"name":"p","__proto__":{"created_by":1}}' })
    t.ok(room.statusCode === 400 || room.statusCode === 201, `room with __proto__: ${room.statusCode}`)
  })

  t.test('unknown fields such as role and id are ignored at registration', async t => {
    const email = uniqueEmail('sneaky')
    const password = 'sneaky but long enough'
    const res = await app.inject({ method: 'POST', url: '/api/v1/users/register', payload: { email, password, username: 'sneaky', role: 'admin', id: 424242, is_admin: true, created_at: '2000-01-01T00:00:00Z' } })
    t.ok(res.statusCode === 201 || res.statusCode === 400, `status ${res.statusCode}`)
    if (res.statusCode !== 201) return
    const body = json(res)
    t.not(body.id, 424242, 'the id is the server\'s')
    t.notOk('role' in body)
    t.not(body.created_at.slice(0, 4), '2000', 'created_at is the server\'s')
    const login = await app.inject({ method: 'POST', url: '/api/v1/users/login', payload: { email, password } })
    t.equal(login.statusCode, 200)
    const auth = { authorization: `Bearer ${json(login).token as string}` }
    const other = await app.inject({ url: `/api/v1/users/${user.id}`, headers: auth })
    t.equal(other.statusCode, 200)
    t.notOk('email' in json(other), 'another user\'s email stays hidden: the new user is not an admin')
    const list = json<Array<{ id: number, email?: string }>>(await app.inject({ url: '/api/v1/users?limit=100', headers: auth }))
    t.same(list.filter(u => u.email !== undefined).map(u => u.id), [body.id], 'only their own email is visible')
  })

  t.test('unknown fields elsewhere change nothing', async t => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: user.auth, payload: { name: 'extra', created_by: 999, id: 777, member_count: 50 } })
    t.ok(res.statusCode === 201 || res.statusCode === 400)
    if (res.statusCode === 201) {
      t.equal(json(res).created_by, user.id)
      t.not(json(res).id, 777)
    }
    const msg = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: user.auth, payload: { room_id: room, content: 'hi', user_id: 999, username: 'someone else' } })
    t.ok(msg.statusCode === 201 || msg.statusCode === 400)
    if (msg.statusCode === 201) t.match(json(msg), { user_id: user.id, username: user.username })
  })

  t.test('an unknown route is 404 {"error"}', async t => {
    const requests: InjectOptions[] = [
      { url: '/nowhere' },
      { url: '/api/v1/nothing', headers: user.auth },
      { url: '/api/v2/rooms', headers: user.auth },
      { method: 'DELETE', url: '/api/v1/rooms', headers: user.auth },
      { method: 'PUT', url: `/api/v1/rooms/${room}`, headers: user.auth },
      { url: '/api/v1/rooms/1/nothing', headers: user.auth },
      { url: '/%E0%A4%A' },
      { url: '/api/v1/users/%E0%A4%A', headers: user.auth }
    ]
    for (const request of requests) {
      const res = await app.inject(request)
      isClientError(t, res, [404, 400], `${request.method ?? 'GET'} ${request.url as string}`)
    }
    const plain = await app.inject({ url: '/nowhere' })
    t.equal(plain.statusCode, 404)
    t.match(json(plain), { error: /not found/ })
  })

  t.test('ids in paths must be positive integers', async t => {
    const ids = ['0', '-1', '-99999999', 'abc', '1.5', '2147483648', '99999999999999999999', '1 OR 1=1', "1'--", '%00', 'null', 'true', 'Infinity', '-Infinity', '1e400', 'NaN', ' ']
    for (const id of ids) {
      for (const url of [`/api/v1/users/${encodeURIComponent(id)}`, `/api/v1/rooms/${encodeURIComponent(id)}/messages`]) {
        const res = await app.inject({ url, headers: user.auth })
        isClientError(t, res, 400, url)
        t.match(json(res).error, /^id /, `${url}: names the field`)
      }
      const join = await app.inject({ method: 'POST', url: `/api/v1/rooms/${encodeURIComponent(id)}/join`, headers: user.auth })
      isClientError(t, join, 400, `join ${id}`)
    }
    const long = await app.inject({ url: `/api/v1/users/${'9'.repeat(500)}`, headers: user.auth })
    isClientError(t, long, 400, '500-digit id')
    t.match(long.headers, { 'x-content-type-options': 'nosniff' }, 'still with the security headers')
    // Other spellings of a number resolve to that number or are refused; never a 5xx.
    for (const id of ['1e3', '0x10', '+5', '05']) {
      const res = await app.inject({ url: `/api/v1/users/${id}`, headers: user.auth })
      isClientError(t, res, [400, 404], `id ${id}`)
    }
  })

  t.test('Infinity smuggled in as a string is refused in bodies and query strings', async t => {
    for (const value of ['Infinity', '-Infinity', '1e400']) {
      const msg = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: user.auth, payload: { room_id: value, content: 'x' } })
      isClientError(t, msg, 400, `room_id ${value}`)
      t.match(json(msg).error, /^room_id /)
      for (const field of ['limit', 'offset', 'before', 'after']) {
        const res = await app.inject({ url: `/api/v1/rooms/${room}/messages?${field}=${value}`, headers: user.auth })
        isClientError(t, res, 400, `${field}=${value}`)
        t.match(json(res).error, new RegExp(`^${field} `))
      }
    }
  })

  t.test('query strings cannot break the server', async t => {
    for (const query of ['limit=1&limit=2', 'limit[]=1', 'limit=%00', 'offset=1e400', 'limit=99999999999999999999999', 'before=1&before=2', 'limit=']) {
      const res = await app.inject({ url: `/api/v1/rooms/${room}/messages?${query}`, headers: user.auth })
      t.ok(res.statusCode === 200 || res.statusCode === 400, `${query}: ${res.statusCode}`)
      if (res.statusCode === 400) t.type(json(res).error, 'string')
    }
  })

  t.test('validation errors name the field', async t => {
    const cases: Array<[Record<string, unknown>, string | RegExp]> = [
      [{ email: 'not-an-email', password: 'long enough pass', username: 'u' }, 'email must be a valid email address'],
      [{ email: uniqueEmail(), password: 'short', username: 'u' }, 'password must be at least 8 characters'],
      [{ email: uniqueEmail(), password: 'long enough pass' }, 'username is required'],
      [{ password: 'long enough pass', username: 'u' }, 'email is required'],
      [{ email: uniqueEmail(), password: 'long enough pass', username: '' }, /^username /],
      [{ email: uniqueEmail(), password: 'long enough pass', username: '   ' }, /^username /],
      [{ email: uniqueEmail(), password: 'long enough pass', username: 'u'.repeat(101) }, /^username must be at most 100 characters/],
      [{ email: `${'e'.repeat(250)}@example.com`, password: 'long enough pass', username: 'u' }, /^email /],
      [{ email: uniqueEmail(), password: { length: 10 }, username: 'u' }, 'password must be a string']
    ]
    for (const [payload, error] of cases) {
      const res = await app.inject({ method: 'POST', url: '/api/v1/users/register', payload })
      isClientError(t, res, 400, JSON.stringify(payload).slice(0, 60))
      t.match(json(res), { error, code: 'VALIDATION_ERROR' })
    }
    const login = await app.inject({ method: 'POST', url: '/api/v1/users/login', payload: { email: 'x@example.com' } })
    isClientError(t, login, 400, 'login without password')
    t.equal(json(login).error, 'password is required')
  })

  t.test('token problems are 401', async t => {
    const good = { sub: String(user.id), role: 'user', iss: 'chat-app', aud: 'chat-app', iat: now(), exp: now() + 3600 }
    const hs256 = { alg: 'HS256', typ: 'JWT' }
    const control = await app.inject({ url: '/api/v1/rooms', headers: { authorization: `Bearer ${craftToken(hs256, good)}` } })
    t.equal(control.statusCode, 200, 'a correctly crafted token works, so the failures below are about the defect')

    const tokens: Record<string, string> = {
      garbage: 'garbage',
      'three dots': 'a.b.c',
      'wrong secret': craftToken(hs256, good, 'another-secret-that-is-at-least-32-characters'),
      'alg none': craftToken({ alg: 'none', typ: 'JWT' }, good, null),
      'alg None with a signature': craftToken({ alg: 'None', typ: 'JWT' }, good),
      'HS512 with the right secret': craftToken({ alg: 'HS512', typ: 'JWT' }, good),
      expired: craftToken(hs256, { ...good, iat: now() - 7200, exp: now() - 3600 }),
      'no exp': craftToken(hs256, { ...good, exp: undefined }),
      'wrong issuer': craftToken(hs256, { ...good, iss: 'someone-else' }),
      'wrong audience': craftToken(hs256, { ...good, aud: 'someone-else' }),
      'no sub': craftToken(hs256, { ...good, sub: undefined }),
      'sub not a number': craftToken(hs256, { ...good, sub: 'admin' }),
      'sub zero': craftToken(hs256, { ...good, sub: '0' }),
      'tampered payload': (() => {
        const [h, , s] = craftToken(hs256, good).split('.')
        return `${h!}.${b64({ ...good, sub: '1', role: 'admin' })}.${s!}`
      })()
    }
    for (const [label, token] of Object.entries(tokens)) {
      const res = await app.inject({ url: '/api/v1/rooms', headers: { authorization: `Bearer ${token}` } })
      t.equal(res.statusCode, 401, label)
      t.same(json(res), { error: 'Missing or invalid authentication token', code: 'UNAUTHORIZED' }, label)
    }
    for (const header of ['', 'Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', `Token ${craftToken(hs256, good)}`, `Bearer ${craftToken(hs256, good)} extra`]) {
      const res = await app.inject({ url: '/api/v1/rooms', headers: { authorization: header } })
      t.equal(res.statusCode, 401, `authorization: "${header.slice(0, 20)}"`)
    }
    const viaQuery = await app.inject({ url: `/api/v1/rooms?token=${craftToken(hs256, good)}` })
    t.equal(viaQuery.statusCode, 401, 'the query-string token is for WebSocket upgrades only')
  })

  t.test('a valid token for a user that does not exist never gives a 5xx', async t => {
    const ghost = craftToken({ alg: 'HS256', typ: 'JWT' }, { sub: '2000000000', role: 'user', iss: 'chat-app', aud: 'chat-app', iat: now(), exp: now() + 3600 })
    const auth = { authorization: `Bearer ${ghost}` }
    const requests: InjectOptions[] = [
      { method: 'POST', url: '/api/v1/rooms', headers: auth, payload: { name: 'ghost room' } },
      { method: 'POST', url: `/api/v1/rooms/${room}/join`, headers: auth },
      { method: 'POST', url: '/api/v1/messages', headers: auth, payload: { room_id: room, content: 'boo' } }
    ]
    for (const request of requests) {
      const res = await app.inject(request)
      t.equal(res.statusCode, request.url === '/api/v1/messages' ? 403 : 401, `${request.method as string} ${request.url as string}`)
      t.type(json(res).error, 'string')
    }
  })
})
