import t from 'tap'
import { build, json, type Session, signUp, uniqueEmail } from '../helper.js'

t.test('users', async t => {
  const app = await build(t)

  t.test('register returns 201 with the seed shape and no password', async t => {
    const email = uniqueEmail('Mixed.Case')
    const res = await app.inject({ method: 'POST', url: '/api/v1/users/register', payload: { email, password: 'SecureP@ssw0rd', username: 'johndoe' } })
    t.equal(res.statusCode, 201)
    const body = json(res)
    t.same(Object.keys(body).sort(), ['created_at', 'email', 'id', 'username'])
    t.equal(body.email, email, 'stored as given')
    t.equal(body.username, 'johndoe')
    t.match(body.created_at, /^\d{4}-\d\d-\d\dT/)
  })

  t.test('the same email in another case is taken (409)', async t => {
    const email = uniqueEmail()
    await signUp(app, { email })
    const res = await app.inject({ method: 'POST', url: '/api/v1/users/register', payload: { email: email.toUpperCase(), password: 'SecureP@ssw0rd', username: 'x' } })
    t.equal(res.statusCode, 409)
    t.same(json(res), { error: 'Email already registered', code: 'EMAIL_TAKEN' })
  })

  t.test('login matches the email case-insensitively', async t => {
    const email = uniqueEmail()
    await signUp(app, { email, password: 'SecureP@ssw0rd' })
    const res = await app.inject({ method: 'POST', url: '/api/v1/users/login', payload: { email: email.toUpperCase(), password: 'SecureP@ssw0rd' } })
    t.equal(res.statusCode, 200)
    const body = json(res)
    t.type(body.token, 'string')
    t.equal(body.user.email, email)
  })

  t.test('unknown email and wrong password give the same 401', async t => {
    const email = uniqueEmail()
    await signUp(app, { email })
    const wrong = await app.inject({ method: 'POST', url: '/api/v1/users/login', payload: { email, password: 'not the password' } })
    const unknown = await app.inject({ method: 'POST', url: '/api/v1/users/login', payload: { email: uniqueEmail(), password: 'not the password' } })
    t.equal(wrong.statusCode, 401)
    t.equal(unknown.statusCode, 401)
    t.same(json(wrong), json(unknown))
  })

  t.test('another user sees no email; you see your own', async t => {
    const a = await signUp(app)
    const b = await signUp(app)
    const other = await app.inject({ url: `/api/v1/users/${a.id}`, headers: b.auth })
    t.equal(other.statusCode, 200)
    t.notOk('email' in json(other))
    const self = await app.inject({ url: `/api/v1/users/${a.id}`, headers: a.auth })
    t.equal(json(self).email, a.email)
    const list = json(await app.inject({ url: '/api/v1/users?limit=100', headers: b.auth })) as Array<{ id: number, email?: string }>
    t.ok(list.length >= 2)
    for (const user of list) t.equal(user.email !== undefined, user.id === b.id, `email of ${user.id} shown only to its owner`)
  })

  t.test('unknown user is 404, bad id 400, no token 401', async t => {
    const a = await signUp(app)
    t.equal((await app.inject({ url: '/api/v1/users/999999', headers: a.auth })).statusCode, 404)
    for (const id of ['abc', '0', '-1', '1.5', '99999999999999999999']) {
      const res = await app.inject({ url: `/api/v1/users/${id}`, headers: a.auth })
      t.equal(res.statusCode, 400, `id ${id}`)
      t.match(json(res).error, /^id /)
    }
    const res = await app.inject({ url: '/api/v1/users' })
    t.equal(res.statusCode, 401)
    t.same(json(res), { error: 'Missing or invalid authentication token', code: 'UNAUTHORIZED' })
  })

  t.test('account routes check their input and need a token', async t => {
    const a = await signUp(app)
    for (const [method, url] of [['POST', '/api/v1/users/logout'], ['GET', '/api/v1/users/me'], ['PATCH', '/api/v1/users/me'], ['PATCH', `/api/v1/users/${a.id}`]] as const) {
      t.equal((await app.inject({ method, url, payload: method === 'PATCH' ? { disabled: true } : undefined })).statusCode, 401, `${method} ${url} without a token`)
    }
    const bad = async (url: string, payload: unknown): Promise<number> => (await app.inject({ method: 'PATCH', url, headers: a.auth, payload: payload as object })).statusCode
    t.equal(await bad('/api/v1/users/me', { username: 'x' }), 400, 'current_password is required')
    t.equal(await bad('/api/v1/users/me', { current_password: 'correct horse battery staple', email: 'not an email' }), 400)
    t.equal(await bad('/api/v1/users/me', { current_password: 'correct horse battery staple', username: '   ' }), 400, 'an empty username')
    t.equal(await bad(`/api/v1/users/${a.id}`, {}), 400, 'disabled is required')
    t.equal(await bad(`/api/v1/users/${a.id}`, { disabled: 'maybe' }), 400)
    t.equal(await bad('/api/v1/users/abc', { disabled: true }), 400, 'a bad id')
    const same = await app.inject({ method: 'PATCH', url: '/api/v1/users/me', headers: a.auth, payload: { current_password: 'correct horse battery staple', email: a.email } })
    t.equal(same.statusCode, 200, 'the email you already have is no change')
    t.equal((await app.inject({ url: '/api/v1/users/me', headers: a.auth })).statusCode, 200, 'and revokes nothing')
  })

  t.test('GET /users?q: a case-insensitive piece of the username, wildcards taken literally, paged', async t => {
    const made: Record<string, Session> = {}
    for (const username of ['Quinn_Smith', 'quinnsmith', 'Quinn%Jones', 'back\\slash QUINN', 'Nobody Here']) made[username] = await signUp(app, { username })
    const viewer = made['Nobody Here']!
    const search = async (query: string): Promise<string[]> => {
      const response = await app.inject({ url: `/api/v1/users?${query}`, headers: viewer.auth })
      t.equal(response.statusCode, 200, query)
      return (json(response) as Array<{ username: string }>).map(u => u.username)
    }
    t.same(await search('q=quinn&limit=100'), ['Quinn_Smith', 'quinnsmith', 'Quinn%Jones', 'back\\slash QUINN'], 'any case, by id')
    t.same(await search('q=n_s'), ['Quinn_Smith'], '`_` is not a wildcard (quinnsmith has "nns")')
    t.same(await search('q=n%25j'), ['Quinn%Jones'], '`%` is not a wildcard')
    t.same(await search('q=%5C'), ['back\\slash QUINN'], '`\\` is an ordinary character')
    t.same(await search('q=nobody%20here'), ['Nobody Here'])
    t.same(await search('q=zzz-nobody'), [], 'no match: an empty list')
    t.same(await search('q=QUINN&limit=2&offset=1'), ['quinnsmith', 'Quinn%Jones'], 'paged as without q')
    const everyone = json(await app.inject({ url: '/api/v1/users?limit=100', headers: viewer.auth })) as Array<{ id: number }>
    t.ok(everyone.length > 5, 'without q: everyone')
    t.same(everyone.map(u => u.id), [...everyone.map(u => u.id)].sort((a, b) => a - b), 'by id')
    const found = json(await app.inject({ url: '/api/v1/users?q=quinn', headers: made.quinnsmith!.auth })) as Array<{ id: number, email?: string }>
    for (const user of found) t.equal(user.email !== undefined, user.id === made.quinnsmith!.id, 'emails only for yourself')
    for (const query of ['q=', `q=${'x'.repeat(101)}`, 'q=%00']) {
      const response = await app.inject({ url: `/api/v1/users?${query}`, headers: viewer.auth })
      t.equal(response.statusCode, 400, `${query.slice(0, 12)}: 400`)
      t.match(json(response).error, /^q /, 'naming q')
    }
  })
})
