import { type Context, startChatServer } from '../lib/context.js'
import { seedRoom, signToken } from '../lib/db.js'
import { rssKiB, sleep, stop } from '../lib/proc.js'
import { row, skipped, type Row } from '../lib/report.js'
import { closeFleet, openFleet } from '../lib/sockets.js'

/** Members per room. */
const ROOM_SIZE = 100

/**
 * P7: RSS of the server process (VmRSS) before and after opening N idle authenticated sockets,
 * each of its own user, in rooms of ROOM_SIZE. Before is read after a warm-up fleet of 200 sockets was
 * opened and closed, so first-use code and caches are not counted as per-socket memory.
 */
export async function p7 (ctx: Context): Promise<Row[]> {
  const count = ctx.quick ? 1000 : 10_000
  const warm = 200
  const server = await startChatServer({ databaseUrl: ctx.databaseUrl })
  try {
    // Rooms of ROOM_SIZE: a socket's arrival is announced (presence) to its room's sockets, so
    // 10,000 in one room would send 50 million presence frames while the fleet opens.
    const userIds: number[] = []
    for (let r = 0; r * ROOM_SIZE < count; r++) userIds.push(...(await seedRoom(ctx.databaseUrl, `p7r${r}user`, Math.min(ROOM_SIZE, count - r * ROOM_SIZE))).userIds)
    const urls = userIds.map(id => `ws://127.0.0.1:${server.port}/ws?token=${signToken(id)}`)
    let warmFleet
    try {
      warmFleet = await openFleet(urls.slice(0, warm), 50, 30_000)
    } catch (err) {
      return [skipped('P7', 'memory per idle socket', `skipped: /ws not available (${(err as Error).message})`)]
    }
    closeFleet(warmFleet)
    await sleep(2000)
    const before = rssKiB(server.pid)
    const started = Date.now()
    const fleet = await openFleet(urls, 100, ctx.quick ? 60_000 : 180_000)
    const openSeconds = (Date.now() - started) / 1000
    try {
      await sleep(3000)
      const after = rssKiB(server.pid)
      const perSocket = (after - before) / count
      ctx.details.P7 = { sockets: count, beforeKiB: before, afterKiB: after, perSocketKiB: perSocket, openSeconds }
      ctx.log(`P7: RSS ${Math.round(before / 1024)} MiB → ${Math.round(after / 1024)} MiB with ${count} sockets (opened in ${openSeconds.toFixed(1)} s): ${perSocket.toFixed(1)} KiB each`)
      return [row('P7', `RSS per idle socket KB (${count.toLocaleString('en-US')})`, 'KB', perSocket, null, { on: 'ours', op: '<=', value: 40 },
        `VmRSS ${Math.round(before / 1024)} → ${Math.round(after / 1024)} MiB; opened in ${openSeconds.toFixed(1)} s`)]
    } finally {
      closeFleet(fleet)
    }
  } finally {
    await stop(server.child)
  }
}
