// Lines up a server-timeline.mjs and a client-timeline.mjs file of one P14 run around each attack (the
// upgrade bursts): node bench/probes/analyze.cjs <server.json> <client.json>
const fs = require('fs')
const [,, sF, cF] = process.argv
const s = JSON.parse(fs.readFileSync(sF)); const c = JSON.parse(fs.readFileSync(cF))
const ups = s.upgrades.map(u => u[0]).sort((a, b) => a - b)
const starts = [ups[0]]; for (let i = 1; i < ups.length; i++) if (ups[i] - ups[i - 1] > 2000) starts.push(ups[i])
const toS = t => t + (c.hrOffsetUs - s.hrOffsetUs) / 1000 // client performance.now -> server performance.now
for (const A of starts.slice(1, 3)) {
  console.log(`\n### attack at ${A.toFixed(0)} (server clock)`)
  const rel = t => (t - A).toFixed(1).padStart(7)
  for (const r of c.req) { const t = toS(r[0]); if (t > A - 100 && t < A + 300) console.log('client req', rel(t), 'connected', r[1] === null ? '-' : rel(toS(r[1])), 'response', r[2] === null ? '-' : rel(toS(r[2]))) }
  for (const l of c.lag) { const t = toS(l[0]); if (t > A - 200 && t < A + 300) console.log('client LAG ending', rel(t), l[1], 'ms') }
  for (const r of s.reqs) if (r[0] > A - 100 && r[0] < A + 300) console.log('server req', rel(r[0]), 'end', r[1] === null ? '-' : rel(r[1]))
  for (const l of s.lag) if (l[0] > A - 100 && l[0] < A + 300) console.log('server LAG ending', rel(l[0]), l[1], 'ms')
}
for (const A of starts.slice(1, 2)) {
  const rel = t => (t - A).toFixed(1).padStart(7)
  const conns = new Map((s.conns ?? []).map(r => [r[1], r]))
  console.log('\nclient sockets around the attack: created, connected, [server accepted, server first data], client first data')
  for (const r of c.sock ?? []) { const t = toS(r[0]); if (t > A - 100 && t < A + 300) { const sc = conns.get(r[2]); console.log(rel(t), r[1] === null ? '-' : rel(toS(r[1])), 'port', r[2], 'server', sc ? rel(sc[0]) + ' ' + (sc[2] === null ? '-' : rel(sc[2])) : '?', 'client data', r[3] === null ? '-' : rel(toS(r[3]))) } }
  const acc = (s.conns ?? []).filter(r => r[0] > A - 50 && r[0] < A + 200).map(r => rel(r[0]))
  console.log('server accepts in window:', acc.length, acc.slice(0, 80).join(' '))
}
