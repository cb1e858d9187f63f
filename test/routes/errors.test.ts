import type { InjectOptions } from 'fastify'
import t from 'tap'
import { build, json, signUp, uniqueEmail } from '../helper.js'
import { isClientError } from '../security/hostile.js'

// The error contract: every error is `{"error": "<sentence>"}` with a 4xx, naming the field.
// Hostile input (malformed and oversize bodies, bad tokens, odd ids) is in test/security/.

t.test('errors are {"error"} sentences', async t => {
  const app = await build(t)
  const user = await signUp(app)
  const roomRes = await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: user.auth, payload: { name: 'target' } })
  const room = json(roomRes).id as number

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
})
