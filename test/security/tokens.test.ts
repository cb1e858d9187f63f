import { spawn } from 'node:child_process'
import type { FastifyInstance } from 'fastify'
import { sql } from 'kysely'
import t, { type Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { accountKey } from '../../src/chat/lockout.js'
import { checkResponsesAgainstOpenApi, build, freshDatabase, json, type Session, signUp, testConfig, uniqueEmail } from '../helper.js'
import { listen, PATIENCE_MS, PrivateRedis, refusedUpgrade, TestSocket, twoInstances } from '../ws-client.js'

// Revocation: logout, a new password or email, and an admin disabling an account make every
// token issued before stop working, on REST and on the WebSocket, and close the user's sockets.

const PASSWORD = 'correct horse battery staple' // signUp's default
const INVALID = { error: 'Missing or invalid authentication token', code: 'UNAUTHORIZED' }
const bearer = (token: string): { authorization: string } => ({ authorization: `Bearer ${token}` })

async function me (app: FastifyInstance, token: string): Promise<{ statusCode: number, body: any }> {
  const response = await app.inject({ url: '/api/v1/users/me', headers: bearer(token) })
  return { statusCode: response.statusCode, body: json(response) }
}

async function login (app: FastifyInstance, email: string, password: string): Promise<{ statusCode: number, body: any }> {
  const response = await app.inject({ method: 'POST', url: '/api/v1/users/login', payload: { email, password } })
  return { statusCode: response.statusCode, body: json(response) }
}

async function patchMe (app: FastifyInstance, token: string, payload: Record<string, unknown>): Promise<{ statusCode: number, body: any }> {
  const response = await app.inject({ method: 'PATCH', url: '/api/v1/users/me', headers: bearer(token), payload })
  return { statusCode: response.statusCode, body: json(response) }
}

/** The close code the socket gets (fails instead of hanging when it stays open). */
async function closeCode (socket: TestSocket): Promise<number> {
  let timer: NodeJS.Timeout | undefined
  const closed = await Promise.race([
    socket.closed,
    new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error('the socket was not closed')), PATIENCE_MS) })
  ])
  clearTimeout(timer)
  return closed.code
}

/** True when the socket still answers a ping (it is open and served). */
async function answersPing (socket: TestSocket): Promise<boolean> {
  if (socket.ws.readyState !== socket.ws.OPEN) return false
  return await new Promise(resolve => {
    const timer = setTimeout(() => resolve(false), PATIENCE_MS)
    socket.ws.once('pong', () => { clearTimeout(timer); resolve(true) })
    socket.ws.ping()
  })
}

async function makeAdmin (app: FastifyInstance, userId: number): Promise<void> {
  await sql`update users set role = 'admin' where id = ${userId}`.execute(app.db)
}

t.test('logout revokes every token of the user, on REST and WebSocket, and closes only their sockets', async t => {
  const app = await build(t)
  const url = await listen(app)
  const alice = await signUp(app)
  const bob = await signUp(app)
  const otherDevice = (await login(app, alice.email, PASSWORD)).body.token as string

  const own = await me(app, alice.token)
  t.equal(own.statusCode, 200)
  t.match(own.body, { id: alice.id, email: alice.email, username: alice.username })
  t.notOk('disabled_at' in own.body, 'disabled_at is for admins only')

  const aliceSocket = await TestSocket.as(t, url, alice)
  const bobSocket = await TestSocket.as(t, url, bob)

  const out = await app.inject({ method: 'POST', url: '/api/v1/users/logout', headers: alice.auth })
  t.equal(out.statusCode, 204)
  t.equal(out.body, '', 'no body')

  t.equal(await closeCode(aliceSocket), 4401, 'the open socket is closed with 4401')
  for (const [label, token] of [['the token that logged out', alice.token], ['a token of another device', otherDevice]] as const) {
    const after = await me(app, token)
    t.equal(after.statusCode, 401, label)
    t.same(after.body, INVALID, `${label}: the same 401 as any bad token`)
  }
  const upgrade = await refusedUpgrade(`${url}?token=${alice.token}`)
  t.equal(upgrade.status, 401, 'a revoked token cannot open a socket')
  t.same(JSON.parse(upgrade.body), INVALID)
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/users/logout', headers: alice.auth })).statusCode, 401, 'nor log out again')

  t.ok(await answersPing(bobSocket), 'another user\'s socket stays open')
  t.equal((await me(app, bob.token)).statusCode, 200, 'and their token works')

  const again = await login(app, alice.email, PASSWORD)
  t.equal(again.statusCode, 200)
  t.equal((await me(app, again.body.token)).statusCode, 200, 'a token issued after logout works')
  const fresh = await TestSocket.open(t, url, { token: again.body.token })
  t.ok(await answersPing(fresh), 'and opens a socket')
})

