import t from 'tap'
import { loggerOptions, redactUrl } from '../../src/app.js'
import { build, signUp } from '../helper.js'
import { listen, refusedUpgrade, TestSocket } from '../ws-client.js'
import { stillHealthy } from './hostile.js'

// A token in the query string is redacted however its name is spelt: Fastify decodes `%74oken` to
// `token`, so the log must too. The app logs at info with the production logger's options, into memory.

const lines: string[] = []
const app = await build(t, { logger: { ...loggerOptions('info'), stream: { write: (line: string) => { lines.push(line) } } } })
const url = await listen(app)
const user = await signUp(app)

/** Each dot-separated part of a JWT: none of them may reach the log. */
const parts = (token: string): string[] => token.split('.').filter(part => part.length > 0)

t.test('GET /ws?%74oken=<jwt> authenticates, and no part of the token is logged', async t => {
  const socket = await TestSocket.open(t, `${url}?%74oken=${user.token}`)
  t.equal(socket.ws.readyState, socket.ws.OPEN, 'the percent-encoded name is read as `token`: the socket opened')
  socket.ws.close()
  await socket.closed

  const text = lines.join('')
  t.ok(lines.some(line => line.includes('/ws?')), 'the upgrade\'s request line was logged')
  for (const [i, part] of parts(user.token).entries()) t.notOk(text.includes(part), `part ${i + 1} of the token is not in the log`)
})

t.test('other spellings of the name are redacted too, on refused upgrades and on REST', async t => {
  const secret = 'spelled-differently-secret-value'
  const spellings = ['%74oken', 'to%6Ben', '%54OKEN', 'access%5Ftoken', '%61ccess_token', 'token']
  for (const name of spellings) {
    const refused = await refusedUpgrade(`${url}?${name}=${secret}-${name}`)
    t.equal(refused.status, 401, `?${name}=: a bad token is refused`)
    await app.inject({ url: `/api/v1/rooms?${name}=${secret}-${name}` })
  }
  t.notOk(lines.join('').includes(secret), 'no spelling of the value reached the log')
})

t.test('redactUrl: what it keeps and what it replaces', async t => {
  t.equal(redactUrl('/ws?since=1:5&%74oken=abc'), '/ws?since=1:5&%74oken=[redacted]', 'other parameters stay readable')
  t.equal(redactUrl('/ws?to%6Ben=abc&x=1'), '/ws?to%6Ben=[redacted]&x=1')
  t.equal(redactUrl('/ws?%E0=abc'), '/ws?%E0=[redacted]', 'a name that cannot be decoded could be anything: its value is replaced')
  t.equal(redactUrl('/api/v1/rooms?limit=5'), '/api/v1/rooms?limit=5')
  t.equal(redactUrl('/health'), '/health')
})

stillHealthy(t, app, user)
