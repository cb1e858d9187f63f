import { once } from 'node:events'
import { createServer } from 'node:net'

/** Where freePort looks: below Linux's ephemeral range (32768–60999 here, /proc/sys/net/ipv4/ip_local_port_range). */
const PORT_LOW = 20_000
const PORT_HIGH = 32_767

/**
 * A TCP port free on every address, for a child server to listen on (the tests' and the bench's).
 * Not one the kernel hands out (`listen(0)`): those come from the ephemeral range, where every
 * outgoing connection (to PostgreSQL, Redis, a test server) takes its local port, and one did take
 * the port in the seconds before the child listened (EADDRINUSE, test/reliability/shutdown.test.ts).
 * Outside that range only another explicit listener can, and the pick is random.
 */
export async function freePort (): Promise<number> {
  for (;;) {
    const port = PORT_LOW + Math.floor(Math.random() * (PORT_HIGH - PORT_LOW + 1))
    const server = createServer()
    const free = await new Promise<boolean>(resolve => {
      server.once('error', () => resolve(false))
      server.listen(port, '0.0.0.0', () => resolve(true))
    })
    if (!free) continue
    server.close()
    await once(server, 'close')
    return port
  }
}
