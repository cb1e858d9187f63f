import t, { type Test } from 'tap'
import { build, createRoom, json, signUp } from '../helper.js'
import { b64, claims, craftToken, HS256, isClientError, now, stillHealthy } from './hostile.js'

// Tokens (contract: HS256 only, `sub` = user id, `iss` and `aud` set and checked, `exp` required).
// Every defect gets the same 401 body, so a client learns nothing about which check failed.

const app = await build(t)
const user = await signUp(app)
const INVALID = { error: 'Missing or invalid authentication token', code: 'UNAUTHORIZED' }

async function refused (t: Test, authorization: string, label: string): Promise<void> {
  const res = await app.inject({ url: '/api/v1/rooms', headers: { authorization } })
  isClientError(t, res, 401, label)
  t.same(json(res), INVALID, `${label}: the one 401 body`)
  const write = await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: { authorization }, payload: { name: `by ${label}` } })
  t.equal(write.statusCode, 401, `${label}: a write is refused too`)
}

t.test('control: a correctly hand-made token works, so each refusal below is about its defect', async t => {
  const res = await app.inject({ url: '/api/v1/rooms', headers: { authorization: `Bearer ${craftToken(HS256, claims(user.id))}` } })
  t.equal(res.statusCode, 200)
})

const bearerCases: Record<string, () => string> = {
  'alg none, unsigned': () => craftToken({ alg: 'none', typ: 'JWT' }, claims(user.id), null),
  'alg None, with a signature': () => craftToken({ alg: 'None', typ: 'JWT' }, claims(user.id)),
  'HS512 signed with the right secret': () => craftToken({ alg: 'HS512', typ: 'JWT' }, claims(user.id)),
  'HS384 signed with the right secret': () => craftToken({ alg: 'HS384', typ: 'JWT' }, claims(user.id)),
  'labelled RS256, HMAC-signed with the secret (key confusion)': () => craftToken({ alg: 'RS256', typ: 'JWT' }, claims(user.id)),
  'signed with another key': () => craftToken(HS256, claims(user.id), 'another-secret-that-is-at-least-32-characters'),
  expired: () => craftToken(HS256, claims(user.id, { iat: now() - 7200, exp: now() - 3600 })),
  'not yet valid (nbf in an hour)': () => craftToken(HS256, claims(user.id, { nbf: now() + 3600 })),
  'no exp': () => craftToken(HS256, claims(user.id, { exp: undefined })),
  'tampered payload (sub changed, old signature)': () => {
    const [h, , s] = craftToken(HS256, claims(user.id)).split('.')
    return `${h!}.${b64(claims(user.id + 1, { role: 'admin' }))}.${s!}`
  },
  'no sub': () => craftToken(HS256, claims(user.id, { sub: undefined })),
  'sub not a number': () => craftToken(HS256, claims(user.id, { sub: 'admin' })),
  'sub zero': () => craftToken(HS256, claims(user.id, { sub: '0' })),
  'wrong issuer': () => craftToken(HS256, claims(user.id, { iss: 'someone-else' })),
  'no issuer': () => craftToken(HS256, claims(user.id, { iss: undefined })),
  'wrong audience': () => craftToken(HS256, claims(user.id, { aud: 'someone-else' })),
  garbage: () => 'garbage',
  'three empty parts': () => '..',
  'three dots of junk': () => 'a.b.c',
  'a header that is not JSON': () => `${Buffer.from('{not json').toString('base64url')}.${b64(claims(user.id))}.x`
}

for (const [label, token] of Object.entries(bearerCases)) {
  t.test(`token: ${label} is 401`, async t => { await refused(t, `Bearer ${token()}`, label) })
}

t.test('an empty or malformed Authorization header is 401', async t => {
  const good = craftToken(HS256, claims(user.id))
  for (const header of ['', 'Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', `Token ${good}`, `Bearer ${good} extra`, 'Bearer\t\t']) {
    await refused(t, header, `authorization "${header.slice(0, 16)}"`)
  }
})

t.test('a token in the query string is refused on REST (WebSocket upgrades only)', async t => {
  const good = craftToken(HS256, claims(user.id))
  for (const url of [`/api/v1/rooms?token=${good}`, `/api/v1/users?access_token=${good}`]) {
    const res = await app.inject({ url })
    isClientError(t, res, 401, url.slice(0, 30))
    t.same(json(res), INVALID)
  }
})

t.test('a valid token for a user that does not exist is refused, never a 5xx', async t => {
  const ghost = { authorization: `Bearer ${craftToken(HS256, claims(2_000_000_000))}` }
  const room = await createRoom(app, user, 'haunted')
  // 401 (nobody by that id), or 403 for a send: not a member of the room either way.
  const requests = [
    { method: 'POST' as const, url: '/api/v1/rooms', payload: { name: 'ghost room' }, status: 401 },
    { method: 'POST' as const, url: `/api/v1/rooms/${room}/join`, status: 401 },
    { method: 'POST' as const, url: '/api/v1/messages', payload: { room_id: room, content: 'boo' }, status: [401, 403] }
  ]
  for (const { status, ...request } of requests) {
    const res = await app.inject({ ...request, headers: ghost })
    isClientError(t, res, status, `${request.method} ${request.url}`)
  }
  const history = json<unknown[]>(await app.inject({ url: `/api/v1/rooms/${room}/messages`, headers: user.auth }))
  t.same(history, [], 'the ghost stored nothing')
})

stillHealthy(t, app, user)
