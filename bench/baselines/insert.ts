/**
 * Baseline for P2, the physical limit of a send: bare fastify + pg doing one plain
 * `INSERT INTO messages … RETURNING` joined to the author, on a pool with the settings of
 * db/connect.ts. No seq bump, no membership check, no auth, no validation, no hooks, no publish.
 * `seq` (NOT NULL, unique per room) comes from a sequence of its own that starts at 1e9, so these
 * rows can share the rooms (the same table, indexes and row sizes) with the chat server's sends,
 * whose seqs count from 1, without ever colliding with them.
 * PORT, DATABASE_URL and BENCH_USER_ID from the environment.
 */
import Fastify from 'fastify'
import pg from 'pg'
import { poolConfig } from '../../db/connect.js'

const INSERT = `with m as (
  insert into messages (room_id, user_id, content, seq) values ($1, $2, $3, nextval('bench_baseline_seq'))
  returning id, room_id, user_id, content, created_at, seq, client_msg_id
)
select m.id, m.room_id, m.user_id, users.username, m.content, m.created_at, m.seq, m.client_msg_id
from m left join users on users.id = m.user_id`

const pool = new pg.Pool(poolConfig(process.env.DATABASE_URL ?? ''))
pool.on('error', () => {})
await pool.query('create sequence if not exists bench_baseline_seq as integer start 1000000000')
const userId = Number(process.env.BENCH_USER_ID)

const app = Fastify({ logger: false })
// For the bench to see that it is up.
app.get('/', async () => 'ok')
app.post('/', async (request, reply) => {
  const body = request.body as { room_id: number, content: string }
  const { rows } = await pool.query(INSERT, [body.room_id, userId, body.content])
  return await reply.code(201).send(rows[0])
})
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) })
process.on('SIGTERM', () => { app.close().then(async () => { await pool.end(); process.exit(0) }, () => process.exit(1)) })
