import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { build, freshDatabase, json, postgresReachable, uniqueEmail } from '../helper.js'
import { PrivateRedis } from '../ws-client.js'

const PASSWORD = 'correct horse battery staple'

interface From { address?: string, forwardedFor?: string }

function origin ({ address = '127.0.0.1', forwardedFor }: From): { remoteAddress: string, headers: Record<string, string> } {
  return { remoteAddress: address, headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor } }
}

async function register (app: FastifyInstance, email: string, from: From = {}): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url: '/api/v1/users/register', ...origin(from), payload: { email, password: PASSWORD, username: email.split('@')[0]! } })
}

async function login (app: FastifyInstance, email: string, password = PASSWORD, from: From = {}): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url: '/api/v1/users/login', ...origin(from), payload: { email, password } })
}

async function session (app: FastifyInstance, address: string): Promise<{ authorization: string }> {
  const email = uniqueEmail('limited')
  const registered = await register(app, email, { address })
  if (registered.statusCode !== 201) throw new Error(`register: ${registered.statusCode} ${registered.body}`)
  return { authorization: `Bearer ${json(await login(app, email, PASSWORD, { address })).token as string}` }
}

async function createRoom (app: FastifyInstance, auth: { authorization: string }, name: string): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: auth, payload: { name } })
}

/** A 429 with a Retry-After of 1..max seconds and the `{"error"}` shape. */
function isRateLimited (t: Test, res: LightMyRequestResponse, maxSeconds: number, label: string): void {
  t.equal(res.statusCode, 429, `${label}: 429`)
  const retryAfter = Number(res.headers['retry-after'])
  t.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= maxSeconds, `${label}: Retry-After ${String(res.headers['retry-after'])} is 1..${maxSeconds}`)
  t.type(json(res).error, 'string', `${label}: {"error"}`)
}

t.test('rate limits, with small values', async t => {
  const app = await build(t, { env: { RATE_LIMIT_REGISTER: '2', RATE_LIMIT_LOGIN: '3', RATE_LIMIT_MESSAGES: '3' } })

  t.test('registration: per client address per hour', async t => {
    const address = '192.0.2.1'
    t.equal((await register(app, uniqueEmail(), { address })).statusCode, 201)
    t.equal((await register(app, uniqueEmail(), { address })).statusCode, 201)
    const email = uniqueEmail('third')
    const third = await register(app, email, { address })
    isRateLimited(t, third, 3600, 'the third registration in an hour')
    t.ok(Number(third.headers['retry-after']) > 3500, 'retry in about an hour')
    t.equal((await login(app, email, PASSWORD, { address: '192.0.2.200' })).statusCode, 401, 'the refused registration created no account')
    t.equal((await register(app, uniqueEmail(), { address: '192.0.2.2' })).statusCode, 201, 'another address may register')
  })

  t.test('login: per client address per minute', async t => {
    const email = uniqueEmail('login')
    t.equal((await register(app, email, { address: '192.0.2.10' })).statusCode, 201)
    const address = '192.0.2.11'
    t.equal((await login(app, email, PASSWORD, { address })).statusCode, 200)
    t.equal((await login(app, email, 'wrong password!', { address })).statusCode, 401)
    t.equal((await login(app, email, PASSWORD, { address })).statusCode, 200)
    isRateLimited(t, await login(app, email, PASSWORD, { address }), 60, 'the fourth login in a minute')
    t.equal((await login(app, email, PASSWORD, { address: '192.0.2.12' })).statusCode, 200, 'another address may log in')
  })

  t.test('message sends: per user per 10 seconds', async t => {
    const first = await session(app, '192.0.2.20')
    const second = await session(app, '192.0.2.21')
    const room = json(await createRoom(app, first, 'busy')).id as number
    await app.inject({ method: 'POST', url: `/api/v1/rooms/${room}/join`, headers: second })
    const send = async (auth: { authorization: string }, content: string): Promise<LightMyRequestResponse> =>
      await app.inject({ method: 'POST', url: '/api/v1/messages', headers: auth, payload: { room_id: room, content } })

    for (let i = 1; i <= 3; i++) t.equal((await send(first, `message ${i}`)).statusCode, 201, `send ${i}`)
    isRateLimited(t, await send(first, 'one too many'), 10, 'the fourth send in 10 seconds')
    t.equal((await send(second, 'my own allowance')).statusCode, 201, 'another user is unaffected')
    const history = json<Array<{ content: string }>>(await app.inject({ url: `/api/v1/rooms/${room}/messages`, headers: first }))
    t.notOk(history.some(m => m.content === 'one too many'), 'the refused message was not stored')
    t.equal((await app.inject({ url: '/api/v1/rooms', headers: first })).statusCode, 200, 'other requests of the limited user still work')
  })
})

