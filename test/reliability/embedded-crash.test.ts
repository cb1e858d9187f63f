// The embedded engine killed with -9 in the middle of writes: restarted on the same DATA_DIR, the
// server starts, and every message it acknowledged (201) is there.
import { join } from 'node:path'
import t from 'tap'
import { freePort } from '../helper.js'
import { exitWithin, type Server, start, tempDir, untilHealthy } from '../server-process.js'

// Two start-ups on the embedded engine (the first one creates the data directory).
t.setTimeout(180_000)

const JWT_SECRET = 'test-secret-that-is-at-least-32-characters-long'

async function call (server: Server, method: string, path: string, body?: unknown, token?: string): Promise<{ status: number, body: any }> {
  const res = await fetch(`http://127.0.0.1:${server.port}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000)
  })
  return { status: res.status, body: await res.json() }
}

t.test('kill -9 during writes on the embedded engine loses no acknowledged message', async t => {
  const dataDir = join(tempDir(t, 'chat-crash-'), 'data')
  const env = { DATA_DIR: dataDir, JWT_SECRET, RATE_LIMIT_ENABLED: 'false', LOG_LEVEL: 'warn' }
  const first = start(t, { ...env, PORT: String(await freePort()) })
  await untilHealthy(first, 60_000)

  const email = `crash.${process.pid}@example.com`
  const password = 'correct horse battery staple'
  t.equal((await call(first, 'POST', '/api/v1/users/register', { email, password, username: 'crash' })).status, 201)
  const { token } = (await call(first, 'POST', '/api/v1/users/login', { email, password })).body as { token: string }
  const roomId = (await call(first, 'POST', '/api/v1/rooms', { name: 'crash' }, token)).body.id as number

  // Four clients sending one message after another until the process is gone.
  const acknowledged = new Map<number, string>()
  let n = 0
  const client = async (): Promise<void> => {
    for (;;) {
      const content = `write ${++n}`
      try {
        const res = await call(first, 'POST', '/api/v1/messages', { room_id: roomId, content }, token)
        if (res.status === 201) acknowledged.set(res.body.id, content)
      } catch {
        return // the connection died with the process
      }
    }
  }
  const clients = Array.from({ length: 4 }, client)
  while (acknowledged.size < 50) await new Promise(resolve => setTimeout(resolve, 10))
  first.child.kill('SIGKILL')
  t.equal(await exitWithin(first, 10_000), 'SIGKILL', 'killed mid-write')
  await Promise.all(clients)
  t.comment(`${acknowledged.size} messages acknowledged before the kill, ${n} sends attempted`)

  const second = start(t, { ...env, PORT: String(await freePort()) })
  const seconds = await untilHealthy(second, 60_000)
  t.pass(`restarted on the same DATA_DIR and healthy in ${seconds.toFixed(1)} s`)

  // The whole history, a page at a time (offset counts back from the newest; nothing is written now).
  const stored = new Map<number, string>()
  for (let offset = 0; ; offset += 100) {
    const page = await call(second, 'GET', `/api/v1/rooms/${roomId}/messages?limit=100&offset=${offset}`, undefined, token)
    t.equal(page.status, 200)
    const messages = page.body as Array<{ id: number, content: string }>
    for (const m of messages) stored.set(m.id, m.content)
    if (messages.length < 100) break
  }
  const missing = [...acknowledged].filter(([id, content]) => stored.get(id) !== content)
  t.same(missing, [], `every acknowledged message (${acknowledged.size}) is there after the restart`)
  t.ok(stored.size - acknowledged.size <= 4, `at most the 4 unanswered sends were stored besides (${stored.size - acknowledged.size})`)

  // It keeps working: a new message after the restart.
  t.equal((await call(second, 'POST', '/api/v1/messages', { room_id: roomId, content: 'after the crash' }, token)).status, 201)
})
