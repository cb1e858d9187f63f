// P14 diagnosis, preloaded into the chat server the bench starts:
//   BENCH_NODE_ARGS="--import ./bench/probes/server-timeline.mjs" npm run bench -- --only=P14
// Records, on the server's clock (performance.now), accepted connections (with the client's port and
// their first data), upgrades (arrival, 101 written), history requests (/messages: start, finish),
// every pg query and pool checkout (waiting, idle, total), ws.send calls, event-loop lag (a 2 ms timer
// late by more than 4 ms) and CPU per 50 ms; written to $PROBE_DIR/<pid>.json (default /tmp) at exit.
// Read with analyze.cjs. Never loaded by the application itself.
import dc from 'node:diagnostics_channel'
import http from 'node:http'
import { createRequire } from 'node:module'
import { writeFileSync } from 'node:fs'
const t0 = performance.timeOrigin
const hrOffsetUs = Number(process.hrtime.bigint() / 1000n) - performance.now() * 1000
const now = () => performance.now()
const ev = { lag: [], reqs: [], upgrades: [], queries: [], acquires: [], cpu: [], sends: [] }
// event-loop lag: a 2 ms timer
let last = now()
setInterval(() => { const t = now(); const lag = t - last - 2; if (lag > 4) ev.lag.push([Math.round(t), Math.round(lag)]); last = t }, 2).unref()
let cpuLast = process.cpuUsage(); let cpuT = now()
setInterval(() => { const c = process.cpuUsage(); const t = now(); ev.cpu.push([Math.round(t), Math.round(((c.user - cpuLast.user) + (c.system - cpuLast.system)) / 1000 / (t - cpuT) * 100)]); cpuLast = c; cpuT = t }, 50).unref()
dc.subscribe('http.server.request.start', ({ request, response }) => {
  if (!request.url.includes('/messages')) return
  const r = [Math.round(now() * 10) / 10, null, request.url.length]
  ev.reqs.push(r)
  response.once('finish', () => { r[1] = Math.round(now() * 10) / 10 })
})
dc.subscribe('http.server.response.finish', ({ request }) => {})
const emit = http.Server.prototype.emit
http.Server.prototype.emit = function (name, req, ...rest) {
  if (name === 'connection') {
    const r = [Math.round(now() * 10) / 10, req.remotePort, null]
    ;(ev.conns ??= []).push(r)
    req.once('data', () => { r[2] = Math.round(now() * 10) / 10 })
  }
  if (name === 'upgrade') {
    const u = [Math.round(now()), null]
    ev.upgrades.push(u)
    req.socket.once('close', () => {})
    req.once('close', () => { })
    // 101 written: the socket's first write
    const w = req.socket.write
    req.socket.write = function (...a) { if (u[1] === null) u[1] = Math.round(now()); req.socket.write = w; return w.apply(this, a) }
  }
  return emit.call(this, name, req, ...rest)
}
const require = createRequire(process.cwd() + '/package.json')
const pg = require('pg')
const q = pg.Client.prototype.query
pg.Client.prototype.query = function (config, ...rest) {
  const text = typeof config === 'string' ? config : config?.text ?? ''
  const r = [Math.round(now() * 10) / 10, null, text.slice(0, 50).replace(/\s+/g, ' ')]
  ev.queries.push(r)
  const res = q.call(this, config, ...rest)
  if (res && typeof res.then === 'function') res.then(() => { r[1] = Math.round(now() * 10) / 10 }, () => { r[1] = -1 })
  return res
}
const conn = pg.Pool.prototype.connect
pg.Pool.prototype.connect = function (...a) {
  const start = now(); const waiting = this.waitingCount; const idle = this.idleCount; const total = this.totalCount
  const r = [Math.round(start * 10) / 10, null, waiting, idle, total]
  ev.acquires.push(r)
  const p = conn.apply(this, a)
  if (p && typeof p.then === 'function') p.then(() => { r[1] = Math.round(now() * 10) / 10 }, () => {})
  return p
}
const ws = require('ws')
const send = ws.prototype.send
ws.prototype.send = function (data, ...rest) { ev.sends.push(Math.round(now())); return send.call(this, data, ...rest) }
process.on('exit', () => { writeFileSync(`${process.env.PROBE_DIR ?? '/tmp'}/${process.pid}.json`, JSON.stringify({ t0, hrOffsetUs, ...ev })) })
