import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { build, json, uniqueEmail } from '../helper.js'

const PASSWORD = 'correct horse battery staple'

async function register (app: FastifyInstance, email: string, password = PASSWORD, remoteAddress = '127.0.0.1'): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url: '/api/v1/users/register', remoteAddress, payload: { email, password, username: email.split('@')[0]! } })
}

async function login (app: FastifyInstance, email: string, password = PASSWORD, remoteAddress = '127.0.0.1'): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url: '/api/v1/users/login', remoteAddress, payload: { email, password } })
}

/** A 429 with a Retry-After of 1..max seconds and the `{"error"}` shape. */
function isRateLimited (t: Test, res: LightMyRequestResponse, maxSeconds: number, label: string): void {
  t.equal(res.statusCode, 429, `${label}: 429`)
  const retryAfter = Number(res.headers['retry-after'])
  t.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= maxSeconds, `${label}: Retry-After ${String(res.headers['retry-after'])} is 1..${maxSeconds}`)
  t.type(json(res).error, 'string', `${label}: {"error"}`)
}

t.test('login lockout and the password policy', async t => {
  const app = await build(t)

  t.test('10 failures for one account from one address lock that pair, even for the right password', async t => {
    const victim = uniqueEmail('victim')
    const bystander = uniqueEmail('bystander')
    t.equal((await register(app, victim)).statusCode, 201)
    t.equal((await register(app, bystander)).statusCode, 201)
    const attacker = '203.0.113.7'

    for (let i = 1; i <= 10; i++) {
      const res = await login(app, victim, `wrong password ${i}`, attacker)
      t.equal(res.statusCode, 401, `failure ${i} is a plain 401`)
    }
    const locked = await login(app, victim, PASSWORD, attacker)
    isRateLimited(t, locked, 15 * 60, 'the right password from the locked address')
    t.match(json(locked), { code: 'LOGIN_LOCKED' })
    t.ok(Number(locked.headers['retry-after']) > 14 * 60, 'locked for about 15 minutes')
    t.notOk('token' in json(locked), 'no token while locked')
    isRateLimited(t, await login(app, victim, 'wrong again', attacker), 15 * 60, 'a wrong password from the locked address')

    const other = await login(app, bystander, PASSWORD, attacker)
    t.equal(other.statusCode, 200, 'another account from the same address is unaffected')
    const elsewhere = await login(app, victim, PASSWORD, '198.51.100.20')
    t.equal(elsewhere.statusCode, 200, 'the same account from another address is unaffected')
    t.type(json(elsewhere).token, 'string')
    const caseVariant = await login(app, victim.toUpperCase(), PASSWORD, attacker)
    t.equal(caseVariant.statusCode, 429, 'the email\'s case does not dodge the lock')
  })

  t.test('an unknown email is locked the same way (no account enumeration)', async t => {
    const ghost = uniqueEmail('ghost')
    const address = '203.0.113.50'
    for (let i = 1; i <= 10; i++) t.equal((await login(app, ghost, `guess ${i}`, address)).statusCode, 401)
    isRateLimited(t, await login(app, ghost, 'guess 11', address), 15 * 60, 'unknown email after 10 failures')
  })

  t.test('a successful login clears the pair\'s failures', async t => {
    const email = uniqueEmail('forgetful')
    t.equal((await register(app, email)).statusCode, 201)
    const address = '203.0.113.99'
    for (let i = 0; i < 9; i++) t.equal((await login(app, email, 'nope nope nope', address)).statusCode, 401)
    t.equal((await login(app, email, PASSWORD, address)).statusCode, 200, 'the 10th attempt, right, succeeds')
    t.equal((await login(app, email, 'nope nope nope', address)).statusCode, 401, 'a 10th failure in 15 minutes...')
    t.equal((await login(app, email, PASSWORD, address)).statusCode, 200, '...does not lock: the success cleared the count')
  })

  t.test('passwords: 8 to 128 characters', async t => {
    const short = await register(app, uniqueEmail(), 'abcdefg')
    t.equal(short.statusCode, 400, '7 characters')
    t.match(json(short).error, /^password must be at least 8 characters/)
    const long = await register(app, uniqueEmail(), 'k'.repeat(64) + 'j'.repeat(65))
    t.equal(long.statusCode, 400, '129 characters')
    t.match(json(long).error, /^password must be at most 128 characters/)

    const eight = uniqueEmail('eight')
    t.equal((await register(app, eight, 'qz7!vR2m')).statusCode, 201, '8 characters are enough')
    t.equal((await login(app, eight, 'qz7!vR2m')).statusCode, 200)
    const max = uniqueEmail('max')
    const maxPassword = 'Long enough, and then some. '.repeat(5).slice(0, 128)
    t.equal((await register(app, max, maxPassword)).statusCode, 201, '128 characters are allowed')
    t.equal((await login(app, max, maxPassword)).statusCode, 200)
    t.equal((await login(app, max, maxPassword.slice(0, 127))).statusCode, 401, 'every character counts')
  })

  t.test('commonly used passwords are refused', async t => {
    for (const password of ['password123', 'qwertyuiop', '123456789']) {
      const res = await register(app, uniqueEmail(), password)
      t.equal(res.statusCode, 400, password)
      t.match(json(res), { error: /^password /, code: 'PASSWORD_TOO_COMMON' })
    }
  })

  t.test('passwords sharing their first 72 bytes are different passwords', async t => {
    const email = uniqueEmail('prefix')
    const prefix = 'The first seventy-two bytes are the same in both of these passwords!!!!!'
    t.equal(Buffer.byteLength(prefix), 72)
    const right = prefix + 'R'.repeat(28)
    const wrong = prefix + 'W'.repeat(28)
    t.equal(right.length, 100)
    t.equal((await register(app, email, right)).statusCode, 201)
    t.equal((await login(app, email, wrong)).statusCode, 401, 'the other 100-character password is refused')
    t.equal((await login(app, email, prefix)).statusCode, 401, 'the 72-byte prefix alone is refused')
    t.equal((await login(app, email, right.toUpperCase())).statusCode, 401, 'no case folding')
    t.equal((await login(app, email, right)).statusCode, 200, 'only the right one logs in')

    const multibyte = uniqueEmail('multibyte')
    const accents = 'é'.repeat(36) // 72 bytes in UTF-8
    t.equal((await register(app, multibyte, accents + 'one')).statusCode, 201)
    t.equal((await login(app, multibyte, accents + 'two')).statusCode, 401, 'multi-byte prefix: also distinct')
    t.equal((await login(app, multibyte, accents + 'one')).statusCode, 200)
  })
})

