import type { InjectOptions } from 'fastify'
import t from 'tap'
import { build, createRoom, json, signUp, uniqueEmail } from '../helper.js'
import { isClientError, stillHealthy } from './hostile.js'

// Hostile request bodies, query strings and paths: each is refused with the documented 4xx and an
// `{"error"}` body, or stored verbatim; never a 5xx or a hang, and a refusal changes nothing.

const app = await build(t)
const user = await signUp(app)
const room = await createRoom(app, user, 'target')
const JSON_TYPE = { 'content-type': 'application/json' }
const roomCount = async (): Promise<number> => json<unknown[]>(await app.inject({ url: '/api/v1/rooms?limit=100', headers: user.auth })).length
const messages = async (): Promise<Array<{ content: string }>> => json(await app.inject({ url: `/api/v1/rooms/${room}/messages?limit=100`, headers: user.auth }))
const post = async (url: string, payload: unknown, headers: Record<string, string> = user.auth): Promise<ReturnType<typeof app.inject>> =>
  await app.inject({ method: 'POST', url, headers, payload: payload as InjectOptions['payload'] })

t.test('malformed JSON is 400 and creates nothing', async t => {
  const before = await roomCount()
  for (const payload of ['{', '{"name": }', 'not json', '{"name": "x"', "{'name': 'x'}", '{"name": "x"}}', '{"name": "x",}']) {
    const res = await post('/api/v1/rooms', payload, { ...user.auth, ...JSON_TYPE })
    isClientError(t, res, 400, `body ${payload}`)
    t.equal(json(res).error, 'request body is not valid JSON')
  }
  const bytes = await post('/api/v1/rooms', Buffer.from([0xff, 0xfe, 0x00, 0x7b]), { ...user.auth, ...JSON_TYPE })
  isClientError(t, bytes, 400, 'invalid UTF-8')
  t.equal(await roomCount(), before, 'nothing was created')
})

t.test('a body that is not JSON is 415', async t => {
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'text/html']) {
    const res = await post('/api/v1/rooms', 'name=x', { ...user.auth, 'content-type': type })
    isClientError(t, res, 415, type)
    t.equal(json(res).error, 'Content-Type must be application/json')
  }
  const login = await post('/api/v1/users/login', `email=${user.email}&password=x`, { 'content-type': 'application/x-www-form-urlencoded' })
  isClientError(t, login, 415, 'a form-encoded login')
})

t.test('a body over 64 KiB is 413', async t => {
  const res = await post('/api/v1/messages', { room_id: room, content: 'x'.repeat(65 * 1024) })
  isClientError(t, res, 413, '65 KiB message')
  t.equal(json(res).error, 'request body is too large')
  const register = await post('/api/v1/users/register', { email: uniqueEmail(), password: 'p'.repeat(70_000), username: 'big' }, {})
  isClientError(t, register, 413, '70 kB password')
  t.notOk((await messages()).some(m => m.content.startsWith('xxxx')), 'nothing stored')
})

t.test('deeply nested JSON is refused cleanly', async t => {
  const deep = '['.repeat(20_000) + ']'.repeat(20_000)
  isClientError(t, await post('/api/v1/rooms', `{"name": ${deep}}`, { ...user.auth, ...JSON_TYPE }), 400, 'arrays 20,000 deep')
  const objects = '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000)
  isClientError(t, await post('/api/v1/rooms', `{"name": "deep", "description": ${objects}}`, { ...user.auth, ...JSON_TYPE }), 400, 'objects 10,000 deep')
})

t.test('wide JSON (thousands of unknown keys) is refused or ignored', async t => {
  const before = await roomCount()
  const wide: Record<string, unknown> = { name: 'wide' }
  for (let i = 0; i < 5000; i++) wide[`k${i}`] = i
  const res = await post('/api/v1/rooms', wide)
  t.ok(res.statusCode === 201 || res.statusCode === 400, `status ${res.statusCode}`)
  if (res.statusCode === 201) t.same(Object.keys(json(res)).sort(), ['created_at', 'created_by', 'description', 'id', 'is_direct', 'is_private', 'member_count', 'my_role', 'name'], 'only the schema\'s fields came back')
  else t.equal(await roomCount(), before)
  const array = await post('/api/v1/rooms', { name: Array.from({ length: 10_000 }, () => 'x') })
  isClientError(t, array, 400, 'a 10,000-item array for a name')
})

