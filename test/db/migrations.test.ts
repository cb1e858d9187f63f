import { createHash } from 'node:crypto'
import { type Kysely, sql } from 'kysely'
import t, { type Test } from 'tap'
import { connectDatabase } from '../../db/connect.js'
import { migrator } from '../../db/migrate.js'
import { checkUsername, usernameKey } from '../../src/chat/text.js'
import { freshDatabase, postgresReachable } from '../helper.js'

// Migrations 0007–0009 on data written before them: the lockout's keys are hashed, usernames are
// brought under the username rule (duplicates by key resolved by id), and each goes down and up again.

async function migrateTo (t: Test, db: Kysely<any>, name: string): Promise<void> {
  const { error, results } = await migrator(db).migrateTo(name)
  t.error(error, `migrated to ${name}: ${(results ?? []).map(r => `${r.direction} ${r.migrationName} ${r.status}`).join(', ')}`)
}

async function latest (t: Test, db: Kysely<any>): Promise<void> {
  const { error } = await migrator(db).migrateToLatest()
  t.error(error, 'migrated to the latest')
}

const BEFORE = [
  'John', // 1: keeps its name
  'john', // 2: a copy in another case
  'ＪＯＨＮ', // 3: a copy in full width
  'john\u200B', // 4: a copy with a zero-width space
  'admin', // 5: reserved
  '\u202Egnp.exe', // 6: a right-to-left override
  '\u200B\u200D', // 7: nothing visible
  'john-2', // 8: the name user 2 will be given
  'u'.repeat(100), // 9
  'U'.repeat(100), // 10: a copy with no room for a suffix
  'Ünïcødé 👩‍💻' // 11: its ZWJ goes
]

const AFTER = [
  'John',
  'john-2',
  'ＪＯＨＮ-3',
  'john-4',
  'admin-5',
  'gnp.exe',
  'user-7',
  'john-2-8',
  'u'.repeat(100),
  'U'.repeat(97) + '-10',
  'Ünïcødé 👩💻'
]

async function usersNow (db: Kysely<any>): Promise<Array<{ id: number, username: string, username_key: string }>> {
  return await db.selectFrom('users').select(['id', 'username', 'username_key']).orderBy('id').execute() as Array<{ id: number, username: string, username_key: string }>
}