t.test('rate limits, with small values', async t => {
  const app = await build(t, { env: { RATE_LIMIT_REGISTER: '2', RATE_LIMIT_LOGIN: '3', RATE_LIMIT_MESSAGES: '3' } })

  t.test('registration: per client address per hour', async t => {
    const address = '192.0.2.1'
    t.equal((await register(app, uniqueEmail(), PASSWORD, address)).statusCode, 201)
    t.equal((await register(app, uniqueEmail(), PASSWORD, address)).statusCode, 201)
    const email = uniqueEmail('third')
    const third = await register(app, email, PASSWORD, address)
    isRateLimited(t, third, 3600, 'the third registration in an hour')
    t.ok(Number(third.headers['retry-after']) > 3500, 'retry in about an hour')
    t.equal((await login(app, email, PASSWORD, '192.0.2.200')).statusCode, 401, 'the refused registration created no account')
    t.equal((await register(app, uniqueEmail(), PASSWORD, '192.0.2.2')).statusCode, 201, 'another address may register')
  })

  t.test('login: per client address per minute', async t => {
    const email = uniqueEmail('login')
    t.equal((await register(app, email, PASSWORD, '192.0.2.10')).statusCode, 201)
    const address = '192.0.2.11'
    t.equal((await login(app, email, PASSWORD, address)).statusCode, 200)
    t.equal((await login(app, email, 'wrong password!', address)).statusCode, 401)
    t.equal((await login(app, email, PASSWORD, address)).statusCode, 200)
    isRateLimited(t, await login(app, email, PASSWORD, address), 60, 'the fourth login in a minute')
    t.equal((await login(app, email, PASSWORD, '192.0.2.12')).statusCode, 200, 'another address may log in')
  })

  t.test('message sends: per user per 10 seconds', async t => {
    const sessions = []
    for (const [i, address] of ['192.0.2.20', '192.0.2.21'].entries()) {
      const email = uniqueEmail(`sender${i}`)
      t.equal((await register(app, email, PASSWORD, address)).statusCode, 201)
      const res = await login(app, email, PASSWORD, address)
      sessions.push({ authorization: `Bearer ${json(res).token as string}` })
    }
    const [first, second] = sessions as [{ authorization: string }, { authorization: string }]
    const room = json(await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: first, payload: { name: 'busy' } })).id as number
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

t.test('the global per-user limit', async t => {
  const app = await build(t, { env: { RATE_LIMIT_GLOBAL: '3' } })
  const tokens = []
  for (const address of ['192.0.2.30', '192.0.2.31']) {
    const email = uniqueEmail('global')
    t.equal((await register(app, email, PASSWORD, address)).statusCode, 201)
    tokens.push({ authorization: `Bearer ${json(await login(app, email, PASSWORD, address)).token as string}` })
  }
  const [first, second] = tokens as [{ authorization: string }, { authorization: string }]
  for (let i = 1; i <= 3; i++) t.equal((await app.inject({ url: '/api/v1/rooms', headers: first })).statusCode, 200)
  isRateLimited(t, await app.inject({ url: '/api/v1/rooms', headers: first }), 60, 'the fourth request in a minute')
  t.equal((await app.inject({ url: '/api/v1/rooms', headers: second })).statusCode, 200, 'the limit is per user, not per address')
  for (let i = 0; i < 5; i++) t.equal((await app.inject({ url: '/health' })).statusCode, 200, 'health checks are not limited')
})

t.test('RATE_LIMIT_ENABLED=false turns the limits and the lockout off', async t => {
  const app = await build(t, { env: { RATE_LIMIT_ENABLED: 'false', RATE_LIMIT_REGISTER: '1', RATE_LIMIT_LOGIN: '1', RATE_LIMIT_MESSAGES: '1', RATE_LIMIT_GLOBAL: '1' } })
  const address = '192.0.2.40'
  const email = uniqueEmail('unlimited')
  for (const e of [email, uniqueEmail(), uniqueEmail()]) t.equal((await register(app, e, PASSWORD, address)).statusCode, 201)
  for (let i = 0; i < 11; i++) t.equal((await login(app, email, 'not my password', address)).statusCode, 401, `failure ${i + 1} stays 401`)
  const ok = await login(app, email, PASSWORD, address)
  t.equal(ok.statusCode, 200, 'no lockout after 11 failures')
  const auth = { authorization: `Bearer ${json(ok).token as string}` }
  const room = json(await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: auth, payload: { name: 'free' } })).id as number
  for (let i = 0; i < 4; i++) {
    const res = await app.inject({ method: 'POST', url: '/api/v1/messages', headers: auth, payload: { room_id: room, content: `m${i}` } })
    t.equal(res.statusCode, 201, `send ${i + 1}`)
    t.notOk(res.headers['x-ratelimit-limit'], 'no rate-limit headers')
  }
  for (let i = 0; i < 3; i++) t.equal((await app.inject({ url: '/api/v1/rooms', headers: auth })).statusCode, 200)
})