t.test('__proto__ in a body does not pollute or promote', async t => {
  const email = uniqueEmail('proto')
  const payload = `{"email":"${email}","password":"a perfectly fine passphrase","username":"proto","__proto__":{"role":"admin","isAdmin":true}}`
  const res = await post('/api/v1/users/register', payload, JSON_TYPE)
  t.ok(res.statusCode === 400 || res.statusCode === 201, `status ${res.statusCode}`)
  if (res.statusCode === 400) isClientError(t, res, 400, '__proto__ body')
  else t.notOk('role' in json(res), 'no role in the answer')
  t.equal(({} as Record<string, unknown>).role, undefined, 'Object.prototype is not polluted')
  t.equal(({} as Record<string, unknown>).isAdmin, undefined)
  const login = await post('/api/v1/users/login', { email, password: 'a perfectly fine passphrase' }, {})
  if (login.statusCode === 200) {
    const other = await app.inject({ url: `/api/v1/users/${user.id}`, headers: { authorization: `Bearer ${json(login).token as string}` } })
    t.notOk('email' in json(other), 'the user made with __proto__ is not an admin: another user\'s email stays hidden')
  } else {
    t.equal(login.statusCode, 401, 'a refused body created no account')
  }
  const roomRes = await post('/api/v1/rooms', '{"name":"p","__proto__":{"created_by":1}}', { ...user.auth, ...JSON_TYPE })
  t.ok(roomRes.statusCode === 400 || roomRes.statusCode === 201, `room with __proto__: ${roomRes.statusCode}`)
  if (roomRes.statusCode === 201) t.equal(json(roomRes).created_by, user.id)
})

t.test('constructor.prototype in a body does not pollute or promote', async t => {
  const email = uniqueEmail('ctor')
  const payload = `{"email":"${email}","password":"a perfectly fine passphrase","username":"ctor","constructor":{"prototype":{"role":"admin"}}}`
  const res = await post('/api/v1/users/register', payload, JSON_TYPE)
  t.ok(res.statusCode === 400 || res.statusCode === 201, `status ${res.statusCode}`)
  if (res.statusCode === 400) isClientError(t, res, 400, 'constructor body')
  t.equal(({} as Record<string, unknown>).role, undefined, 'Object.prototype is not polluted')
  const msg = await post('/api/v1/messages', `{"room_id":${room},"content":"ctor","constructor":{"prototype":{"user_id":1}}}`, { ...user.auth, ...JSON_TYPE })
  t.ok(msg.statusCode === 400 || msg.statusCode === 201, `message: ${msg.statusCode}`)
  if (msg.statusCode === 201) t.equal(json(msg).user_id, user.id)
})

const SQL = ["Robert'); DROP TABLE users;--", "' OR '1'='1", '1; DELETE FROM messages WHERE 1=1', "x' UNION SELECT password_hash FROM users--", '$1 $$ \\x00 E\'\\\\\''] as const

t.test('SQL injection in a username is stored verbatim', async t => {
  for (const [i, username] of SQL.entries()) {
    const email = uniqueEmail(`sql${i}`)
    const res = await post('/api/v1/users/register', { email, password: 'correct horse battery staple', username }, {})
    t.equal(res.statusCode, 201, username)
    t.equal(json(res).username, username, 'stored as given')
  }
  t.ok(json<unknown[]>(await app.inject({ url: '/api/v1/users?limit=100', headers: user.auth })).length >= SQL.length + 1, 'the users table is intact')
})

t.test('SQL injection in the login email and password is a plain 401', async t => {
  for (const value of SQL) {
    for (const payload of [{ email: value, password: 'whatever long' }, { email: user.email, password: value }]) {
      const res = await post('/api/v1/users/login', payload, {})
      isClientError(t, res, 401, `login ${JSON.stringify(payload).slice(0, 50)}`)
      t.notOk('token' in json(res))
    }
  }
})

t.test('SQL injection in an email address is stored verbatim or refused', async t => {
  const email = `o'brien.${Date.now()}+drop--@example.com`
  const res = await post('/api/v1/users/register', { email, password: 'correct horse battery staple', username: 'obrien' }, {})
  t.ok(res.statusCode === 201 || res.statusCode === 400, `status ${res.statusCode}`)
  if (res.statusCode === 201) t.equal(json(res).email, email)
  else isClientError(t, res, 400, 'quote in email')
})

t.test('SQL injection in room names and descriptions is stored verbatim', async t => {
  for (const text of SQL) {
    const res = await post('/api/v1/rooms', { name: text, description: text })
    t.equal(res.statusCode, 201, text)
    t.match(json(res), { name: text.trim(), description: text })
  }
})

t.test('SQL injection in message content is stored verbatim', async t => {
  for (const content of SQL) {
    const res = await post('/api/v1/messages', { room_id: room, content })
    t.equal(res.statusCode, 201, content)
    t.equal(json(res).content, content)
  }
  const stored = (await messages()).map(m => m.content)
  for (const content of SQL) t.ok(stored.includes(content), `history has ${content}`)
})