t.test('changing the password', async t => {
  const app = await build(t)
  const url = await listen(app)
  const user = await signUp(app)
  const socket = await TestSocket.as(t, url, user)

  await t.test('a wrong current password: 401, nothing changes, and it counts as a failed login', async t => {
    const wrong = await patchMe(app, user.token, { current_password: 'not my password', password: 'a brand new passphrase' })
    t.equal(wrong.statusCode, 401)
    t.same(wrong.body, { error: 'Current password is incorrect', code: 'INVALID_CREDENTIALS' })
    t.equal((await login(app, user.email, PASSWORD)).statusCode, 200, 'the old password still works')
    t.equal((await login(app, user.email, 'a brand new passphrase')).statusCode, 401)
    t.equal((await me(app, user.token)).statusCode, 200, 'the token still works')
    t.ok(await answersPing(socket), 'the socket stays open')
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from login_failures where account = ${accountKey(user.email)}`.execute(app.db)
    t.equal(rows[0]?.n, 1, 'recorded for the lockout')
  })

  await t.test('a new password the policy refuses: 400, nothing changes', async t => {
    const weak = await patchMe(app, user.token, { current_password: PASSWORD, password: 'password' })
    t.equal(weak.statusCode, 400)
    t.equal((await me(app, user.token)).statusCode, 200)
  })

  await t.test('the right current password: old tokens and password stop working, the returned token works', async t => {
    const changed = await patchMe(app, user.token, { current_password: PASSWORD, password: 'a brand new passphrase' })
    t.equal(changed.statusCode, 200)
    t.match(changed.body, { token: String, user: { id: user.id, email: user.email, username: user.username } })
    t.equal(await closeCode(socket), 4401, 'the open socket is closed with 4401')
    t.same((await me(app, user.token)).body, INVALID, 'the old token is refused')
    t.equal((await login(app, user.email, PASSWORD)).statusCode, 401, 'the old password fails')
    t.equal((await login(app, user.email, 'a brand new passphrase')).statusCode, 200, 'the new one works')
    t.equal((await me(app, changed.body.token)).statusCode, 200, 'the returned token works')
    t.ok(await answersPing(await TestSocket.open(t, url, { token: changed.body.token })), 'and opens a socket')
  })
})

t.test('changing the email, and the username', async t => {
  const app = await build(t)
  const url = await listen(app)
  const user = await signUp(app)
  const other = await signUp(app)
  const socket = await TestSocket.as(t, url, user)

  await t.test('a new username alone revokes nothing', async t => {
    const renamed = await patchMe(app, user.token, { current_password: PASSWORD, username: '  renamed  ' })
    t.equal(renamed.statusCode, 200)
    t.equal(renamed.body.user.username, 'renamed')
    t.equal((await me(app, user.token)).statusCode, 200, 'the old token still works')
    t.ok(await answersPing(socket))
  })

  await t.test('an email someone else has (any case): 409, nothing changes', async t => {
    const taken = await patchMe(app, user.token, { current_password: PASSWORD, email: other.email.toUpperCase() })
    t.equal(taken.statusCode, 409)
    t.same(taken.body, { error: 'Email already registered', code: 'EMAIL_TAKEN' })
    t.equal((await me(app, user.token)).body.email, user.email)
  })

  await t.test('a wrong current password with a taken email: 401 (the address is not probed)', async t => {
    t.equal((await patchMe(app, user.token, { current_password: 'wrong', email: other.email })).statusCode, 401)
  })

  await t.test('a new email revokes every token and closes the socket', async t => {
    const email = uniqueEmail('moved')
    const changed = await patchMe(app, user.token, { current_password: PASSWORD, email })
    t.equal(changed.statusCode, 200)
    t.equal(changed.body.user.email, email)
    t.equal(await closeCode(socket), 4401)
    t.same((await me(app, user.token)).body, INVALID, 'the old token is refused')
    t.equal((await login(app, user.email, PASSWORD)).statusCode, 401, 'the old email no longer logs in')
    t.equal((await login(app, email, PASSWORD)).statusCode, 200, 'the new one does')
    t.equal((await me(app, changed.body.token)).body.email, email, 'the returned token works')
  })
})

t.test('an admin disables and enables an account', async t => {
  // Roles are changed below with SQL, behind the server's back: read them on every request.
  const app = await build(t, { env: { AUTH_CACHE_SECONDS: '0' } })
  const url = await listen(app)
  const admin = await signUp(app)
  const victim = await signUp(app)
  const bystander = await signUp(app)
  const disable = async (by: Session, id: number, disabled: boolean): Promise<{ statusCode: number, body: any }> => {
    const response = await app.inject({ method: 'PATCH', url: `/api/v1/users/${id}`, headers: by.auth, payload: { disabled } })
    return { statusCode: response.statusCode, body: json(response) }
  }

  const notAdmin = await disable(bystander, victim.id, true)
  t.equal(notAdmin.statusCode, 403, 'a non-admin may not')
  t.equal(notAdmin.body.code, 'ADMIN_ONLY')

  // With AUTH_CACHE_SECONDS=0 the role is read on each request: the admin's existing token has it at once.
  await makeAdmin(app, admin.id)
  t.equal((await disable(admin, 2_000_000_000, true)).statusCode, 404, 'an unknown id')
  const self = await disable(admin, admin.id, true)
  t.equal(self.statusCode, 409, 'an admin cannot disable themself')
  t.equal(self.body.code, 'CANNOT_DISABLE_SELF')

  const socket = await TestSocket.as(t, url, victim)
  const bystanderSocket = await TestSocket.as(t, url, bystander)
  const disabled = await disable(admin, victim.id, true)
  t.equal(disabled.statusCode, 200)
  t.match(disabled.body, { id: victim.id, email: victim.email, disabled_at: /^\d{4}-/ })
  t.equal(await closeCode(socket), 4401, 'the victim\'s socket is closed with 4401')
  t.ok(await answersPing(bystanderSocket), 'nobody else\'s')
  t.same((await me(app, victim.token)).body, INVALID, 'the victim\'s token is refused')
  t.equal((await refusedUpgrade(`${url}?token=${victim.token}`)).status, 401)

  const rightPassword = await login(app, victim.email, PASSWORD)
  t.equal(rightPassword.statusCode, 403)
  t.same(rightPassword.body, { error: 'This account is disabled', code: 'ACCOUNT_DISABLED' })
  const wrongPassword = await login(app, victim.email, 'not the password')
  t.equal(wrongPassword.statusCode, 401, 'without the password, the status is not revealed')
  t.same(wrongPassword.body, (await login(app, uniqueEmail(), 'not the password')).body)

  const seenByAdmin = json(await app.inject({ url: `/api/v1/users/${victim.id}`, headers: admin.auth }))
  t.match(seenByAdmin, { email: victim.email, disabled_at: /^\d{4}-/ }, 'an admin sees the status')
  t.notOk('disabled_at' in json(await app.inject({ url: `/api/v1/users/${victim.id}`, headers: bystander.auth })), 'others do not')

  const enabled = await disable(admin, victim.id, false)
  t.equal(enabled.statusCode, 200)
  t.equal(enabled.body.disabled_at, null)
  const back = await login(app, victim.email, PASSWORD)
  t.equal(back.statusCode, 200, 'enabled again: login works')
  t.equal((await me(app, back.body.token)).statusCode, 200)
  t.equal((await me(app, victim.token)).statusCode, 401, 'tokens from before the disabling stay revoked')

  await sql`update users set role = 'user' where id = ${admin.id}`.execute(app.db)
  t.equal((await disable(admin, victim.id, true)).statusCode, 403, 'a role taken away applies to the next request')
})

t.test('revocation closes the user\'s sockets on every instance (Redis)', async t => {
  const redis = await PrivateRedis.start(t)
  const { a, b, urlB } = await twoInstances(t, redis.url)
  const alice = await signUp(a)
  const bob = await signUp(a)
  const aliceOnB = await TestSocket.as(t, urlB, alice)
  const bobOnB = await TestSocket.as(t, urlB, bob)
  // B now remembers alice's auth state (AUTH_CACHE_SECONDS): the revocation must clear it there too.
  t.equal((await b.inject({ url: '/api/v1/users/me', headers: alice.auth })).statusCode, 200, 'B accepts the token before')

  t.equal((await a.inject({ method: 'POST', url: '/api/v1/users/logout', headers: alice.auth })).statusCode, 204, 'logged out on A')
  t.equal(await closeCode(aliceOnB), 4401, 'the socket on B is closed with 4401')
  t.ok(await answersPing(bobOnB), 'another user\'s socket on B stays open')
  t.equal((await b.inject({ url: '/api/v1/users/me', headers: alice.auth })).statusCode, 401, 'B refuses the token too')

  // A revocation closes only sockets opened with older tokens: one opened with a new token stays.
  const fresh = (await login(b, alice.email, PASSWORD)).body.token as string
  const freshOnB = await TestSocket.open(t, urlB, { token: fresh })
  const changed = await patchMe(a, fresh, { current_password: PASSWORD, username: 'still here' })
  t.equal(changed.statusCode, 200)
  t.ok(await answersPing(freshOnB), 'a change that revokes nothing closes nothing')
})

/** Runs `npm run admin -- ...` (the script itself, through tsx) against a database; resolves with its exit code and output. */
async function runAdmin (databaseUrl: string, args: string[]): Promise<{ code: number | null, output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('../../scripts/admin.ts', import.meta.url).pathname, ...args], {
    env: { ...process.env, DATABASE_URL: databaseUrl, JWT_SECRET: testConfig().jwt.secret, LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += String(chunk) })
  child.stderr.on('data', (chunk: Buffer) => { output += String(chunk) })
  const code = await new Promise<number | null>(resolve => child.once('exit', resolve))
  return { code, output }
}

t.test('scripts/admin.ts grants and revokes the admin role', async (t: Test) => {
  const databaseUrl = await freshDatabase(t)
  // The script changes the role from another process: read it on every request (else within AUTH_CACHE_SECONDS).
  const app = buildApp(testConfig({ DATABASE_URL: databaseUrl, AUTH_CACHE_SECONDS: '0' }), { logger: false })
  checkResponsesAgainstOpenApi(t, app)
  await app.ready()
  const user = await signUp(app)
  const target = await signUp(app)
  const tryDisable = async (): Promise<number> =>
    (await app.inject({ method: 'PATCH', url: `/api/v1/users/${target.id}`, headers: user.auth, payload: { disabled: false } })).statusCode

  t.equal(await tryDisable(), 403)
  const granted = await runAdmin(databaseUrl, ['grant', user.email.toUpperCase()])
  t.equal(granted.code, 0, granted.output)
  t.match(granted.output, 'is now an admin')
  t.equal(await tryDisable(), 200, 'granted: the same token may now')
  const revoked = await runAdmin(databaseUrl, ['revoke', user.email])
  t.equal(revoked.code, 0, revoked.output)
  t.equal(await tryDisable(), 403, 'revoked')
  const unknown = await runAdmin(databaseUrl, ['grant', uniqueEmail()])
  t.equal(unknown.code, 1)
  t.match(unknown.output, 'No user has the email')
})
