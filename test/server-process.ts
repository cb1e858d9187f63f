// The server as a real process, started as `npm start` starts it (`node scripts/start.mjs`: the
// compiled server, dist/bundle/server.js, once dist/ is known to be built from these sources), without npm in
// front so that signals and exit codes are the server's: for the tests that need signals, exit
// codes or a crash. Start it, wait until it is healthy, stop it.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'

const root = fileURLToPath(new URL('..', import.meta.url))

/**
 * Inherited variables that would point the child at another database, port or Redis, or change its
 * configuration; and tap's own (NODE_OPTIONS would load its coverage hooks into the child): the
 * child is a plain `npm start`.
 */
const INHERITED = /^(DATABASE_URL|DB_[A-Z_]+|PORT|APP_PORT|HOST|REDIS_URL|DATA_DIR|JWT_[A-Z_]+|ENVIRONMENT|NODE_ENV|LOG_LEVEL|CORS_ORIGINS|BCRYPT_COST|RATE_LIMIT_[A-Z_]+|OVERLOAD_[A-Z_]+|TLS_[A-Z_]+|TRUST_PROXY|AUTH_CACHE_SECONDS|METRICS_TOKEN|NODE_OPTIONS|TAP|TAP_[A-Z_]+|_TAPJS_[A-Z_]+_)$/

export function childEnv (env: Record<string, string>): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) if (!INHERITED.test(name)) clean[name] = value
  // Fast bcrypt; no load shedding (a busy test machine stalls the event loop at start-up) unless a test sets it.
  return { ...clean, BCRYPT_COST: '10', OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0', ...env }
}

export function tempDir (t: Test, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

export interface Server {
  child: ChildProcess
  port: number
  stdout: () => string
  stderr: () => string
  /** Resolves with the exit code (or the signal's name) once the process has ended. */
  exited: Promise<number | string>
}

export interface StartOptions {
  /** The directory to start in (default: this repository). */
  cwd?: string
  /** What node runs (default `scripts/start.mjs`, the `npm start` script). */
  args?: string[]
}

/** Starts the server as `npm start` does (or node with `args`); SIGKILLed at teardown if still running. */
export function start (t: Test, env: Record<string, string>, { cwd = root, args = ['scripts/start.mjs'] }: StartOptions = {}): Server {
  const child = spawn(process.execPath, args, { cwd, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout?.setEncoding('utf8').on('data', chunk => { stdout += chunk })
  child.stderr?.setEncoding('utf8').on('data', chunk => { stderr += chunk })
  const exited = new Promise<number | string>(resolve => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  })
  return { child, port: Number(env.PORT), stdout: () => stdout, stderr: () => stderr, exited }
}

/** Polls /health until it answers 200; returns the seconds it took, or throws with the child's output. */
export async function untilHealthy (server: Server, boundMs = 30_000): Promise<number> {
  const started = Date.now()
  while (Date.now() - started < boundMs) {
    const exitedWith = server.child.exitCode ?? server.child.signalCode
    if (exitedWith !== null) throw new Error(`server exited (${exitedWith}) before it was healthy:\n${server.stderr()}\n${server.stdout().slice(-2000)}`)
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/health`, { signal: AbortSignal.timeout(2000) })
      if (res.status === 200) return (Date.now() - started) / 1000
    } catch {
      // not listening yet
    }
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error(`/health did not answer 200 within ${boundMs} ms:\n${server.stderr()}\n${server.stdout().slice(-2000)}`)
}

/** Resolves with the exit code (or signal), or 'still running' after `boundMs`. */
export async function exitWithin (server: Server, boundMs: number): Promise<number | string> {
  let timer: NodeJS.Timeout | undefined
  const code = await Promise.race([server.exited, new Promise<string>(resolve => { timer = setTimeout(() => resolve('still running'), boundMs) })])
  clearTimeout(timer)
  return code
}

/** Sends SIGTERM and waits at most `boundMs` for the exit; returns the exit code (or signal) and the seconds. */
export async function terminate (server: Server, boundMs = 10_000): Promise<{ code: number | string, seconds: number }> {
  const started = Date.now()
  server.child.kill('SIGTERM')
  const code = await exitWithin(server, boundMs)
  return { code, seconds: (Date.now() - started) / 1000 }
}

/** Every JSON log line the child wrote to stdout. */
export function logLines (server: Server): Array<{ level?: number, msg?: string, [key: string]: unknown }> {
  const lines = []
  for (const line of server.stdout().split('\n')) {
    try {
      lines.push(JSON.parse(line))
    } catch {
      // not a JSON log line
    }
  }
  return lines
}