t.test('rooms created: per user per hour (RATE_LIMIT_ROOMS)', async t => {
  const app = await build(t, { env: { RATE_LIMIT_ROOMS: '2' } })
  const address = '192.0.2.50'
  const first = await session(app, address)
  const second = await session(app, address)
  t.equal((await createRoom(app, first, 'one')).statusCode, 201)
  t.equal((await createRoom(app, first, 'two')).statusCode, 201)
  const third = await createRoom(app, first, 'three')
  isRateLimited(t, third, 3600, 'the third room in an hour')
  t.ok(Number(third.headers['retry-after']) > 3500, 'retry in about an hour')
  t.match(json(third).error, /rooms/, 'the message says what was limited')
  const names = json<Array<{ name: string }>>(await app.inject({ url: '/api/v1/rooms?limit=100', headers: first })).map(r => r.name)
  t.notOk(names.includes('three'), 'the refused room was not created')
  t.equal((await createRoom(app, second, 'mine')).statusCode, 201, 'another user from the same address has their own allowance')
  const room = json(await createRoom(app, second, 'also mine')).id as number
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/rooms/${room}/join`, headers: first })).statusCode, 200, 'joining rooms is not limited by it')
})

t.test('PATCH /users/me: the register limit, per account per hour (no email probing at the login rate)', async t => {
  const app = await build(t, { env: { RATE_LIMIT_REGISTER: '2' } })
  const prober = await session(app, '192.0.2.100')
  const other = await session(app, '192.0.2.101')
  const taken = uniqueEmail('taken')
  t.equal((await register(app, taken, { address: '192.0.2.102' })).statusCode, 201)
  const probe = async (auth: { authorization: string }, email: string, address: string): Promise<LightMyRequestResponse> =>
    await app.inject({ method: 'PATCH', url: '/api/v1/users/me', headers: auth, remoteAddress: address, payload: { current_password: PASSWORD, email } })

  t.equal((await probe(prober, taken, '192.0.2.103')).statusCode, 409, 'the first probe: 409 EMAIL_TAKEN')
  const renamed = await app.inject({ method: 'PATCH', url: '/api/v1/users/me', headers: prober, remoteAddress: '192.0.2.104', payload: { current_password: PASSWORD, username: 'renamed prober' } })
  t.equal(renamed.statusCode, 200, 'the second change (a new username) counts too')
  const third = await probe(prober, taken, '192.0.2.105')
  isRateLimited(t, third, 3600, 'the third change in an hour, from yet another address')
  t.ok(Number(third.headers['retry-after']) > 3500, 'retry in about an hour')
  t.equal((await probe(other, taken, '192.0.2.103')).statusCode, 409, 'another account, even from an address the prober used, has its own allowance')
})

t.test('the global per-user limit', async t => {
  const app = await build(t, { env: { RATE_LIMIT_GLOBAL: '3' } })
  const first = await session(app, '192.0.2.30')
  const second = await session(app, '192.0.2.31')
  for (let i = 1; i <= 3; i++) t.equal((await app.inject({ url: '/api/v1/rooms', headers: first })).statusCode, 200)
  isRateLimited(t, await app.inject({ url: '/api/v1/rooms', headers: first }), 60, 'the fourth request in a minute')
  t.equal((await app.inject({ url: '/api/v1/rooms', headers: second })).statusCode, 200, 'the limit is per user, not per address')
  for (let i = 0; i < 5; i++) t.equal((await app.inject({ url: '/health' })).statusCode, 200, 'health checks are not limited')
})

t.test('RATE_LIMIT_ENABLED=false turns the limits and the lockout off', async t => {
  const app = await build(t, {
    env: { RATE_LIMIT_ENABLED: 'false', RATE_LIMIT_REGISTER: '1', RATE_LIMIT_LOGIN: '1', RATE_LIMIT_MESSAGES: '1', RATE_LIMIT_GLOBAL: '1', RATE_LIMIT_ROOMS: '1' }
  })
  const address = '192.0.2.40'
  const email = uniqueEmail('unlimited')
  for (const e of [email, uniqueEmail(), uniqueEmail()]) t.equal((await register(app, e, { address })).statusCode, 201)
  for (let i = 0; i < 11; i++) t.equal((await login(app, email, 'not my password', { address })).statusCode, 401, `failure ${i + 1} stays 401`)
  const ok = await login(app, email, PASSWORD, { address })
  t.equal(ok.statusCode, 200, 'no lockout after 11 failures')
  const auth = { authorization: `Bearer ${json(ok).token as string}` }
  const room = json(await createRoom(app, auth, 'free')).id as number
  for (let i = 0; i < 3; i++) t.equal((await createRoom(app, auth, `free ${i}`)).statusCode, 201, `room ${i + 2}`)
  for (let i = 0; i < 4; i++) {
    const res = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: auth, payload: { room_id: room, content: `m${i}` } })
    t.equal(res.statusCode, 201, `send ${i + 1}`)
    t.notOk(res.headers['x-ratelimit-limit'], 'no rate-limit headers')
  }
  for (let i = 0; i < 3; i++) t.equal((await app.inject({ url: '/api/v1/rooms', headers: auth })).statusCode, 200)
})

t.test('TRUST_PROXY unset: X-Forwarded-For is ignored', async t => {
  const app = await build(t, { env: { RATE_LIMIT_LOGIN: '3', RATE_LIMIT_REGISTER: '2' } })
  const email = uniqueEmail('spoofer')
  t.equal((await register(app, email, { address: '192.0.2.60', forwardedFor: '198.51.100.1' })).statusCode, 201)
  t.equal((await register(app, uniqueEmail(), { address: '192.0.2.60', forwardedFor: '198.51.100.2' })).statusCode, 201)
  isRateLimited(t, await register(app, uniqueEmail(), { address: '192.0.2.60', forwardedFor: '198.51.100.3' }), 3600, 'a new forwarded address does not buy registrations')

  for (let i = 1; i <= 3; i++) {
    t.equal((await login(app, email, PASSWORD, { address: '192.0.2.61', forwardedFor: `198.51.100.${10 + i}` })).statusCode, 200, `login ${i}`)
  }
  isRateLimited(t, await login(app, email, PASSWORD, { address: '192.0.2.61', forwardedFor: '198.51.100.99' }), 60, 'rotating the header does not dodge the login limit')
})

t.test('TRUST_PROXY unset: rotating X-Forwarded-For does not dodge the login lockout', async t => {
  const app = await build(t)
  const email = uniqueEmail('lockout')
  t.equal((await register(app, email)).statusCode, 201)
  for (let i = 1; i <= 10; i++) {
    t.equal((await login(app, email, `wrong password ${i}`, { address: '192.0.2.70', forwardedFor: `198.51.100.${i}` })).statusCode, 401)
  }
  const locked = await login(app, email, PASSWORD, { address: '192.0.2.70', forwardedFor: '198.51.100.200' })
  isRateLimited(t, locked, 15 * 60, 'the pair is locked whatever the header says')
  t.match(json(locked), { code: 'LOGIN_LOCKED' })
})

t.test('TRUST_PROXY=127.0.0.1: each forwarded client has its own budget', async t => {
  const app = await build(t, { env: { TRUST_PROXY: '127.0.0.1', RATE_LIMIT_LOGIN: '2', RATE_LIMIT_REGISTER: '1' } })
  const viaProxy = (client: string): From => ({ address: '127.0.0.1', forwardedFor: client })
  const email = uniqueEmail('proxied')
  t.equal((await register(app, email, viaProxy('198.51.100.1'))).statusCode, 201)
  isRateLimited(t, await register(app, uniqueEmail(), viaProxy('198.51.100.1')), 3600, 'the same client again')
  t.equal((await register(app, uniqueEmail(), viaProxy('198.51.100.2'))).statusCode, 201, 'another client behind the proxy may register')

  for (let i = 1; i <= 2; i++) t.equal((await login(app, email, PASSWORD, viaProxy('198.51.100.1'))).statusCode, 200)
  isRateLimited(t, await login(app, email, PASSWORD, viaProxy('198.51.100.1')), 60, 'the third login of one client')
  t.equal((await login(app, email, PASSWORD, viaProxy('198.51.100.2'))).statusCode, 200, 'another client has its own login budget')

  // A connection that does not come from the trusted proxy is keyed by its own address.
  const direct = { address: '192.0.2.80' }
  t.equal((await register(app, uniqueEmail(), { ...direct, forwardedFor: '198.51.100.50' })).statusCode, 201)
  isRateLimited(t, await register(app, uniqueEmail(), { ...direct, forwardedFor: '198.51.100.51' }), 3600, 'an untrusted sender cannot pick its key')
})

const skipRedis = await postgresReachable() ? false : 'two instances on one database need the PostgreSQL server'
t.test('REDIS_URL: limits are shared by every instance, and fail open while Redis is down', { skip: skipRedis }, async t => {
  const redis = await PrivateRedis.start(t)
  const databaseUrl = await freshDatabase(t)
  const env = { REDIS_URL: redis.url, RATE_LIMIT_REGISTER: '2' }
  const a = await build(t, { env, databaseUrl })
  const b = await build(t, { env, databaseUrl })
  const address = '192.0.2.90'

  t.equal((await register(a, uniqueEmail(), { address })).statusCode, 201, 'first registration, on A')
  t.equal((await register(a, uniqueEmail(), { address })).statusCode, 201, 'second registration, on A')
  isRateLimited(t, await register(b, uniqueEmail(), { address }), 3600, 'the third, on B, counts the two made on A')
  const email = uniqueEmail('survivor')
  t.equal((await register(b, email, { address: '192.0.2.91' })).statusCode, 201, 'another address still may, on B')

  await redis.stop()
  for (const [name, app] of [['A', a], ['B', b]] as const) {
    const timed = async (what: string, call: () => Promise<LightMyRequestResponse>): Promise<LightMyRequestResponse> => {
      const started = Date.now()
      const res = await call()
      t.ok(res.statusCode < 500, `${name}, Redis down, ${what}: ${res.statusCode} is not a 5xx`)
      t.ok(Date.now() - started < 2000, `${name}, Redis down, ${what}: answered within 2 s`)
      return res
    }
    t.equal((await timed('register', async () => await register(app, uniqueEmail(), { address }))).statusCode, 201,
      'fail-open: the limited address registers while the counters are unreachable')
    const logged = await timed('login', async () => await login(app, email, PASSWORD, { address: '192.0.2.91' }))
    t.equal(logged.statusCode, 200)
    const auth = { authorization: `Bearer ${json(logged).token as string}` }
    t.equal((await timed('list rooms', async () => await app.inject({ url: '/api/v1/rooms', headers: auth }))).statusCode, 200)
    t.equal((await timed('create a room', async () => await createRoom(app, auth, `during the outage on ${name}`))).statusCode, 201)
    t.equal((await timed('wrong password', async () => await login(app, email, 'not the password', { address: '192.0.2.91' }))).statusCode, 401)
  }
})
