// What the server writes to stdout, as a real process: JSON lines when stdout is not a terminal
// (a pipe here), in development as in production; pino-pretty when it is one (a pseudo-terminal
// from util-linux's `script`, an Essential Debian package), with the same redaction.
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { freePort, freshDatabase, postgresReachable } from './helper.js'
import { childEnv, logLines, start, tempDir, untilHealthy } from './server-process.js'
import { PATIENCE_MS } from './ws-client.js'

t.setTimeout(180_000)

const root = fileURLToPath(new URL('..', import.meta.url))
const SECRET = 'query-token-that-must-not-be-logged'
/** The escape that starts a terminal colour (ANSI SGR; pino-pretty colours when the environment allows), and every such sequence. */
const ESC = String.fromCharCode(0x1b)
const COLOURS = new RegExp(`${ESC}\\[[0-9;]*m`, 'g')

/** A database for one child: a fresh one on the test server, or the embedded engine where there is none. */
async function databaseEnv (t: Test): Promise<Record<string, string>> {
  return await postgresReachable() ? { DATABASE_URL: await freshDatabase(t) } : { DATA_DIR: tempDir(t, 'chat-logs-') }
}

for (const environment of ['development', 'production'] as const) {
  t.test(`${environment}, stdout a pipe: every line is one JSON object`, async t => {
    const env = { PORT: String(await freePort()), ENVIRONMENT: environment, LOG_LEVEL: 'info', JWT_SECRET: 'x'.repeat(32), ...await databaseEnv(t) }
    const server = start(t, env)
    await untilHealthy(server)
    await fetch(`http://127.0.0.1:${server.port}/health/live?token=${SECRET}`)
    const lines = server.stdout().split('\n').filter(line => line.trim() !== '')
    t.ok(lines.length >= 3, `${lines.length} lines`)
    const notJson = lines.filter(line => { try { JSON.parse(line); return false } catch { return true } })
    t.same(notJson, [], 'no line that is not JSON')
    const entries = logLines(server)
    t.ok(entries.some(e => e.msg === 'chat app ready'), 'the ready line')
    t.ok(entries.every(e => typeof e.level === 'number' && typeof e.time === 'number'), 'pino\'s level and time on every line')
    t.notOk(server.stdout().includes(SECRET), 'the query token is redacted')
    t.notOk(server.stdout().includes(ESC), 'no terminal colours')
  })
}

t.test('development, stdout a terminal: pino-pretty, still redacted', async t => {
  const port = await freePort()
  const env = childEnv({ PORT: String(port), ENVIRONMENT: 'development', LOG_LEVEL: 'info', JWT_SECRET: 'x'.repeat(32), ...await databaseEnv(t) })
  // `script` runs the server on a pseudo-terminal and copies what it writes to our pipe.
  const child: ChildProcess = spawn('script', ['-qfec', `${process.execPath} --import tsx src/server.ts`, '/dev/null'], { cwd: root, env, stdio: ['pipe', 'pipe', 'pipe'] })
  let output = ''
  child.stdout?.setEncoding('utf8').on('data', chunk => { output += chunk })
  child.stderr?.setEncoding('utf8').on('data', chunk => { output += chunk })
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit')
      child.kill('SIGTERM') // script ends the server it runs
      await exited
    }
  })
  const started = Date.now()
  while (!output.includes('chat app ready') || !output.includes('/health/live?token=')) {
    if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${output}`)
    if (Date.now() - started > PATIENCE_MS * 3) throw new Error(`no ready line and request line: ${output.slice(-2000)}`)
    await fetch(`http://127.0.0.1:${port}/health/live?token=${SECRET}`).catch(() => undefined)
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  const plain = output.replace(COLOURS, '')
  t.match(plain, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: chat app ready/m, 'a pretty line: time, level, message')
  t.notOk(plain.split('\n').some(line => line.trim().startsWith('{"level"')), 'no JSON line')
  t.notOk(output.includes(SECRET), 'the query token is redacted')
  t.match(plain, /token=\[redacted\]/, 'as [redacted]')
})
