import { Agent, request } from 'node:http'
import autocannon from 'autocannon'
import { sleep } from './proc.js'

export interface LoadResult {
  /** 2xx responses per second over the run. */
  rps: number
  /** Latency in ms. */
  mean: number
  p50: number
  p99: number
  ok: number
  /** Non-2xx responses plus connection errors and timeouts. */
  failed: number
  seconds: number
}

export interface LoadOptions {
  url: string
  connections: number
  seconds: number
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: string
  /** Several bodies, handed out in turn (each request takes the next one, whatever its connection): overrides `body`. */
  bodies?: string[]
}

/** One autocannon run. */
export async function load (options: LoadOptions): Promise<LoadResult> {
  const bodies = options.bodies
  let next = 0
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    autocannon({
      url: options.url,
      connections: options.connections,
      duration: options.seconds,
      method: options.method ?? 'GET',
      headers: options.body === undefined && bodies === undefined ? options.headers : { 'content-type': 'application/json', ...options.headers },
      body: options.body,
      ...(bodies === undefined ? {} : { requests: [{ setupRequest: (request: autocannon.Request) => ({ ...request, body: bodies[next++ % bodies.length] }) }] }),
      timeout: 10
    }, (err, res) => { if (err !== null && err !== undefined) reject(err); else resolve(res) })
  })
  const ok = result['2xx']
  return {
    rps: ok / result.duration,
    mean: result.latency.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    ok,
    failed: result.non2xx + result.errors + result.timeouts,
    seconds: result.duration
  }
}

/** A short run whose figures are thrown away (JIT, pools, caches). */
export async function warmUp (options: LoadOptions, seconds: number): Promise<void> {
  await load({ ...options, seconds })
}

/** The better of several runs (by req/s): on a noisy machine the best run is the least disturbed. */
export function best (results: LoadResult[]): LoadResult {
  return results.reduce((a, b) => (b.rps > a.rps ? b : a))
}

export function percentile (values: number[], p: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

export function median (values: number[]): number {
  return percentile(values, 50)
}

/**
 * Sends one GET every `intervalMs` (one at a time, on a kept-alive connection) until `stop()`
 * is called or `maxSeconds` pass; returns each latency in ms.
 */
export function probe (url: string, intervalMs: number, maxSeconds: number): { stop: () => Promise<{ latencies: number[], failed: number }> } {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  const latencies: number[] = []
  let failed = 0
  const state = { stopped: false }
  const deadline = Date.now() + maxSeconds * 1000
  const once = async (): Promise<void> => {
    const started = performance.now()
    await new Promise<void>(resolve => {
      const req = request(url, { agent, timeout: 5000 }, res => {
        res.resume()
        res.on('end', () => {
          if (res.statusCode === 200) latencies.push(performance.now() - started)
          else failed++
          resolve()
        })
      })
      req.on('timeout', () => req.destroy(new Error('timeout')))
      req.on('error', () => { failed++; resolve() })
      req.end()
    })
  }
  const loop = (async () => {
    while (!state.stopped && Date.now() < deadline) {
      const started = Date.now()
      await once()
      await sleep(Math.max(0, intervalMs - (Date.now() - started)))
    }
  })()
  return {
    stop: async () => {
      state.stopped = true
      await loop
      agent.destroy()
      return { latencies, failed }
    }
  }
}

export interface PacedResult {
  /** ms from each request's scheduled start to the end of its 200 answer (open loop: a slow answer does not delay the next request). */
  latencies: number[]
  /** Requests scheduled. */
  sent: number
  /** Non-200 answers, errors and timeouts. */
  failed: number
  /** Status codes other than 200, with their counts. */
  statuses: Record<string, number>
  /** Per request in the order they were due: [ms from the start to when it was due, latency in ms (null: failed)]. */
  timeline: Array<[number, number | null]>
}

/**
 * Open-loop load at a fixed rate: one GET every `1000 / perSecond` ms for `seconds`, whatever the
 * answers take (up to `maxInFlight` kept-alive connections; past that a request waits for one,
 * and that wait counts in its latency). Latency is measured from when the request was due, so a
 * stalled server is not hidden by the client slowing down with it (coordinated omission).
 */
export async function paced (url: string, options: { perSecond: number, seconds: number, headers?: Record<string, string>, maxInFlight?: number, timeoutMs?: number }): Promise<PacedResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.maxInFlight ?? 16 })
  const intervalMs = 1000 / options.perSecond
  const total = Math.max(1, Math.round(options.seconds * options.perSecond))
  const result: PacedResult = { latencies: [], sent: 0, failed: 0, statuses: {}, timeline: [] }
  const once = async (due: number): Promise<void> => {
    const entry: [number, number | null] = [Math.round(due - started), null]
    result.timeline.push(entry)
    await new Promise<void>(resolve => {
      const req = request(url, { agent, headers: options.headers, timeout: options.timeoutMs ?? 10_000 }, res => {
        res.resume()
        res.on('end', () => {
          if (res.statusCode === 200) {
            result.latencies.push(performance.now() - due)
            entry[1] = Math.round((performance.now() - due) * 10) / 10
          } else {
            result.failed++
            result.statuses[String(res.statusCode)] = (result.statuses[String(res.statusCode)] ?? 0) + 1
          }
          resolve()
        })
      })
      req.on('timeout', () => req.destroy(new Error('timeout')))
      req.on('error', err => {
        result.failed++
        result.statuses[err.message] = (result.statuses[err.message] ?? 0) + 1
        resolve()
      })
      req.end()
    })
  }
  const started = performance.now()
  const inFlight: Array<Promise<void>> = []
  try {
    for (let i = 0; i < total; i++) {
      const due = started + i * intervalMs
      const wait = due - performance.now()
      if (wait > 0) await sleep(wait)
      result.sent++
      inFlight.push(once(due))
    }
    await Promise.all(inFlight)
  } finally {
    agent.destroy()
  }
  return result
}