t.test('SQL injection in query parameters is 400 naming the field', async t => {
  for (const [field, value] of [['limit', '1;DROP TABLE messages'], ['offset', '0 OR 1=1'], ['before', "1' OR '1'='1"], ['after', '1 UNION SELECT 1'], ['limit', '50--']]) {
    const res = await app.inject({ url: `/api/v1/rooms/${room}/messages?${field}=${encodeURIComponent(value!)}`, headers: user.auth })
    isClientError(t, res, 400, `${field}=${value!}`)
    t.match(json(res).error, new RegExp(`^${field} `))
  }
  const users = await app.inject({ url: `/api/v1/users?limit=${encodeURIComponent("1' OR 1=1--")}`, headers: user.auth })
  isClientError(t, users, 400, 'users limit')
  t.equal((await app.inject({ url: `/api/v1/rooms/${room}/messages`, headers: user.auth })).statusCode, 200, 'messages are intact')
})

t.test('NUL bytes in any text field are 400 and store nothing', async t => {
  const before = await roomCount()
  const cases: Array<[string, unknown, Record<string, string>]> = [
    ['/api/v1/users/register', { email: uniqueEmail(), password: 'correct horse\u0000battery', username: 'nul' }, {}],
    ['/api/v1/users/register', { email: uniqueEmail(), password: 'correct horse battery', username: 'nu\u0000l' }, {}],
    ['/api/v1/rooms', { name: 'nul\u0000room' }, user.auth],
    ['/api/v1/rooms', { name: 'ok', description: 'nul\u0000description' }, user.auth],
    ['/api/v1/messages', { room_id: room, content: 'nul\u0000content' }, user.auth],
    ['/api/v1/messages', { room_id: room, content: 'fine', client_msg_id: 'id\u0000' }, user.auth]
  ]
  for (const [url, payload, headers] of cases) {
    const res = await post(url, payload, headers)
    isClientError(t, res, 400, `${url} ${JSON.stringify(payload).slice(0, 60)}`)
    t.match(json(res).error, /NUL/)
  }
  t.equal(await roomCount(), before, 'no room was created')
  t.notOk((await messages()).some(m => m.content.includes('nul')), 'no message was stored')
})

t.test('NUL bytes in login fields are a plain 401 or 400, never a database error', async t => {
  const email = await post('/api/v1/users/login', { email: `${user.email}\u0000`, password: 'correct horse battery staple' }, {})
  isClientError(t, email, 400, 'NUL in the email')
  t.equal(json(email).error, 'email must not contain NUL characters')
  const password = await post('/api/v1/users/login', { email: user.email, password: 'correct horse\u0000battery staple' }, {})
  isClientError(t, password, 401, 'NUL in the password: just a wrong password')
})

t.test('a login email that grows when lower-cased is a plain 401, never a database error', async t => {
  // 'İ' (U+0130) lower-cases to two code units: 255 of them are 510 after case-folding.
  t.equal('İ'.toLowerCase().length, 2)
  for (const email of ['İ'.repeat(255), `${'İ'.repeat(243)}@example.com`]) {
    t.equal(email.length <= 255, true, `${email.length} characters: within the schema's bound`)
    for (let i = 0; i < 2; i++) {
      const res = await post('/api/v1/users/login', { email, password: 'correct horse battery staple' }, {})
      isClientError(t, res, 401, `${email.slice(0, 3)}… (${email.length} characters), attempt ${i + 1}`)
      t.same(json(res), { error: 'Invalid email or password', code: 'INVALID_CREDENTIALS' }, 'the usual 401')
    }
  }
})

t.test('huge and non-integer numbers in bodies are 400 naming the field', async t => {
  for (const value of [1e308, 2 ** 53 + 2, 2147483648, -1, 0, 1.5, '1.5', 'abc', null, [], {}]) {
    const res = await post('/api/v1/messages', { room_id: value, content: 'number' })
    isClientError(t, res, 400, `room_id ${JSON.stringify(value)}`)
    t.match(json(res).error, /^room_id /)
  }
  for (const value of ['Infinity', '-Infinity', '1e400', 'NaN']) {
    const res = await post('/api/v1/messages', { room_id: value, content: 'x' })
    isClientError(t, res, 400, `room_id ${value}`)
    t.match(json(res).error, /^room_id /)
  }
  const raw = await post('/api/v1/messages', `{"room_id": 1${'0'.repeat(400)}, "content": "x"}`, { ...user.auth, ...JSON_TYPE })
  isClientError(t, raw, 400, 'a 400-digit number literal')
})

