/**
 * The abusive WebSocket user of bench scenario P14, run as its own process (so that receiving
 * what it provokes does not slow the bench process that times the victim):
 *
 *   ABUSE_URL=ws://127.0.0.1:PORT/ws?token=… ABUSE_ROOM=7 ABUSE_SOCKETS=60 ABUSE_SECONDS=12 \
 *     node --import tsx bench/clients/abuser.ts
 *
 * Opens ABUSE_SOCKETS sockets at once; each keeps ABUSE_WINDOW `sync {rooms: {ROOM: 0}}` frames
 * outstanding (a new one as soon as a `sync:done` or a refusal comes back) and reads everything it
 * gets (a client that stops reading is dropped by the server as a slow consumer). With
 * ABUSE_REOPEN_PER_SECOND > 0 a closed socket is opened again, at most that many openings a second
 * in all. Everything stops after ABUSE_SECONDS; it prints "ABUSER STARTED" when the sockets are
 * being opened and one line "ABUSER {json}" with what it managed (also written to ABUSE_OUT when
 * set), then exits.
 */
import { writeFileSync } from 'node:fs'
import WebSocket from 'ws'

const env = (name: string, fallback?: string): string => {
  const value = process.env[name] ?? fallback
  if (value === undefined) throw new Error(`${name} is required`)
  return value
}
const url = env('ABUSE_URL')
const roomId = Number(env('ABUSE_ROOM'))
const sockets = Number(env('ABUSE_SOCKETS', '60'))
const seconds = Number(env('ABUSE_SECONDS', '12'))
const window = Number(env('ABUSE_WINDOW', '8'))
const reopenPerSecond = Number(env('ABUSE_REOPEN_PER_SECOND', '0'))
/** Where to write the result (JSON) too. */
const out = process.env.ABUSE_OUT

export interface AbuserResult {
  /** How long it ran: ABUSE_SECONDS, or less when every socket was closed (and none reopened) before. */
  seconds: number
  /** When the last byte came, in seconds from the start. */
  lastByteAt: number
  /** Sockets whose upgrade succeeded (each opening counts, reopenings too). */
  opened: number
  /** Opened sockets the server served: it sent them at least one frame. */
  served: number
  /** Most sockets being served at the same time. */
  maxServedAtOnce: number
  /** Upgrades refused (HTTP status or error message → count). */
  refused: Record<string, number>
  framesSent: number
  syncDone: number
  /** `message:new` frames received (rows replayed). */
  rows: number
  rateLimited: number
  /** Other `error` frames, by code. */
  otherErrors: Record<string, number>
  /** Close codes seen (the server's, before the abuser's own at the end), with the reason's first words. */
  closes: Record<string, number>
  bytes: number
}

const result: AbuserResult = {
  seconds: 0, lastByteAt: 0, opened: 0, served: 0, maxServedAtOnce: 0, refused: {}, framesSent: 0, syncDone: 0, rows: 0, rateLimited: 0, otherErrors: {}, closes: {}, bytes: 0
}
const count = (map: Record<string, number>, key: string): void => { map[key] = (map[key] ?? 0) + 1 }

const frame = JSON.stringify({ type: 'sync', payload: { rooms: { [roomId]: 0 } } })
const started = performance.now()
const deadline = started + seconds * 1000
/** Every socket not closed yet (opening ones too), terminated at the deadline. */
const live = new Set<WebSocket>()
let servedNow = 0
const state = { stopping: false }

/** Openings allowed so far by ABUSE_REOPEN_PER_SECOND (the first `sockets` openings are free). */
let reopenings = 0
const reopenAllowedAt = (): number => started + (reopenings / reopenPerSecond) * 1000

function lane (): Promise<void> {
  return new Promise(resolve => {
    const socket = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 10_000 })
    live.add(socket)
    let outstanding = 0
    let served = false
    let opened = false
    let refusal: string | undefined
    const fill = (): void => {
      while (!state.stopping && outstanding < window && socket.readyState === WebSocket.OPEN) {
        outstanding++
        result.framesSent++
        socket.send(frame)
      }
    }
    socket.on('unexpected-response', (_req, res) => {
      refusal = `HTTP ${res.statusCode ?? '?'}`
      res.resume()
      socket.terminate()
    })
    socket.on('error', err => { if (!opened) refusal ??= err.message })
    socket.on('open', () => {
      opened = true
      result.opened++
      fill()
    })
    socket.on('message', (data: Buffer) => {
      result.bytes += data.length
      result.lastByteAt = (performance.now() - started) / 1000
      if (!served) {
        served = true
        result.served++
        result.maxServedAtOnce = Math.max(result.maxServedAtOnce, ++servedNow)
      }
      // Frames start with {"type":"…": the type is read without parsing the JSON.
      const head = data.toString('latin1', 0, 24)
      if (head.startsWith('{"type":"message:new"')) {
        result.rows++
      } else if (head.startsWith('{"type":"sync:done"')) {
        result.syncDone++
        outstanding--
        fill()
      } else if (head.startsWith('{"type":"error"')) {
        const text = data.toString('utf8')
        const code = /"code":"([A-Z_]+)"/.exec(text)?.[1] ?? 'none'
        if (code === 'RATE_LIMITED') result.rateLimited++
        else count(result.otherErrors, code)
        // An error naming a room is followed by that sync's sync:done; any other ends its frame.
        if (!text.includes('"room_id"')) {
          outstanding--
          fill()
        }
      }
    })
    socket.on('close', (code, reason) => {
      live.delete(socket)
      if (served) servedNow--
      if (!opened) count(result.refused, refusal ?? `closed before opening (${code})`)
      else if (!state.stopping) count(result.closes, `${code} ${reason.toString('utf8').split(' ').slice(0, 4).join(' ')}`.trim())
      resolve()
    })
  })
}

async function run (): Promise<void> {
  const timer = setTimeout(() => {
    state.stopping = true
    for (const socket of live) socket.terminate()
  }, seconds * 1000)
  const loop = async (): Promise<void> => {
    await lane()
    if (reopenPerSecond <= 0) return
    while (!state.stopping && performance.now() < deadline) {
      const wait = reopenAllowedAt() - performance.now()
      reopenings++
      if (wait > 0) await new Promise(resolve => setTimeout(resolve, Math.min(wait, deadline - performance.now())))
      if (state.stopping || performance.now() >= deadline) break
      await lane()
    }
  }
  process.stdout.write('ABUSER STARTED\n')
  await Promise.all(Array.from({ length: sockets }, loop))
  clearTimeout(timer)
  result.seconds = (performance.now() - started) / 1000
  const line = JSON.stringify(result)
  if (out !== undefined) writeFileSync(out, line + '\n')
  process.stdout.write(`ABUSER ${line}\n`)
}

// Whatever happens, this process ends by itself.
setTimeout(() => {
  process.stdout.write('ABUSER gave up: still running 20 s after its deadline\n')
  process.exit(2)
}, seconds * 1000 + 20_000).unref()
run().then(() => process.exit(0), err => {
  process.stdout.write(`ABUSER failed: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})
