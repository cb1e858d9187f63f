import { type ChildProcess, spawn } from 'node:child_process'
import { createHmac } from 'node:crypto'
import { once } from 'node:events'
import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import WebSocket, { type ClientOptions } from 'ws'
import { checkServerFrame } from './asyncapi-validator.js'
import { buildApp, type BuildOptions } from '../src/app.js'
import { freePort, freshMigratedDatabase, testConfig } from './helper.js'

/** How long any wait may take before the test fails with a description instead of hanging (never an assertion about speed). */
export const PATIENCE_MS = 20_000

export interface Frame { type: string, payload: any }

/** Listens on a free port; returns the `ws://` URL of `/ws`. */
export async function listen (app: FastifyInstance): Promise<string> {
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  return `${address.replace(/^http/, 'ws')}/ws`
}

/**
 * A real `ws` client that records every frame it receives, so a test can wait for the next frame
 * that matches, in arrival order, without racing the server. Every frame is also checked against
 * asyncapi.yaml; a frame the document does not describe fails the test that opened the socket.
 */
export class TestSocket {
  readonly received: Frame[] = []
  private readonly unread: Frame[] = []
  private waiters: Array<{ match: (f: Frame) => boolean, resolve: (f: Frame) => void }> = []
  /** Frames that do not match asyncapi.yaml, described; thrown at the test's teardown. */
  private readonly violations: string[] = []
  readonly closed: Promise<{ code: number, reason: string }>
  /** Pings received, counted from the start (a ping can come in the same read as the upgrade's answer, before `open` has resolved). */
  pings = 0

  private constructor (readonly ws: WebSocket) {
    ws.on('ping', () => { this.pings++ })
    ws.on('message', data => {
      const text = String(data)
      const problem = checkServerFrame(text)
      if (problem !== undefined) this.violations.push(problem)
      const frame = JSON.parse(text) as Frame
      this.received.push(frame)
      const i = this.waiters.findIndex(w => w.match(frame))
      if (i >= 0) {
        const [waiter] = this.waiters.splice(i, 1)
        waiter!.resolve(frame)
      } else {
        this.unread.push(frame)
      }
    })
    this.closed = new Promise(resolve => ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })))
  }

  /** Opens a socket and waits until it is open; the test closes it at teardown. */
  static async open (t: Test, url: string, options: { token?: string, protocols?: string[], ws?: ClientOptions } = {}): Promise<TestSocket> {
    const target = options.token === undefined ? url : `${url}?token=${encodeURIComponent(options.token)}`
    const ws = new WebSocket(target, options.protocols, options.ws)
    const socket = new TestSocket(ws)
    t.teardown(() => {
      ws.terminate()
      if (socket.violations.length > 0) throw new Error(`frames that do not match asyncapi.yaml:\n${socket.violations.join('\n')}`)
    })
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve)
      ws.once('error', reject)
    })
    return socket
  }

  /** Opens a socket for the user (token in `?token=`). */
  static async as (t: Test, url: string, user: { token: string }): Promise<TestSocket> {
    return await TestSocket.open(t, url, { token: user.token })
  }

  send (frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
  }

  /** The next unread frame that matches (default: any), waiting for it if need be. */
  async next (match: (f: Frame) => boolean = () => true, what = 'a frame', patience = PATIENCE_MS): Promise<Frame> {
    const i = this.unread.findIndex(match)
    if (i >= 0) return this.unread.splice(i, 1)[0]!
    return await new Promise((resolve, reject) => {
      const waiter = { match, resolve: (f: Frame) => { clearTimeout(timer); resolve(f) } }
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter(w => w !== waiter)
        reject(new Error(`gave up waiting for ${what}; received: ${JSON.stringify(this.received).slice(-600)}`))
      }, patience)
      this.waiters.push(waiter)
    })
  }

  /** The next `message:new` whose content is `content`. */
  async message (content: string, patience = PATIENCE_MS): Promise<Frame> {
    return await this.next(f => f.type === 'message:new' && f.payload.content === content, `message:new "${content.slice(0, 40)}"`, patience)
  }

  async error (): Promise<Frame> {
    return await this.next(f => f.type === 'error', 'an error frame')
  }

  /** Every frame received so far that matches. */
  all (match: (f: Frame) => boolean): Frame[] {
    return this.received.filter(match)
  }
}

/** What the server answered instead of upgrading: its status and body. */
export async function refusedUpgrade (url: string, options: { headers?: Record<string, string>, protocols?: string[] } = {}): Promise<{ status: number, body: string }> {
  const ws = new WebSocket(url, options.protocols, { headers: options.headers })
  return await new Promise((resolve, reject) => {
    ws.once('open', () => { ws.terminate(); reject(new Error('the upgrade was accepted')) })
    ws.once('unexpected-response', (_req, res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', chunk => { body += chunk })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }) })
    })
    ws.once('error', reject)
  })
}

/**
 * A private redis-server for one test (never the shared one on 6379): no persistence, killed at
 * teardown. `restart()` kills it and starts a new one on the same port.
 */
export class PrivateRedis {
  private process: ChildProcess | undefined

  private constructor (readonly port: number) {}

  get url (): string { return `redis://127.0.0.1:${this.port}` }

  static async start (t: Test): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort())
    t.teardown(async () => { await redis.stop() })
    await redis.spawn()
    return redis
  }

  private async spawn (): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] })
    this.process = child
    await new Promise<void>((resolve, reject) => {
      let output = ''
      const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${output}`)), PATIENCE_MS)
      child.stdout!.on('data', (chunk: Buffer) => {
        output += String(chunk)
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer)
          resolve()
        }
      })
      child.once('exit', code => { clearTimeout(timer); reject(new Error(`redis-server exited with ${String(code)}: ${output}`)) })
    })
  }

  async stop (): Promise<void> {
    const child = this.process
    this.process = undefined
    if (child === undefined || child.exitCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
  }

  async restart (): Promise<void> {
    await this.stop()
    await this.spawn()
  }
}

/** A JWT made by hand (HS256 with `key`, or unsigned with `alg: none`), to present tokens the server must refuse. */
export function handMadeJwt (claims: Record<string, unknown>, key: string | undefined): string {
  const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')
  const head = `${part({ alg: key === undefined ? 'none' : 'HS256', typ: 'JWT' })}.${part(claims)}`
  return key === undefined ? `${head}.` : `${head}.${createHmac('sha256', key).update(head).digest('base64url')}`
}

/**
 * Two app instances on one fresh database, fanning out through `redisUrl`, each listening;
 * closed when `t` ends. The database is a copy of the migrated template (see `build`); each instance still checks it is up to date at start.
 */
export async function twoInstances (t: Test, redisUrl: string, options: BuildOptions = {}): Promise<{ a: FastifyInstance, b: FastifyInstance, urlA: string, urlB: string, databaseUrl: string }> {
  const databaseUrl = await freshMigratedDatabase(t)
  const start = async (): Promise<FastifyInstance> => {
    const app = buildApp(testConfig({ DATABASE_URL: databaseUrl, REDIS_URL: redisUrl }), { logger: false, ...options })
    t.teardown(async () => { await app.close() })
    await app.ready()
    return app
  }
  const a = await start()
  const b = await start()
  return { a, b, urlA: await listen(a), urlB: await listen(b), databaseUrl }
}
