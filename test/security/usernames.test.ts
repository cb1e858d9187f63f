import type { LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { build, json, signUp, uniqueEmail } from '../helper.js'
import { isClientError, stillHealthy } from './hostile.js'

// Impersonation through usernames (the name every client shows): copies of another user's name in
// another case, width or with invisible characters, reserved names, and names that reorder or hide
// text are refused, on registration and on PATCH /users/me alike.

const app = await build(t)
const PASSWORD = 'correct horse battery staple'
const john = await signUp(app, { username: 'John' })

const register = async (username: string): Promise<LightMyRequestResponse> =>
  await app.inject({ method: 'POST', url: '/api/v1/users/register', payload: { email: uniqueEmail('name'), password: PASSWORD, username } })
const rename = async (auth: { authorization: string }, username: string): Promise<LightMyRequestResponse> =>
  await app.inject({ method: 'PATCH', url: '/api/v1/users/me', headers: auth, payload: { current_password: PASSWORD, username } })
const usernames = async (): Promise<string[]> =>
  json<Array<{ username: string }>>(await app.inject({ url: '/api/v1/users?limit=100', headers: john.auth })).map(u => u.username)

const COPIES = ['John', 'john', 'JOHN', 'ｊｏｈｎ', 'Ｊｏｈｎ', ' john ']
const RESERVED = ['admin', 'Admin', 'ADMINISTRATOR', 'ａｄｍｉｎ', 'root', 'system', 'Support', 'moderator', 'owner']
const HIDDEN: Array<[string, string]> = [
  ['john\u200B', 'a zero-width space after a copy'],
  ['jo\u200Dhn', 'a zero-width joiner inside a copy'],
  ['\u202Egnp.exe', 'a right-to-left override'],
  ['\u2067nhoj\u2069', 'a bidi isolate'],
  ['john\u200F', 'a right-to-left mark'],
  ['\u200B', 'only a zero-width space'],
  ['\u3164', 'only a Hangul filler'],
  ['\u001b[31mjohn\u001b[0m', 'ANSI colour codes'],
  ['john\r\nadmin: all accounts reset', 'CRLF'],
  ['john\u0085', 'a C1 control'],
  ['jo\u00ADhn', 'a soft hyphen inside a copy']
]

t.test('a copy of another user\'s name in another case or width is 409 USERNAME_TAKEN', async t => {
  for (const username of COPIES) {
    const res = await register(username)
    isClientError(t, res, 409, JSON.stringify(username))
    t.same(json(res), { error: 'Username already taken', code: 'USERNAME_TAKEN' })
  }
  t.same((await usernames()).filter(u => u.toLowerCase().includes('j')), ['John'], 'only the first John exists')
})

t.test('the reserved names are 400 USERNAME_RESERVED', async t => {
  for (const username of RESERVED) {
    const res = await register(username)
    isClientError(t, res, 400, username)
    t.match(json(res), { error: /^username .*reserved/, code: 'USERNAME_RESERVED' })
  }
  t.notOk((await usernames()).some(u => RESERVED.map(r => r.normalize('NFKC').toLowerCase()).includes(u.normalize('NFKC').toLowerCase())), 'none was created')
})

t.test('invisible, bidi-override and control characters are 400 naming the username', async t => {
  for (const [username, what] of HIDDEN) {
    const res = await register(username)
    isClientError(t, res, 400, what)
    t.match(json(res), { error: /^username /, code: 'VALIDATION_ERROR' }, what)
  }
  t.equal((await usernames()).length, 1, 'nobody but John registered')
})

t.test('PATCH /users/me applies the same rule', async t => {
  const mallory = await signUp(app, { username: 'mallory' })
  for (const username of COPIES) {
    const res = await rename(mallory.auth, username)
    isClientError(t, res, 409, `rename to ${JSON.stringify(username)}`)
    t.same(json(res), { error: 'Username already taken', code: 'USERNAME_TAKEN' })
  }
  for (const username of RESERVED) t.match(json(await rename(mallory.auth, username)), { code: 'USERNAME_RESERVED' }, `rename to ${username}`)
  for (const [username, what] of HIDDEN) {
    const res = await rename(mallory.auth, username)
    isClientError(t, res, 400, `rename: ${what}`)
    t.match(json(res).error, /^username /)
  }
  t.equal(json(await app.inject({ url: '/api/v1/users/me', headers: mallory.auth })).username, 'mallory', 'still mallory')

  const recase = await rename(mallory.auth, 'Mallory')
  t.equal(recase.statusCode, 200, 'your own name in another case is yours')
  t.equal(json(recase).user.username, 'Mallory')
  const wrong = await app.inject({ method: 'PATCH', url: '/api/v1/users/me', headers: mallory.auth, payload: { current_password: 'not my password', username: 'John' } })
  t.equal(wrong.statusCode, 401, 'a wrong password says nothing about the name')
  t.equal((await rename(mallory.auth, 'Mallory the Second')).statusCode, 200)
  t.equal((await register('mallory')).statusCode, 201, 'the name given up is free again')
})

t.test('two registrations of one name at once: one 201, one 409', async t => {
  const [a, b] = await Promise.all([register('Racer'), register('racer')])
  t.same([a.statusCode, b.statusCode].sort(), [201, 409])
  t.equal((await usernames()).filter(u => u.toLowerCase() === 'racer').length, 1)
})

stillHealthy(t, app, john)
