import t from 'tap'
import { loggerOptions } from '../../src/app.js'
import { build, json, signUp, uniqueEmail } from '../helper.js'
import { listen, refusedUpgrade, TestSocket } from '../ws-client.js'
import { stillHealthy } from './hostile.js'

// The logs never hold a credential, and every request's lines carry the id its answer names.
// The app logs at info, with the production logger's options (loggerOptions from src/app.ts), into memory.

const lines: string[] = []
const app = await build(t, { logger: { ...loggerOptions('info'), stream: { write: (line: string) => { lines.push(line) } } } })
const url = await listen(app)
const PASSWORD = 'logged-nowhere horse battery'
const COOKIE = 'session=cookie-secret-4f2a9c'
const user = await signUp(app, { password: PASSWORD })
const logText = (): string => lines.join('')
const entries = (): Array<Record<string, any>> => lines.map(line => JSON.parse(line) as Record<string, any>)

t.test('every log line is JSON, and none holds a password, token or cookie', async t => {
  const email = uniqueEmail('logged')
  const password = 'another secret password'
  await app.inject({ method: 'POST', url: '/api/v1/users/register', payload: { email, password, username: 'logged' } })
  const login = await app.inject({ method: 'POST', url: '/api/v1/users/login', payload: { email, password } })
  const token = json(login).token as string
  await app.inject({ method: 'POST', url: '/api/v1/users/login', payload: { email, password: 'wrong but secret password' } })
  await app.inject({ url: '/api/v1/rooms', headers: { authorization: `Bearer ${token}`, cookie: COOKIE } })
  await app.inject({ url: '/api/v1/rooms', headers: { authorization: 'Bearer not.a-valid.token-secret' } })
  await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: `{"name": "${password}` })

  const socket = await TestSocket.open(t, url, { token })
  socket.ws.close()
  await socket.closed
  const refused = await refusedUpgrade(`${url}?token=refused-token-secret-value`)
  t.equal(refused.status, 401)
  await app.inject({ url: `/api/v1/rooms?token=${token}` })

  t.ok(lines.length > 10, `${lines.length} lines were logged`)
  t.doesNotThrow(() => entries(), 'every line is JSON')
  const text = logText()
  for (const [what, secret] of [['the password', password], ['the other password', PASSWORD], ['a wrong password', 'wrong but secret password'], ['the token', token],
    ['the token\'s signature', token.split('.')[2]!], ['a refused token', 'refused-token-secret-value'], ['a bad bearer', 'not.a-valid.token-secret'], ['the cookie', 'cookie-secret-4f2a9c']] as const) {
    t.notOk(text.includes(secret), `${what} is not in the log`)
  }
  t.notMatch(text, /password_hash|\$2[aby]\$/, 'no hash either')
})

t.test('every request line carries the request id its response names in x-request-id', async t => {
  const responses = [
    await app.inject({ url: '/health' }),
    await app.inject({ url: '/api/v1/rooms', headers: user.auth }),
    await app.inject({ url: '/api/v1/rooms' }),
    await app.inject({ url: '/nowhere' }),
    await app.inject({ method: 'POST', url: '/api/v1/users/login', payload: { email: user.email, password: PASSWORD } })
  ]
  for (const res of responses) {
    const id = res.headers['x-request-id'] as string
    t.type(id, 'string', `${res.statusCode}: an x-request-id`)
    const own = entries().filter(e => e.reqId === id)
    t.ok(own.some(e => e.req !== undefined), `${id}: the incoming-request line carries it`)
    t.ok(own.some(e => e.res?.statusCode === res.statusCode), `${id}: the completed line carries it, with the status`)
  }
  const requestLines = entries().filter(e => e.req !== undefined || e.res !== undefined)
  t.ok(requestLines.length >= 2 * responses.length)
  t.ok(requestLines.every(e => typeof e.reqId === 'string' && e.reqId.length > 0), 'no request line without a request id')
})

t.test('a forged x-request-id cannot forge a log line', async t => {
  const before = lines.length
  const forged = '"}\n{"level":60,"msg":"forged"}'
  const res = await app.inject({ url: '/health', headers: { 'x-request-id': forged.replace('\n', ' ') } })
  t.equal(res.statusCode, 200)
  const added = lines.slice(before)
  t.ok(added.length >= 2)
  for (const line of added) t.not((JSON.parse(line) as { msg?: string }).msg, 'forged', 'each line is one JSON object; the id is a string inside it')
})

stillHealthy(t, app, user)