t.test('ids in paths must be positive integers', async t => {
  const ids = ['0', '-1', '-99999999', 'abc', '1.5', '2147483648', '99999999999999999999', '1 OR 1=1', "1'--", '%00', 'null', 'true', 'Infinity', '-Infinity', '1e400', 'NaN', ' ']
  for (const id of ids) {
    for (const url of [`/api/v1/users/${encodeURIComponent(id)}`, `/api/v1/rooms/${encodeURIComponent(id)}/messages`]) {
      const res = await app.inject({ url, headers: user.auth })
      isClientError(t, res, 400, url)
      t.match(json(res).error, /^id /, `${url}: names the field`)
    }
    isClientError(t, await app.inject({ method: 'POST', url: `/api/v1/rooms/${encodeURIComponent(id)}/join`, headers: user.auth }), 400, `join ${id}`)
  }
  const long = await app.inject({ url: `/api/v1/users/${'9'.repeat(500)}`, headers: user.auth })
  isClientError(t, long, 400, '500-digit id')
  t.match(long.headers, { 'x-content-type-options': 'nosniff' }, 'still with the security headers')
  // Other spellings of a number resolve to that number or are refused; never a 5xx.
  for (const id of ['1e3', '0x10', '+5', '05']) {
    const res = await app.inject({ url: `/api/v1/users/${id}`, headers: user.auth })
    t.ok([200, 400, 404].includes(res.statusCode), `id ${id}: ${res.statusCode}`)
    if (res.statusCode !== 200) isClientError(t, res, [400, 404], `id ${id}`)
  }
})

t.test('path traversal in ids is 400 or 404, never a file or a 5xx', async t => {
  for (const url of ['/api/v1/users/..%2F..%2Fetc%2Fpasswd', '/api/v1/users/%2e%2e', `/api/v1/rooms/${room}%2F..%2F1/messages`, '/api/v1/rooms/..%5C..%5Cwindows/messages',
    '/api/v1/users/1%00.json', '/api/v1/../../etc/passwd', '/docs/../../package.json']) {
    const res = await app.inject({ url, headers: user.auth })
    isClientError(t, res, [400, 404], url)
    t.notMatch(res.body, /root:|"dependencies"/, 'no file content')
  }
})

t.test('Infinity smuggled into query strings is 400 naming the field', async t => {
  for (const value of ['Infinity', '-Infinity', '1e400']) {
    for (const field of ['limit', 'offset', 'before', 'after']) {
      const res = await app.inject({ url: `/api/v1/rooms/${room}/messages?${field}=${value}`, headers: user.auth })
      isClientError(t, res, 400, `${field}=${value}`)
      t.match(json(res).error, new RegExp(`^${field} `))
    }
  }
})

t.test('odd query strings cannot break the server', async t => {
  for (const query of ['limit=1&limit=2', 'limit[]=1', 'limit=%00', 'offset=1e400', 'limit=99999999999999999999999', 'before=1&before=2', 'limit=', '__proto__[x]=1', 'constructor[prototype][x]=1', `${'a'.repeat(2000)}=1`]) {
    const res = await app.inject({ url: `/api/v1/rooms/${room}/messages?${query}`, headers: user.auth })
    t.ok(res.statusCode === 200 || res.statusCode === 400, `${query.slice(0, 40)}: ${res.statusCode}`)
    if (res.statusCode === 400) isClientError(t, res, 400, query.slice(0, 40))
  }
  t.equal(({} as Record<string, unknown>).x, undefined, 'Object.prototype is not polluted')
})

t.test('unicode, RTL overrides and zero-width characters: stored verbatim in room names, refused in usernames', async t => {
  const hidden = ['\u202Egnp.exe', 'a\u200Bb\u200Cc\u200Dd\uFEFF', '\u{1F600}\u{1F469}\u200D\u{1F4BB}', '\u200B']
  const plain = ['\u0627\u0644\u0639\u0631\u0628\u064A\u0629', 'Z\u0351\u0358a\u0337\u0321l\u0361g\u0334o', '\u{1F600}\u{1F469}\u{1F4BB}']
  for (const name of [...hidden, ...plain]) {
    const room = await post('/api/v1/rooms', { name, description: name })
    t.equal(room.statusCode, 201, JSON.stringify(name))
    t.equal(json(room).name, name.trim(), 'the name comes back as given (trimmed, as every name is)')
    const reg = await post('/api/v1/users/register', { email: uniqueEmail('uni'), password: 'correct horse battery staple', username: name }, {})
    if (hidden.includes(name)) {
      isClientError(t, reg, 400, `username ${JSON.stringify(name)}`)
      t.match(json(reg).error, /^username must not contain control, bidi-override or invisible characters/)
    } else {
      t.equal(reg.statusCode, 201, `username ${JSON.stringify(name)}`)
      t.equal(json(reg).username, name.trim())
    }
  }
  const lone = await post('/api/v1/rooms', '{"name": "\\ud800 lone surrogate"}', { ...user.auth, ...JSON_TYPE })
  t.ok(lone.statusCode === 201 || lone.statusCode === 400, `a lone surrogate: ${lone.statusCode}`)
})

stillHealthy(t, app, user)
