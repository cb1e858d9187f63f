/**
 * Baseline for P10: a bare `ws` server + pg. A `sync {rooms: {"<id>": <seq>}}` frame is answered,
 * per room, with ONE query that reads the feed after that seq (messages and room_events merged by
 * seq, each message with its author, the window's reactions aggregated once in SQL), the frames built from the
 * rows in the chat server's shape and sent one `ws.send` each, then `sync:done`. No auth, no
 * membership check, no reset past 1,000, no pacing. On a pool with db/connect.ts's settings.
 * PORT, DATABASE_URL and BENCH_USER_ID (whose `me` the reactions show) from the environment.
 */
import { createServer } from 'node:http'
import pg from 'pg'
import { WebSocketServer } from 'ws'
import { poolConfig } from '../../db/connect.js'

const LIMIT = 1001
const FEED = `
  with f as (
    select seq, type, message_id, data from (
      (select seq, 'message:new'::text as type, id as message_id, null::jsonb as data from messages
        where room_id = $1 and seq > $2 order by seq limit $3)
      union all
      (select seq, type::text, message_id, data from room_events where room_id = $1 and seq > $2 order by seq limit $3)
    ) feed order by seq limit $3
  ), r as (
    select message_id, json_agg(json_build_object('emoji', emoji, 'count', n, 'me', me) order by first) as reactions
    from (select message_id, emoji, count(*)::int as n, coalesce(bool_or(user_id = $4), false) as me, min(id) as first
          from reactions where message_id in (select message_id from f where type = 'message:new') group by message_id, emoji) x
    group by message_id
  )
  select f.seq, f.type, f.data, m.id, m.room_id, m.user_id, u.username, m.content, m.created_at, m.seq as message_seq,
    m.client_msg_id, m.edited_at, m.deleted_at, m.reply_to, m.reply_count, r.reactions
  from f
  left join messages m on m.id = f.message_id and f.type in ('message:new', 'message:updated')
  left join users u on u.id = m.user_id
  left join r on r.message_id = m.id and f.type = 'message:new' and m.deleted_at is null
  order by f.seq`

interface FeedRow {
  seq: number
  type: string
  data: Record<string, unknown> | null
  id: number
  room_id: number
  user_id: number | null
  username: string | null
  content: string
  created_at: Date
  message_seq: number
  client_msg_id: string | null
  edited_at: Date | null
  deleted_at: Date | null
  reply_to: number | null
  reply_count: number
  reactions: unknown[] | null
}

function frameOf (roomId: number, r: FeedRow): string {
  if (r.type === 'message:new') {
    return JSON.stringify({
      type: r.type,
      // The Message's fields in the order the chat server's frames carry them (db/messages.ts columns).
      payload: {
        id: r.id,
        room_id: r.room_id,
        user_id: r.user_id,
        username: r.username,
        content: r.content,
        created_at: r.created_at,
        seq: r.message_seq,
        client_msg_id: r.client_msg_id,
        edited_at: r.edited_at,
        deleted_at: r.deleted_at,
        reply_to: r.reply_to,
        reply_count: r.reply_count,
        reactions: r.reactions ?? [],
        attachments: []
      }
    })
  }
  if (r.type === 'message:updated') {
    return JSON.stringify({ type: r.type, payload: { seq: r.seq, room_id: roomId, message_id: r.id, content: r.content, edited_at: r.edited_at } })
  }
  return JSON.stringify({ type: r.type, payload: { ...r.data, seq: r.seq, room_id: roomId } })
}

const pool = new pg.Pool(poolConfig(process.env.DATABASE_URL ?? ''))
pool.on('error', () => {})
const viewer = Number(process.env.BENCH_USER_ID)

/** Per sync: ms in the query, ms building and sending the frames (GET /timings: the bench's notes). */
const timings = { query: [] as number[], send: [] as number[] }

// A plain GET answers 200, so the bench can wait for it as it waits for the chat server.
// GET /timings and GET /explain?room=&after= (EXPLAIN ANALYZE of the query) are for the bench's notes.
const http = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost')
  if (url.pathname === '/timings') {
    res.end(JSON.stringify(timings))
  } else if (url.pathname === '/explain') {
    pool.query<{ 'QUERY PLAN': string }>('EXPLAIN (ANALYZE, BUFFERS) ' + FEED, [Number(url.searchParams.get('room')), Number(url.searchParams.get('after')), LIMIT, viewer])
      .then(r => { res.end(r.rows.map(row => row['QUERY PLAN']).join('\n')) }, (err: Error) => { res.statusCode = 500; res.end(err.message) })
  } else {
    res.end('ok')
  }
})
const server = new WebSocketServer({ server: http, perMessageDeflate: false })
server.on('connection', socket => {
  socket.on('message', data => {
    const frame = JSON.parse(data.toString()) as { type: string, payload: { rooms: Record<string, number> } }
    if (frame.type !== 'sync') return
    (async () => {
      const done: Record<string, number> = {}
      for (const [key, after] of Object.entries(frame.payload.rooms)) {
        const roomId = Number(key)
        const t0 = performance.now()
        const { rows } = await pool.query<FeedRow>(FEED, [roomId, after, LIMIT, viewer])
        const t1 = performance.now()
        for (const r of rows) socket.send(frameOf(roomId, r), { binary: false })
        timings.query.push(t1 - t0)
        timings.send.push(performance.now() - t1)
        done[key] = Math.max(after, rows.at(-1)?.seq ?? 0)
      }
      socket.send(JSON.stringify({ type: 'sync:done', payload: { rooms: done } }), { binary: false })
    })().catch(err => { socket.send(JSON.stringify({ type: 'error', payload: { error: String(err) } })) })
  })
})
http.listen(Number(process.env.PORT), '127.0.0.1')
process.on('SIGTERM', () => {
  for (const client of server.clients) client.terminate()
  server.close(() => { http.close(() => { pool.end().finally(() => process.exit(0)) }) })
})
