// P14 diagnosis, preloaded into the bench process (NODE_OPTIONS="--import ./bench/probes/client-timeline.mjs",
// it does nothing in other processes): when each history request was made, and each of its TCP
// connections was created and connected (local port, to match the server's accept), and event-loop lag,
// on the client's clock, with the offset to the monotonic clock so both timelines line up
// (analyze.cjs). Written to $PROBE_DIR/client-<pid>.json (default /tmp) at exit.
import dc from 'node:diagnostics_channel'
import { writeFileSync } from 'node:fs'
if (process.argv.some(a => a.includes('bench/run.ts'))) {
  const now = () => performance.now()
  const ev = { lag: [], req: [], hrOffsetUs: Number(process.hrtime.bigint() / 1000n) - performance.now() * 1000 }
  let last = now()
  setInterval(() => { const t = now(); const lag = t - last - 2; if (lag > 4) ev.lag.push([Math.round(t), Math.round(lag)]); last = t }, 2).unref()
  dc.subscribe('http.client.request.start', ({ request }) => {
    if (!request.path.includes('/messages')) return
    const r = [Math.round(now() * 10) / 10, null, null]
    ev.req.push(r)
    request.once('socket', s => { const c = () => { r[1] = Math.round(now() * 10) / 10 }; if (s.connecting) s.once('connect', c); else c() })
    request.once('response', () => { r[2] = Math.round(now() * 10) / 10 })
  })
  ev.sock = []
  dc.subscribe('net.client.socket', ({ socket }) => {
    const r = [Math.round(now() * 10) / 10, null, null, null]
    ev.sock.push(r)
    socket.once('connect', () => { r[1] = Math.round(now() * 10) / 10; r[2] = socket.localPort })
    socket.once('data', () => { r[3] = Math.round(now() * 10) / 10 })
  })
  process.on('exit', () => { writeFileSync(`${process.env.PROBE_DIR ?? '/tmp'}/client-${process.pid}.json`, JSON.stringify(ev)) })
}
