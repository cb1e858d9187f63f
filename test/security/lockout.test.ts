import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { accountKey } from '../../src/chat/lockout.js'
import { build, json, uniqueEmail } from '../helper.js'

// The login lockout (contract: 10 failures in 15 minutes lock an account+address pair; an account
// takes at most 100 failures an hour from all addresses together) and the per-address keys of it
// and of the rate limits: an IPv6 /64 is one address, an IPv4-mapped IPv6 address is its IPv4.

const PASSWORD = 'correct horse battery staple'
// The account cap costs about 110 bcrypt comparisons (cost 10): seconds alone, a minute or more on a busy two-core machine.
t.setTimeout(300_000)

async function register (app: FastifyInstance, email: string, remoteAddress = '192.0.2.1'): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url: '/api/v1/users/register', remoteAddress, payload: { email, password: PASSWORD, username: email.split('@')[0]! } })
}

async function login (app: FastifyInstance, email: string, password: string, remoteAddress: string): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url: '/api/v1/users/login', remoteAddress, payload: { email, password } })
}

function isLocked (t: Test, res: LightMyRequestResponse, label: string, maxSeconds = 3600): void {
  t.equal(res.statusCode, 429, `${label}: 429`)
  t.match(json(res), { code: 'LOGIN_LOCKED' }, `${label}: LOGIN_LOCKED`)
  const retryAfter = Number(res.headers['retry-after'])
  t.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= maxSeconds, `${label}: Retry-After ${String(res.headers['retry-after'])} is 1..${maxSeconds}`)
  t.notOk('token' in json(res), `${label}: no token`)
}

/** `count` wrong passwords for `email`, each from its own fresh address (10.x.y.1), `parallel` at a time; their statuses. */
async function failures (app: FastifyInstance, email: string, first: number, count: number, parallel = 10): Promise<number[]> {
  const statuses: number[] = []
  for (let start = first; start < first + count; start += parallel) {
    const batch = Array.from({ length: Math.min(parallel, first + count - start) }, async (_, j) => {
      const i = start + j
      return (await login(app, email, `guess number ${i}`, `10.${Math.floor(i / 250)}.${i % 250}.1`)).statusCode
    })
    statuses.push(...await Promise.all(batch))
  }
  return statuses
}

t.test('the account cap: past 100 failures an hour, fresh addresses are refused even with the right password; a proven address still logs in', async t => {
  const app = await build(t)
  const victim = uniqueEmail('capped')
  const bystander = uniqueEmail('bystander')
  t.equal((await register(app, victim)).statusCode, 201)
  t.equal((await register(app, bystander)).statusCode, 201)
  const home = '198.51.100.7'
  t.equal((await login(app, victim, PASSWORD, home)).statusCode, 200, 'the owner logs in from home: that address has proved itself')
  const phone = '2001:db8:aaaa:1::10'
  t.equal((await login(app, victim, PASSWORD, phone)).statusCode, 200, 'and from their phone\'s IPv6 network')

  // One failure from each of 90 fresh addresses (ten at a time): no pair comes near its own lock.
  t.same(await failures(app, victim, 0, 90), Array(90).fill(401), '90 failures from fresh addresses are plain 401s')
  // Twenty more at once: the cap holds under a race, exactly ten are let through to the password check.
  const race = await failures(app, victim, 90, 20, 20)
  t.same(race.filter(s => s === 401).length, 10, 'ten of twenty concurrent attempts are counted, up to the cap of 100')
  t.same(race.filter(s => s === 429).length, 10, 'the other ten are refused (429)')
  isLocked(t, await login(app, victim, 'guess number 111', '10.9.9.9'), 'failure 101, from a fresh address')
  const right = await login(app, victim, PASSWORD, '10.9.9.10')
  isLocked(t, right, 'the right password from an address that never logged in')
  t.ok(Number(right.headers['retry-after']) > 3000, 'until the hour\'s failures age out')
  isLocked(t, await login(app, victim, PASSWORD, '2001:db8:bbbb::1'), 'the right password from an unknown IPv6 network')
  isLocked(t, await login(app, victim.toUpperCase(), PASSWORD, '10.9.9.11'), 'another case of the email')

  const fromHome = await login(app, victim, PASSWORD, home)
  t.equal(fromHome.statusCode, 200, 'the owner, from the address they logged in from before, gets in')
  t.type(json(fromHome).token, 'string')
  t.equal((await login(app, victim, PASSWORD, '2001:db8:aaaa:1:ffff::99')).statusCode, 200, 'and from another address of the proven /64')
  t.equal((await login(app, victim, PASSWORD, `::ffff:${home}`)).statusCode, 200, 'and from home written as IPv4-mapped IPv6')
  t.equal((await login(app, victim, 'not it either', home)).statusCode, 401, 'a proven address still has its password checked')
  t.equal((await login(app, bystander, PASSWORD, '10.9.9.12')).statusCode, 200, 'another account is unaffected, from a fresh address too')

  // An unknown email: its 100 failures of the hour are written as the lockout writes them (each one
  // through the API would cost the test another 100 bcrypt comparisons).
  const ghost = uniqueEmail('ghost')
  await app.db.insertInto('login_failures')
    .values(Array.from({ length: 100 }, (_, i) => ({ account: accountKey(ghost), address: `10.20.${i}.1` }))).execute()
  const ghostLocked = await login(app, ghost, 'guess 100', '10.20.200.1')
  isLocked(t, ghostLocked, 'an unknown email is capped the same way')
  t.same(json(ghostLocked), json(right), 'with the same answer as a real account: the cap tells no one whether the email is registered')
})

