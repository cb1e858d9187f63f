/**
 * Baseline for P2: bare fastify + pg sending the statement that POST /api/v1/messages sends
 * (compiled from db/messages.ts's insertMessage at start-up, so it follows schema changes), on a
 * pool with the settings of db/connect.ts. No auth, no validation, no hooks, no publish.
 * PORT, DATABASE_URL and BENCH_USER_ID from the environment.
 */
import Fastify from 'fastify'
import { type CompiledQuery, DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } from 'kysely'
import pg from 'pg'
import { poolConfig } from '../../db/connect.js'
import type { Database } from '../../db/database.js'
import { insertMessage } from '../../db/messages.js'

const ROOM = 987_654_321
const USER = 987_654_322
const CONTENT = '\u0000content\u0000'

/** The SQL insertMessage sends, and for each parameter where its value comes from. */
async function compileInsert (): Promise<{ sql: string, parameters: unknown[] }> {
  let captured: CompiledQuery | undefined
  const compiler = new Kysely<Database>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: db => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler()
    },
    log: event => { captured = event.query }
  })
  // The dummy driver returns no row, so this throws once the query has been compiled and logged.
  await insertMessage(compiler, { room_id: ROOM, user_id: USER, content: CONTENT }).catch(() => {})
  if (captured === undefined) throw new Error('insertMessage sent no query')
  return { sql: captured.sql, parameters: [...captured.parameters] }
}

const insert = await compileInsert()
const pool = new pg.Pool(poolConfig(process.env.DATABASE_URL ?? ''))
pool.on('error', () => {})
const userId = Number(process.env.BENCH_USER_ID)

const app = Fastify({ logger: false })
// For the bench to see that it is up.
app.get('/', async () => 'ok')
app.post('/', async (request, reply) => {
  const body = request.body as { room_id: number, content: string }
  const values = insert.parameters.map(p => (p === ROOM ? body.room_id : p === USER ? userId : p === CONTENT ? body.content : p))
  const { rows } = await pool.query(insert.sql, values)
  return await reply.code(201).send(rows[0])
})
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) })
process.on('SIGTERM', () => { app.close().then(async () => { await pool.end(); process.exit(0) }, () => process.exit(1)) })
