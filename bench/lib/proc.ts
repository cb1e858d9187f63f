import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository root. */
export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** A process this bench started (in its own process group, so stopping it stops anything it started too). */
export interface Child {
  name: string
  proc: ChildProcess
  pid: number
  /** The last lines it printed, for error messages. */
  output: string[]
  exited: Promise<number | null>
  exitCode: number | null | undefined
}

const running = new Set<Child>()

/**
 * Starts `node --import tsx <script>` from the repository root with the given environment (the
 * baselines; one process: the tsx CLI would add a parent process). `nodeArgs` go before the script.
 */
export function startTs (name: string, script: string, env: NodeJS.ProcessEnv, nodeArgs: string[] = []): Child {
  return startProcess(name, process.execPath, [...nodeArgs, '--import', 'tsx', script], env)
}

/**
 * Starts the chat server as `npm start` does, without npm in front: `node scripts/start.mjs`, which
 * runs the compiled server (dist/bundle/server.js) in the same process (so `pid` is the server's).
 * `nodeArgs` go before the script (e.g. `--cpu-prof`); `checkout`: another copy of the repository
 * to run the server of (bench/ab.ts), this one by default.
 */
export function startServer (name: string, env: NodeJS.ProcessEnv, nodeArgs: string[] = [], checkout = root): Child {
  return startProcess(name, process.execPath, [...nodeArgs, 'scripts/start.mjs'], env, checkout)
}

/**
 * Builds dist/ (of this checkout, or of `checkout`) when it is missing or stale, before anything
 * is timed: otherwise the first server started would spend its start-up in tsc.
 */
export function buildIfStale (checkout = root): void {
  const { status } = spawnSync(process.execPath, ['scripts/build.mjs', '--if-stale'], { cwd: checkout, stdio: ['ignore', 2, 2] })
  if (status !== 0) throw new Error('node scripts/build.mjs --if-stale failed')
}

/** Starts a program from the repository root, in its own process group, keeping its last lines of output. */
export function startProcess (name: string, command: string, args: string[], env: NodeJS.ProcessEnv = process.env, cwd = root): Child {
  const proc = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  // A missing program is reported by the check below; the event must not crash the bench.
  proc.on('error', () => {})
  if (proc.pid === undefined) throw new Error(`could not start ${name} (${command})`)
  const output: string[] = []
  const keep = (chunk: Buffer): void => {
    output.push(...chunk.toString('utf8').split('\n').filter(Boolean))
    if (output.length > 50) output.splice(0, output.length - 50)
  }
  proc.stdout?.on('data', keep)
  proc.stderr?.on('data', keep)
  const child: Child = {
    name,
    proc,
    pid: proc.pid,
    output,
    exitCode: undefined,
    exited: new Promise(resolve => proc.once('exit', code => {
      child.exitCode = code
      running.delete(child)
      resolve(code)
    }))
  }
  running.add(child)
  return child
}

function signalGroup (child: Child, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid, signal)
  } catch {
    // Already gone.
  }
}

/** SIGTERM to the child's process group; SIGKILL when it has not exited within `graceMs`. */
export async function stop (child: Child, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== undefined) return
  signalGroup(child, 'SIGTERM')
  let timer: NodeJS.Timeout | undefined
  const timedOut = await Promise.race([
    child.exited.then(() => false),
    new Promise<boolean>(resolve => { timer = setTimeout(() => resolve(true), graceMs) })
  ])
  clearTimeout(timer)
  if (timedOut) {
    signalGroup(child, 'SIGKILL')
    await child.exited
  }
}

/** Stops every child still running (in parallel). */
export async function stopAll (): Promise<void> {
  await Promise.all([...running].map(async child => { await stop(child, 5000) }))
}

/** Last resort at process exit: SIGKILL every child group still running. */
export function killAllNow (): void {
  for (const child of running) signalGroup(child, 'SIGKILL')
}

export { freePort } from '../../scripts/free-port.js'

export const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** Waits until the child printed a line containing `text`; rejects when it exits first or `timeoutMs` passes. */
export async function waitOutput (child: Child, text: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!child.output.some(line => line.includes(text))) {
    if (child.exitCode !== undefined) throw new Error(`${child.name} exited (${child.exitCode}):\n  ${child.output.slice(-15).join('\n  ')}`)
    if (Date.now() > deadline) throw new Error(`${child.name} did not print "${text}" within ${timeoutMs} ms:\n  ${child.output.slice(-15).join('\n  ')}`)
    await sleep(25)
  }
}

/**
 * Polls `url` until it answers 200; rejects when the child exits first or `timeoutMs` passes.
 * Returns the milliseconds from `since` to the first 200.
 */
export async function waitHealthy (child: Child, url: string, timeoutMs: number, since = Date.now()): Promise<number> {
  const deadline = since + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== undefined) {
      throw new Error(`${child.name} exited (${child.exitCode}) before ${url} answered:\n  ${child.output.slice(-15).join('\n  ')}`)
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) })
      await response.arrayBuffer()
      if (response.status === 200) return Date.now() - since
    } catch {
      // Not listening yet.
    }
    await sleep(25)
  }
  throw new Error(`${child.name}: ${url} did not answer 200 within ${timeoutMs} ms:\n  ${child.output.slice(-15).join('\n  ')}`)
}

/** Resident set size of a process, in KiB (/proc/PID/status VmRSS). */
export function rssKiB (pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
  if (match?.[1] === undefined) throw new Error(`no VmRSS for process ${pid}`)
  return Number(match[1])
}

/** CPU seconds (user + system) a process has used so far, from /proc/PID/stat; threads included. */
export function cpuSeconds (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}