for (const engine of ['postgres', 'embedded'] as const) {
  t.test(`IPv6: the addresses of one /64 share one lockout pair (${engine})`, async t => {
    await ipv6Pair(t, await build(t, { engine }))
  })
}

async function ipv6Pair (t: Test, app: FastifyInstance): Promise<void> {
  const email = uniqueEmail('ipv6')
  t.equal((await register(app, email)).statusCode, 201)
  for (let i = 1; i <= 10; i++) {
    t.equal((await login(app, email, `wrong password ${i}`, `2001:db8:1:2::${i.toString(16)}`)).statusCode, 401, `failure ${i}, from ::${i.toString(16)}`)
  }
  isLocked(t, await login(app, email, PASSWORD, '2001:db8:1:2:ffff:ffff:ffff:fffe'), 'the right password from another address of that /64', 15 * 60)
  isLocked(t, await login(app, email, PASSWORD, '2001:0DB8:0001:0002:0000:0000:0000:0001'), 'the same /64 written in full, upper case', 15 * 60)
  t.equal((await login(app, email, PASSWORD, '2001:db8:1:3::1')).statusCode, 200, 'the next /64 is another address')
}

t.test('IPv4-mapped IPv6 is the IPv4 address', async t => {
  const app = await build(t)
  const email = uniqueEmail('mapped')
  t.equal((await register(app, email)).statusCode, 201)
  for (let i = 1; i <= 5; i++) t.equal((await login(app, email, `wrong ${i} password`, '203.0.113.9')).statusCode, 401)
  for (let i = 6; i <= 10; i++) t.equal((await login(app, email, `wrong ${i} password`, '::ffff:203.0.113.9')).statusCode, 401)
  isLocked(t, await login(app, email, PASSWORD, '203.0.113.9'), 'five failures as IPv4 and five as IPv4-mapped IPv6 lock the pair', 15 * 60)
  t.equal((await login(app, email, PASSWORD, '203.0.113.10')).statusCode, 200, 'the next IPv4 address is another')
})

t.test('IPv6: the addresses of one /64 share one rate-limit key (login, register, anonymous requests)', async t => {
  const app = await build(t, { env: { RATE_LIMIT_LOGIN: '3', RATE_LIMIT_REGISTER: '2', RATE_LIMIT_GLOBAL: '3' } })
  const email = uniqueEmail('limited')
  t.equal((await register(app, email, '2001:db8:5:5::1')).statusCode, 201)
  t.equal((await register(app, uniqueEmail(), '2001:db8:5:5::2')).statusCode, 201)
  const third = await register(app, uniqueEmail(), '2001:db8:5:5:abcd::3')
  t.equal(third.statusCode, 429, 'the third registration from the /64 in an hour')
  t.ok(Number(third.headers['retry-after']) > 3500)
  t.equal((await register(app, uniqueEmail(), '2001:db8:5:6::1')).statusCode, 201, 'the next /64 registers')

  for (let i = 1; i <= 3; i++) t.equal((await login(app, email, PASSWORD, `2001:db8:7:7::${i}`)).statusCode, 200, `login ${i}`)
  t.equal((await login(app, email, PASSWORD, '2001:db8:7:7:1:2:3:4')).statusCode, 429, 'the fourth login from the /64 in a minute')
  t.equal((await login(app, email, PASSWORD, '::ffff:192.0.2.77')).statusCode, 200, 'another address logs in')

  // The global limit's anonymous key (the served OpenAPI document needs no token).
  for (let i = 1; i <= 3; i++) t.equal((await app.inject({ url: '/docs/json', remoteAddress: `2001:db8:9:9::${i}` })).statusCode, 200, `anonymous request ${i}`)
  t.equal((await app.inject({ url: '/docs/json', remoteAddress: '2001:db8:9:9:8::8' })).statusCode, 429, 'the fourth anonymous request from the /64 in a minute')
  t.equal((await app.inject({ url: '/docs/json', remoteAddress: '2001:db8:9:a::1' })).statusCode, 200, 'the next /64 has its own budget')
})
