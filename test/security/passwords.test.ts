import t from 'tap'
import { build, json, signUp, uniqueEmail } from '../helper.js'
import { isClientError, stillHealthy } from './hostile.js'

// The password policy (contract; OWASP ASVS 5.0 V6): 8 to 128 characters, no composition rules,
// not a commonly used password, never truncated or case-folded.

const app = await build(t)
const user = await signUp(app)
const PASSWORD = 'correct horse battery staple'

const register = async (email: string, password = PASSWORD): Promise<Awaited<ReturnType<typeof app.inject>>> =>
  await app.inject({ method: 'POST', url: '/api/v1/users/register', payload: { email, password, username: email.split('@')[0]! } })
const login = async (email: string, password = PASSWORD): Promise<Awaited<ReturnType<typeof app.inject>>> =>
  await app.inject({ method: 'POST', url: '/api/v1/users/login', payload: { email, password } })

t.test('passwords: 8 to 128 characters', async t => {
  const shortEmail = uniqueEmail()
  const short = await register(shortEmail, 'abcdefg')
  isClientError(t, short, 400, '7 characters')
  t.match(json(short).error, /^password must be at least 8 characters/)
  t.equal((await login(shortEmail, 'abcdefg')).statusCode, 401, 'no account was created')
  const long = await register(uniqueEmail(), 'k'.repeat(64) + 'j'.repeat(65))
  isClientError(t, long, 400, '129 characters')
  t.match(json(long).error, /^password must be at most 128 characters/)

  const eight = uniqueEmail('eight')
  t.equal((await register(eight, 'qz7!vR2m')).statusCode, 201, '8 characters are enough')
  t.equal((await login(eight, 'qz7!vR2m')).statusCode, 200)
  const max = uniqueEmail('max')
  const maxPassword = 'Long enough, and then some. '.repeat(5).slice(0, 128)
  t.equal((await register(max, maxPassword)).statusCode, 201, '128 characters are allowed')
  t.equal((await login(max, maxPassword)).statusCode, 200)
  t.equal((await login(max, maxPassword.slice(0, 127))).statusCode, 401, 'every character counts')
})

t.test('commonly used passwords are refused', async t => {
  for (const password of ['password123', 'qwertyuiop', '123456789']) {
    const res = await register(uniqueEmail(), password)
    isClientError(t, res, 400, password)
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
  t.equal((await register(email, right)).statusCode, 201)
  t.equal((await login(email, wrong)).statusCode, 401, 'the other 100-character password is refused')
  t.equal((await login(email, prefix)).statusCode, 401, 'the 72-byte prefix alone is refused')
  t.equal((await login(email, right.toUpperCase())).statusCode, 401, 'no case folding')
  t.equal((await login(email, right)).statusCode, 200, 'only the right one logs in')

  const multibyte = uniqueEmail('multibyte')
  const accents = 'é'.repeat(36) // 72 bytes in UTF-8
  t.equal((await register(multibyte, accents + 'one')).statusCode, 201)
  t.equal((await login(multibyte, accents + 'two')).statusCode, 401, 'multi-byte prefix: also distinct')
  t.equal((await login(multibyte, accents + 'one')).statusCode, 200)
})

t.test('a password that is an object, a list or null is 400, never a 5xx', async t => {
  // (Ajv's coercion, on for query strings, also turns a number or a one-item list into a string:
  // the policy then applies to that string.)
  for (const password of [{ length: 10 }, ['correct horse', 'battery staple'], null]) {
    const res = await app.inject({ method: 'POST', url: '/api/v1/users/register', payload: { email: uniqueEmail(), password, username: 'typed' } })
    isClientError(t, res, 400, JSON.stringify(password))
    t.match(json(res).error, /^password /)
  }
  const res = await app.inject({ method: 'POST', url: '/api/v1/users/login', payload: { email: user.email, password: { $ne: '' } } })
  isClientError(t, res, 400, 'a NoSQL-style operator object for a password at login')
})

stillHealthy(t, app, user)
