import { type Context, startBaseline } from '../lib/context.js'
import { seedRoom, signToken } from '../lib/db.js'
import { stop } from '../lib/proc.js'
import { row, skipped, type Row } from '../lib/report.js'
import { closeFleet, type FanoutResult, MARK, measureFanout, openFleet, openSocket } from '../lib/sockets.js'

const SOCKETS = 1000
/** A message of ordinary length; the marker lets clients find the sequence number without parsing JSON. */
const frame = (roomId: number) => (seq: number): string =>
  JSON.stringify({ type: 'message:send', payload: { room_id: roomId, content: `${MARK}${seq}# hello everyone, this is a fan-out benchmark message` } })

/** P3: one message to 1,000 sockets in one room vs a bare `ws` server broadcasting the same bytes. */
export async function p3 (ctx: Context): Promise<Row[]> {
  const server = await ctx.shared()
  let bare
  try {
    const { roomId, userIds } = await seedRoom(ctx.databaseUrl, 'p3user', SOCKETS)
    const wsBase = `ws://127.0.0.1:${server.port}/ws`
    try {
      (await openSocket(`${wsBase}?token=${signToken(userIds[0]!)}`)).terminate()
    } catch (err) {
      return [skipped('P3', 'fan-out to 1,000 sockets', `skipped: /ws not available (${(err as Error).message})`)]
    }
    bare = await startBaseline('broadcast.ts')
    const options = {
      frame: frame(roomId),
      latencyMessages: ctx.quick ? 10 : 100,
      throughputMessages: ctx.quick ? 20 : 200,
      window: 8,
      messageTimeoutMs: 10_000
    }
    const run = async (urls: string[]): Promise<FanoutResult> => {
      const sockets = await openFleet(urls, 50, 60_000)
      try {
        return await measureFanout({ ...options, sockets })
      } finally {
        closeFleet(sockets)
      }
    }
    const baseline = await run(userIds.map(() => `ws://127.0.0.1:${bare!.port}/`))
    const ours = await run(userIds.map(id => `${wsBase}?token=${signToken(id)}`))
    ctx.details.P3 = { sockets: SOCKETS, options: { ...options, frame: undefined }, ours, baseline }
    ctx.log(`P3: ours ${Math.round(ours.deliveriesPerSecond)} deliveries/s p99 ${ours.p99.toFixed(1)} ms; baseline ${Math.round(baseline.deliveriesPerSecond)} deliveries/s p99 ${baseline.p99.toFixed(1)} ms`)
    const problems = [
      ours.lost + baseline.lost > 0 ? `messages not delivered to every socket: ours ${ours.lost}, baseline ${baseline.lost}` : '',
      ours.errors > 0 ? `${ours.errors} error frames` : ''
    ].filter(Boolean).join('; ')
    return [
      row('P3', 'fan-out 1,000 sockets deliveries/s', 'deliveries/s', ours.deliveriesPerSecond, baseline.deliveriesPerSecond, { on: 'ratio', op: '>=', value: 0.5 }, problems === '' ? undefined : problems),
      row('P3', 'send → last delivery p99 ms', 'ms', ours.p99, baseline.p99, { on: 'ratio', op: '<=', value: 2 })
    ]
  } finally {
    if (bare !== undefined) await stop(bare.child)
  }
}
