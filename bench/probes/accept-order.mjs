// How Node accepts a burst of connections while its event loop is busy (node bench/probes/accept-order.mjs):
// 60 connections at once, each costing 3 ms of work when its data arrives, then one more 2 ms later
// (the victim). Prints when each connection was accepted: one per turn of the event loop, so the
// late one waits behind the whole burst (≈190 ms) although the kernel completed its handshake at once.
import net from 'node:net'
const t0 = performance.now(); const rel = () => (performance.now() - t0).toFixed(1)
const accepts = []
const server = net.createServer(sock => {
  accepts.push(rel()); sock.on('data', () => { // each connection's data costs 3 ms of work, as an upgrade + its frames might
    const end = performance.now() + 3; while (performance.now() < end);
  })
})
server.listen(0, '127.0.0.1', () => {
  const port = server.address().port
  const clients = []
  for (let i = 0; i < 60; i++) { const c = net.connect(port, '127.0.0.1', () => c.write('x')); clients.push(c) }
  setTimeout(() => { const v = net.connect(port, '127.0.0.1', () => { console.log('victim connected', rel()); v.write('v') }); clients.push(v) }, 2)
  setTimeout(() => { console.log('accepts', accepts.length, accepts.join(' ')); for (const c of clients) c.destroy(); server.close() }, 800)
})