async function exercise (t: Test, db: Kysely<any>): Promise<void> {
  await migrateTo(t, db, '0006_token_revocation')
  for (const [i, username] of BEFORE.entries()) {
    await db.insertInto('users').values({ id: i + 1, email: `user${i + 1}@example.com`, username, password_hash: 'x' }).execute()
  }
  await db.insertInto('login_failures').values({ account: 'victim@example.com', address: '203.0.113.9' }).execute()
  // A room with history from before the feed: user 1 created it, user 2 joined, 3 messages.
  await db.insertInto('rooms').values({ id: 1, name: 'old', created_by: 1, created_at: '2026-01-01T00:00:00Z' }).execute()
  await db.insertInto('room_members').values([{ room_id: 1, user_id: 1 }, { room_id: 1, user_id: 2 }]).execute()
  await db.insertInto('messages').values([1, 2, 3].map(seq => ({ room_id: 1, user_id: 1, seq, content: `m${seq}`, created_at: `2026-01-0${seq + 1}T00:00:00Z` }))).execute()
  await db.updateTable('rooms').set({ last_seq: 3 }).execute()

  await latest(t, db)
  const [failure] = await db.selectFrom('login_failures').select('account').execute() as Array<{ account: string }>
  t.equal(failure?.account, createHash('sha256').update('victim@example.com').digest('hex'), '0007: the account is hashed as the server hashes it')

  const after = await usersNow(db)
  t.same(after.map(u => u.username), AFTER, '0009: duplicates renamed by id, hidden characters removed, reserved names suffixed')
  for (const user of after) {
    t.equal(user.username_key, usernameKey(user.username), `user ${user.id}: the key the server computes`)
    t.doesNotThrow(() => checkUsername(user.username), `user ${user.id}: "${user.username}" passes the rule`)
  }
  t.equal(new Set(after.map(u => u.username_key)).size, after.length, 'every key is unique')
  await t.rejects(db.insertInto('users').values({ id: 100, email: 'copy@example.com', username: 'JOHN', username_key: 'john', password_hash: 'x' }).execute(),
    { code: '23505', constraint: 'users_username_key_key' }, 'the unique index refuses another john')
  t.same(await db.selectFrom('known_addresses').selectAll().execute(), [], '0008: known_addresses exists')
  const members = await db.selectFrom('room_members').select(['user_id', 'role', 'last_read_seq']).orderBy('user_id').execute()
  t.same(members, [{ user_id: 1, role: 'owner', last_read_seq: 3 }, { user_id: 2, role: 'member', last_read_seq: 3 }], '0010: the creator owns the room; members have read its history')
  const room = await db.selectFrom('rooms').select(['last_seq', 'last_activity_at']).executeTakeFirstOrThrow() as { last_seq: number, last_activity_at: Date }
  t.same([room.last_seq, room.last_activity_at.toISOString()], [3, '2026-01-04T00:00:00.000Z'], '0010: the room\'s activity is its last message')
  t.same((await db.selectFrom('messages').select(['deleted_at', 'reply_count']).execute()).map(m => [m.deleted_at, m.reply_count]), [[null, 0], [null, 0], [null, 0]])
  const rooms11 = await db.selectFrom('rooms').select(['is_private', 'is_direct', 'direct_key', 'member_count']).execute()
  t.same(rooms11, [{ is_private: false, is_direct: false, direct_key: null, member_count: 2 }], '0011: rooms made before are public, not DMs, with their member count')
  t.same((await db.selectFrom('room_members').select('muted_until').execute()).map(m => m.muted_until), [null, null], '0011: nobody is muted')
  const vectors = await sql<{ found: number }>`select count(*)::int as found from messages where search_vector @@ websearch_to_tsquery('english', 'm2')`.execute(db)
  t.equal(vectors.rows[0]?.found, 1, '0012: messages made before are indexed for search')

  await migrateTo(t, db, '0006_token_revocation')
  const { rows } = await sql<{ column_name: string }>`select column_name from information_schema.columns where table_name = 'users' and column_name = 'username_key'`.execute(db)
  t.same(rows, [], 'down: the key column is gone')
  const tables = await sql<{ n: number }>`select count(*)::int as n from information_schema.tables where table_name = 'known_addresses'`.execute(db)
  t.equal(tables.rows[0]?.n, 0, 'down: known_addresses is gone')
  t.same((await db.selectFrom('users').select('username').orderBy('id').execute()).map(u => u.username), AFTER, 'down keeps the new names')
  const feedTables = await sql<{ n: number }>`select count(*)::int as n from information_schema.tables where table_name in ('room_events', 'reactions')`.execute(db)
  t.equal(feedTables.rows[0]?.n, 0, 'down: room_events and reactions are gone')
  const roomTables = await sql<{ n: number }>`select count(*)::int as n from information_schema.tables where table_name in ('room_bans', 'room_invites', 'parked_mutes')`.execute(db)
  t.equal(roomTables.rows[0]?.n, 0, 'down: room_bans, room_invites and parked_mutes are gone')
  const searchIndexes = await sql<{ n: number }>`select count(*)::int as n from pg_indexes where indexname like '%trgm%' or indexname = 'messages_search_vector_idx'`.execute(db)
  t.equal(searchIndexes.rows[0]?.n, 0, 'down: the search indexes are gone')
  t.same(await db.selectFrom('messages').select('content').orderBy('id').execute(), [{ content: 'm1' }, { content: 'm2' }, { content: 'm3' }], 'down keeps the messages')

  await latest(t, db)
  t.same((await usersNow(db)).map(u => u.username), AFTER, 'up again: nothing more to rename')
}

const skip = await postgresReachable() ? false : 'needs the PostgreSQL server'
t.test('PostgreSQL', { skip }, async t => {
  const { db } = await connectDatabase({ databaseUrl: await freshDatabase(t), dataDir: 'memory://' })
  t.teardown(async () => { await db.destroy() })
  await exercise(t, db)
})

t.test('embedded (from the migrated template, so the downs run first)', async t => {
  const { db } = await connectDatabase({ dataDir: 'memory://' })
  t.teardown(async () => { await db.destroy() })
  await exercise(t, db)
})
