import t from 'tap'
import { loggerOptions } from '../../src/app.js'
import { build, signUp } from '../helper.js'
import { stillHealthy } from './hostile.js'

// X-Request-Id: a client's id is kept only when it is a short, safe token (at most 64 of
// [A-Za-z0-9._-]); anything else is replaced by a generated one, in the answer and in the log.

const lines: string[] = []
const app = await build(t, { logger: { ...loggerOptions('info'), stream: { write: (line: string) => { lines.push(line) } } } })
const user = await signUp(app)
const reqIds = (): string[] => lines.map(line => (JSON.parse(line) as { reqId?: string }).reqId ?? '')

t.test('a short safe id is echoed and names the request\'s log lines', async t => {
  for (const id of ['abc.DEF_123-x', 'a'.repeat(64), '7d0c5a4e-2f1b-4c55-9f0e-8a6b3c2d1e0f']) {
    const res = await app.inject({ url: '/health', headers: { 'x-request-id': id } })
    t.equal(res.statusCode, 200)
    t.equal(res.headers['x-request-id'], id, `${id.slice(0, 20)}: echoed`)
    t.ok(reqIds().filter(reqId => reqId === id).length >= 2, `${id.slice(0, 20)}: the request and response lines carry it`)
  }
})

t.test('an 8,000-character id is neither echoed nor logged', async t => {
  const long = 'x'.repeat(8000)
  const res = await app.inject({ url: '/health', headers: { 'x-request-id': long } })
  t.equal(res.statusCode, 200)
  const id = res.headers['x-request-id'] as string
  t.not(id, long, 'not echoed')
  t.match(id, /^[A-Za-z0-9._-]{1,64}$/, 'a generated id instead')
  t.ok(reqIds().filter(reqId => reqId === id).length >= 2, 'the generated id names the log lines')
  t.notOk(lines.join('').includes('x'.repeat(100)), 'the long id is nowhere in the log')
})

t.test('ids that are too long, hold other characters or come twice are replaced', async t => {
  const refused = ['a'.repeat(65), 'has space', 'slash/inside', 'quote"', 'ünïcode', '<script>', '', 'semi;colon']
  for (const id of refused) {
    const res = await app.inject({ url: '/health', headers: { 'x-request-id': id } })
    const answered = res.headers['x-request-id'] as string
    t.not(answered, id, `${JSON.stringify(id.slice(0, 20))}: replaced`)
    t.match(answered, /^[A-Za-z0-9._-]{1,64}$/, `${JSON.stringify(id.slice(0, 20))}: by a safe id`)
  }
  const twice = await app.inject({ url: '/health', headers: { 'x-request-id': ['first', 'second'] } })
  t.notMatch(twice.headers['x-request-id'], /first|second/, 'two X-Request-Id headers: neither is taken')
  const generated = await Promise.all([1, 2, 3].map(async () => (await app.inject({ url: '/health' })).headers['x-request-id']))
  t.equal(new Set(generated).size, 3, 'generated ids differ')
})

stillHealthy(t, app, user)
