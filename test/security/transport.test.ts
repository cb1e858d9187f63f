import { readFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import t from 'tap'
import { build, selfSignedCertificate, uniqueEmail } from '../helper.js'
import { TestSocket } from '../ws-client.js'

interface Answer { status: number, headers: http.IncomingHttpHeaders, body: any }

/** One HTTPS request that trusts only `ca` (the system's CAs when undefined); resolves with the status, headers and parsed JSON body. */
async function request (ca: string | undefined, url: string, options: { method?: string, body?: unknown, token?: string } = {}): Promise<Answer> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body)
  return await new Promise((resolve, reject) => {
    const req = https.request(url, {
      method: options.method ?? 'GET',
      ca,
      headers: {
        ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
        ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` })
      }
    }, res => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', chunk => { text += chunk })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) }) })
    })
    req.once('error', reject)
    req.end(payload)
  })
}

t.test('TLS_CERT / TLS_KEY: HTTPS and WSS served directly, with HSTS', async t => {
  const files = selfSignedCertificate(t)
  const ca = readFileSync(files.cert, 'utf8')
  const app = await build(t, { env: { TLS_CERT: files.cert, TLS_KEY: files.key } })
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  t.match(base, /^https:\/\/127\.0\.0\.1:\d+$/, 'listen reports an https:// address')

  const health = await request(ca, `${base}/health`)
  t.equal(health.status, 200, '/health over HTTPS')
  t.match(health.headers['strict-transport-security'], /max-age=\d+/, 'HSTS is sent over TLS')

  const email = uniqueEmail('tls')
  const password = 'correct horse battery staple'
  const registered = await request(ca, `${base}/api/v1/users/register`, { method: 'POST', body: { email, password, username: 'tls_user' } })
  t.equal(registered.status, 201, 'register over HTTPS')
  const login = await request(ca, `${base}/api/v1/users/login`, { method: 'POST', body: { email, password } })
  t.equal(login.status, 200, 'login over HTTPS')
  const token = login.body.token as string
  const room = await request(ca, `${base}/api/v1/rooms`, { method: 'POST', body: { name: 'secure' }, token })
  t.equal(room.status, 201)

  const socket = await TestSocket.open(t, `${base.replace(/^https/, 'wss')}/ws`, { token, ws: { ca } })
  const sent = await request(ca, `${base}/api/v1/messages`, { method: 'POST', body: { room_id: room.body.id, content: 'over wss' }, token })
  t.equal(sent.status, 201)
  const frame = await socket.message('over wss')
  t.match(frame.payload, { room_id: room.body.id, content: 'over wss' }, 'message:new arrives on the wss:// socket')

  await t.rejects(request(undefined, `${base}/health`), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }, 'a client that does not trust the certificate refuses it')
  const plain = await new Promise<string>(resolve => {
    const req = http.get(base.replace(/^https/, 'http') + '/health', res => { resolve(`answered ${res.statusCode ?? 0}`) })
    req.once('error', err => resolve(`failed: ${err.message}`))
  })
  t.match(plain, /^failed: /, 'plain HTTP to the TLS port gets no answer')
})

t.test('without TLS there is no HSTS header', async t => {
  const app = await build(t)
  const res = await app.inject({ url: '/health' })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['strict-transport-security'], undefined, 'no Strict-Transport-Security over plain HTTP')
  t.ok(res.headers['x-content-type-options'], 'the other helmet headers are still sent')
})
