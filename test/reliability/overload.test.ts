// Overload: past the event-loop-delay limit, every request is shed with 503, Retry-After and
// {"error"} before any work is done; liveness still answers; once the loop is idle, requests succeed again.
import { sql } from 'kysely'
import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { build, json, signUp } from '../helper.js'

/** Keeps the CPU busy on the event loop, as a request doing too much synchronous work would. */
function busy (ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) { /* the loop is blocked */ }
}

/** Runs `attempt` until the server is not shedding (a busy test machine lags the loop too), at most ~10 s. */
async function whenServed<T> (attempt: () => Promise<T>, shed: (result: T | Error) => boolean): Promise<T> {
  for (let i = 0; ; i++) {
    const result = await attempt().catch((err: unknown) => err as Error)
    if (!shed(result) || i >= 100) {
      if (result instanceof Error) throw result
      return result
    }
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

t.test('an event loop past OVERLOAD_MAX_EVENT_LOOP_DELAY_MS sheds requests with 503, then recovers', async t => {
  const app = await build(t, { env: { OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '100' } })
  // Set-up waits out any shedding the machine's own load causes (the limit is low).
  const alice = await whenServed(async () => await signUp(app), result => result instanceof Error && / 503 /.test(result.message))
  const rooms = async () => await app.inject({ url: '/api/v1/rooms', headers: alice.auth })
  t.equal((await whenServed(rooms, result => !(result instanceof Error) && result.statusCode === 503)).statusCode, 200, 'served while the loop is idle')

  // Block the loop in 300 ms slices until the sampler (once a second) sees the delay.
  let shed = await rooms()
  for (let i = 0; i < 40 && shed.statusCode !== 503; i++) {
    busy(300)
    shed = await rooms()
  }
  t.equal(shed.statusCode, 503, 'shed with 503 while the event loop lags')
  t.match(json(shed), { error: /overloaded/, code: 'OVERLOADED' })
  t.equal(shed.headers['retry-after'], '5', 'with Retry-After')
  t.equal(shed.headers['x-content-type-options'], 'nosniff', 'with the security headers every response carries')

  // Still in the same sample: readiness says unavailable (in its own shape), liveness says alive.
  busy(300)
  const [health, live] = [await app.inject({ url: '/health' }), await app.inject({ url: '/health/live' })]
  t.equal(health.statusCode, 503, 'readiness reports the overload')
  t.match(json(health), { status: 'unavailable' })
  t.equal(live.statusCode, 200, 'liveness is exempt: the process is alive, only busy')

  // Left idle, the next sample is back under the limit.
  let after = await rooms()
  for (let i = 0; i < 100 && after.statusCode !== 200; i++) {
    await new Promise(resolve => setTimeout(resolve, 100))
    after = await rooms()
  }
  t.equal(after.statusCode, 200, 'served again once the loop is idle, without a restart')
  t.equal((await app.inject({ url: '/health' })).statusCode, 200, 'and ready again')
})

t.test('OVERLOAD_MAX_HEAP_MB below the heap in use sheds every request but liveness', async t => {
  const app = await build(t, { env: { OVERLOAD_MAX_HEAP_MB: '1' } })
  // The sampler reads memory once a second, the first time a second after start-up.
  const login = async () => await app.inject({ method: 'POST', url: '/api/v1/users/login', payload: { email: 'a@example.com', password: 'x' } })
  let response = await login()
  for (let i = 0; i < 50 && response.statusCode !== 503; i++) {
    await new Promise(resolve => setTimeout(resolve, 100))
    response = await login()
  }
  t.equal(response.statusCode, 503, 'a heap over the limit sheds the request')
  t.match(json(response), { error: String, code: 'OVERLOADED' })
  t.equal(response.headers['retry-after'], '5')
  t.equal((await app.inject({ url: '/health/live' })).statusCode, 200, 'liveness still answers')
})

t.test('the OVERLOAD_* variables: defaults, megabytes to bytes, and a bad value named', async t => {
  const base = { JWT_SECRET: 'test-secret-that-is-at-least-32-characters-long', DATA_DIR: 'memory://' }
  t.same(loadConfig(base).overload, { maxEventLoopDelayMs: 1000, maxHeapUsedBytes: 0, maxRssBytes: 0 }, 'event-loop delay on at 1 s; memory checks off')
  t.same(loadConfig({ ...base, OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0', OVERLOAD_MAX_HEAP_MB: '512', OVERLOAD_MAX_RSS_MB: '1024' }).overload,
    { maxEventLoopDelayMs: 0, maxHeapUsedBytes: 512 * 1024 * 1024, maxRssBytes: 1024 * 1024 * 1024 })
  for (const [name, value] of [['OVERLOAD_MAX_EVENT_LOOP_DELAY_MS', '1s'], ['OVERLOAD_MAX_HEAP_MB', '-1'], ['OVERLOAD_MAX_RSS_MB', 'lots']]) {
    t.throws(() => loadConfig({ ...base, [name!]: value! }), new RegExp(`^${name!} must be a whole number`), `${name}=${value} is refused, naming the variable`)
  }
})

t.test('no statement may hold a pooled connection longer than 10 s', async t => {
  const app = await build(t)
  const { rows } = await sql<{ statement_timeout: string }>`show statement_timeout`.execute(app.db)
  t.equal(rows[0]?.statement_timeout, '10s', 'every pooled connection runs with statement_timeout = 10 s')
})
