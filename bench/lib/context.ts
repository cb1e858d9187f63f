import { JWT_SECRET } from './db.js'
import { type Child, freePort, startServer, startTs, stop, waitHealthy } from './proc.js'
import type { Row } from './report.js'

/** What every scenario is handed. */
export interface Context {
  quick: boolean
  /** The run's throwaway database on the local PostgreSQL. */
  databaseUrl: string
  log: (message: string) => void
  /** Scenario details kept in results.json beside the table. */
  details: Record<string, unknown>
  /**
   * A chat server on `databaseUrl` shared by the scenarios that don't need one of their own
   * (started on first use, stopped at the end of the run): fewer start-ups keep --quick short.
   */
  shared: () => Promise<ChatServer>
}

export type Scenario = (ctx: Context) => Promise<Row[]>

/** `Context.shared` for a run: the server, and a way to stop it. */
export function sharedServer (databaseUrl: string): { get: () => Promise<ChatServer>, stop: () => Promise<void> } {
  let server: Promise<ChatServer> | undefined
  return {
    get: async () => {
      server ??= startChatServer({ databaseUrl })
      const running = await server
      if (running.child.exitCode !== undefined) {
        server = undefined
        throw new Error(`the shared chat server exited (${running.child.exitCode}):\n  ${running.child.output.slice(-15).join('\n  ')}`)
      }
      return running
    },
    stop: async () => {
      const running = await server?.catch(() => undefined)
      server = undefined
      if (running !== undefined) await stop(running.child)
    }
  }
}

/** Variables that would point a server elsewhere than where the bench says. */
const CLEARED = ['DATABASE_URL', 'DB_HOST', 'DB_PORT', 'DB_NAME', 'DB_USER', 'DB_PASSWORD', 'DB_SSLMODE', 'REDIS_URL', 'APP_PORT', 'NODE_OPTIONS']

/**
 * The environment for a child: the bench's own, with every variable that could redirect it set
 * to empty (src/config.ts treats empty as unset, and `.env` does not override a variable that is set).
 */
export function childEnv (vars: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const name of CLEARED) env[name] = ''
  return { ...env, ...vars }
}

export interface ChatServer {
  child: Child
  port: number
  base: string
  /** The node process serving, for /proc readings. */
  pid: number
  /** ms from spawn to the first 200 on the health path */
  startMs: number
}

export interface ChatServerOptions {
  databaseUrl?: string
  dataDir?: string
  bcryptCost?: number
  /** GET this until it answers 200 (default /health/live). */
  healthPath?: string
  timeoutMs?: number
  /** More environment (e.g. REDIS_URL for P4). */
  env?: Record<string, string>
  /** Another copy of the repository to run the server of (bench/ab.ts); this one by default. */
  checkout?: string
}

/**
 * Extra node options for every chat server the bench starts, e.g. `BENCH_NODE_ARGS=--cpu-prof
 * --cpu-prof-dir=/tmp/prof` to see where a scenario's time goes (see README).
 */
const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)

/** `node scripts/start.mjs` (as `npm start`: the compiled server) as a separate process, rate limits off, logging at warn. */
export async function startChatServer (options: ChatServerOptions): Promise<ChatServer> {
  const port = await freePort()
  const started = Date.now()
  const child = startServer('chat server', childEnv({
    HOST: '127.0.0.1',
    PORT: String(port),
    DATABASE_URL: options.databaseUrl ?? '',
    DATA_DIR: options.dataDir ?? 'memory://',
    JWT_SECRET,
    ENVIRONMENT: 'production',
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    RATE_LIMIT_ENABLED: 'false',
    // Every bench client connects from 127.0.0.1, often as one user: the per-address and per-user
    // socket caps (not rate limits, so RATE_LIMIT_ENABLED leaves them on) would refuse P3's and P7's sockets.
    WS_MAX_SOCKETS_PER_USER: '100000',
    WS_MAX_SOCKETS_PER_ADDRESS: '1000000',
    BCRYPT_COST: String(options.bcryptCost ?? 10),
    ...options.env
  }), nodeArgs, options.checkout)
  const base = `http://127.0.0.1:${port}`
  try {
    const startMs = await waitHealthy(child, base + (options.healthPath ?? '/health/live'), options.timeoutMs ?? 60_000, started)
    return { child, port, base, pid: child.pid, startMs }
  } catch (err) {
    await stop(child)
    throw err
  }
}

export interface Baseline { child: Child, port: number, base: string }

/** One of bench/baselines/*.ts as a separate process; waits for GET / to answer 200 (or any answer with `anyStatus`). */
export async function startBaseline (file: string, vars: Record<string, string> = {}): Promise<Baseline> {
  const port = await freePort()
  const child = startTs(`baseline ${file}`, `bench/baselines/${file}`, childEnv({ PORT: String(port), ...vars }))
  const base = `http://127.0.0.1:${port}`
  try {
    await waitHealthy(child, base + '/', 30_000)
  } catch (err) {
    await stop(child)
    throw err
  }
  return { child, port, base }
}
