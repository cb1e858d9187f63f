import WebSocket from 'ws'
import { percentile } from './load.js'
import { sleep } from './proc.js'

/** Opens one socket; resolves when it is open, rejects on an error, a refusal or after `timeoutMs`. */
export async function openSocket (url: string, timeoutMs = 10_000): Promise<WebSocket> {
  return await new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: timeoutMs })
    socket.once('open', () => {
      socket.removeAllListeners('error')
      // An error after opening (the server went away) must not crash the bench.
      socket.on('error', () => {})
      resolve(socket)
    })
    socket.once('unexpected-response', (_req, res) => {
      socket.terminate()
      reject(new Error(`upgrade refused with HTTP ${res.statusCode}`))
    })
    socket.once('error', reject)
  })
}

/**
 * Opens `urls.length` sockets, `concurrency` at a time, socket i for url i; stops at the first
 * failure or after `timeoutMs` in all.
 */
export async function openFleet (urls: string[], concurrency: number, timeoutMs: number): Promise<WebSocket[]> {
  const sockets: WebSocket[] = []
  const deadline = Date.now() + timeoutMs
  let next = 0
  let failure: Error | undefined
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < urls.length) {
      if (Date.now() > deadline) {
        failure = new Error(`opened only ${sockets.filter(Boolean).length} of ${urls.length} sockets in ${timeoutMs} ms`)
        return
      }
      const index = next++
      try {
        sockets[index] = await openSocket(urls[index]!)
      } catch (err) {
        failure = err as Error
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  if (failure !== undefined) {
    closeFleet(sockets)
    throw failure
  }
  return sockets
}

export function closeFleet (sockets: Array<WebSocket | undefined>): void {
  for (const socket of sockets) socket?.terminate()
}

export interface FanoutResult {
  /** send -> last delivery, ms, one message at a time */
  p50: number
  p99: number
  /** deliveries per second with `window` messages in flight */
  deliveriesPerSecond: number
  /** messages that did not reach every socket in time */
  lost: number
  /** `error` frames received */
  errors: number
}

export interface FanoutOptions {
  sockets: WebSocket[]
  /** The frame the sender sends for message number `seq` (its content must contain MARK + seq + '#'). */
  frame: (seq: number) => string
  latencyMessages: number
  throughputMessages: number
  window: number
  /** Give up on a message after this long. */
  messageTimeoutMs: number
}

export const MARK = 'bench#'

/**
 * sockets[0] sends; every socket (the sender too) must receive each message. Phase one sends
 * one message at a time and times send -> last delivery; phase two keeps `window` in flight and
 * counts deliveries per second.
 */
export async function measureFanout (options: FanoutOptions): Promise<FanoutResult> {
  const { sockets } = options
  const total = sockets.length
  const counts = new Map<number, number>()
  const waiting = new Map<number, () => void>()
  let errors = 0
  const marker = Buffer.from(MARK)
  const onMessage = (data: WebSocket.RawData): void => {
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data)
    const at = buf.indexOf(marker)
    if (at < 0) {
      if (buf.includes('"error"')) errors++
      return
    }
    const end = buf.indexOf(35, at + marker.length) // '#'
    const seq = Number(buf.toString('latin1', at + marker.length, end))
    const count = (counts.get(seq) ?? 0) + 1
    counts.set(seq, count)
    if (count === total) waiting.get(seq)?.()
  }
  for (const socket of sockets) socket.on('message', onMessage)

  let seq = 0
  const tally = { lost: 0 }
  const sender = sockets[0]!
  const waitFor = async (id: number): Promise<number> => {
    const started = performance.now()
    let timer: NodeJS.Timeout | undefined
    const done = await Promise.race([
      new Promise<boolean>(resolve => { waiting.set(id, () => resolve(true)) }),
      new Promise<boolean>(resolve => { timer = setTimeout(() => resolve(false), options.messageTimeoutMs) })
    ])
    clearTimeout(timer)
    waiting.delete(id)
    counts.delete(id)
    if (!done) tally.lost++
    return done ? performance.now() - started : NaN
  }
  const send = async (): Promise<number> => {
    const id = ++seq
    const result = waitFor(id)
    sender.send(options.frame(id))
    return await result
  }

  try {
    const latencies: number[] = []
    for (let i = 0; i < options.latencyMessages && tally.lost < 3; i++) {
      const ms = await send()
      if (!Number.isNaN(ms)) latencies.push(ms)
      await sleep(5)
    }

    let delivered = 0
    const started = performance.now()
    let sent = 0
    const lane = async (): Promise<void> => {
      while (sent < options.throughputMessages && tally.lost < 3) {
        sent++
        const ms = await send()
        if (!Number.isNaN(ms)) delivered += total
      }
    }
    await Promise.all(Array.from({ length: options.window }, lane))
    const seconds = (performance.now() - started) / 1000
    return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), deliveriesPerSecond: delivered / seconds, lost: tally.lost, errors }
  } finally {
    for (const socket of sockets) socket.off('message', onMessage)
  }
}
