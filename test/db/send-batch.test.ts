import t from 'tap'
import { sql } from 'kysely'
import type { Db } from '../../db/database.js'
import { insertMessages, type NewMessage } from '../../db/messages.js'
import { insertMember, insertRoomWithCreator } from '../../db/rooms.js'
import { storeSends } from '../../src/chat/messages.js'
import { build, type Engine, signUp } from '../helper.js'

const send = (roomId: number, userId: number, content: string, more: Partial<NewMessage> = {}): NewMessage =>
  ({ room_id: roomId, user_id: userId, content, client_msg_id: null, reply_to: null, ...more })

async function lastSeq (db: Db, roomId: number): Promise<number> {
  return (await db.selectFrom('rooms').select('last_seq').where('id', '=', roomId).executeTakeFirstOrThrow()).last_seq
}

async function marker (db: Db, roomId: number, userId: number): Promise<number> {
  return (await db.selectFrom('room_members').select('last_read_seq').where('room_id', '=', roomId).where('user_id', '=', userId).executeTakeFirstOrThrow()).last_read_seq
}

for (const engine of ['postgres', 'embedded'] as Engine[]) {
  t.test(`${engine}: one statement stores a batch over several rooms; a refused send uses no seq`, async t => {
    const app = await build(t, { engine })
    const alice = await signUp(app)
    const bob = await signUp(app)
    const outsider = await signUp(app)
    const room = (await insertRoomWithCreator(app.db, { name: 'batch', description: null, created_by: alice.id })).id
    await insertMember(app.db, room, bob.id, 'member', 0)
    const other = (await insertRoomWithCreator(app.db, { name: 'elsewhere', description: null, created_by: alice.id })).id
    await sql`update rooms set last_activity_at = now() - interval '1 hour'`.execute(app.db)

    const [root] = await insertMessages(app.db, [send(room, alice.id, 'root', { client_msg_id: 'kept' })])
    t.match(root, { seq: 1, reply_to: null, reply_count: 0, edited_at: null, deleted_at: null, username: alice.username })
    const [elsewhere] = await insertMessages(app.db, [send(other, alice.id, 'in another room')])
    const recent = await app.db.selectFrom('rooms').select(['id', sql<boolean>`last_activity_at > now() - interval '1 minute'`.as('recent')]).orderBy('id').execute()
    t.same(recent.map(r => r.recent), [true, true], 'each room\'s last_activity_at moved to now')

    const stored = await insertMessages(app.db, [
      send(room, bob.id, 'first'),
      send(room, outsider.id, 'not a member'),
      send(other, alice.id, 'second room, first'),
      send(room, alice.id, 'a retry of root', { client_msg_id: 'kept' }),
      send(room, bob.id, 'reply', { reply_to: root!.id }),
      send(other, bob.id, 'not a member of the second room'),
      send(room, alice.id, 'reply to another room', { reply_to: elsewhere!.id }),
      send(room, alice.id, 'reply to nothing', { reply_to: 2_000_000_000 }),
      send(other, alice.id, 'second room, last'),
      send(room, alice.id, 'last')
    ])
    t.same(stored.map(m => m === undefined ? null : [m.room_id, m.seq, m.content]), [
      [room, 2, 'first'], null, [other, 2, 'second room, first'], null, [room, 3, 'reply'], null, null, null, [other, 3, 'second room, last'], [room, 4, 'last']
    ], 'each send its own answer, in order; each room\'s accepted sends take its next seqs, in the order given')
    t.equal(await lastSeq(app.db, room), 4, 'one bump per room, and no seq used by a refused send')
    t.equal(await lastSeq(app.db, other), 3)
    t.match(stored[4], { reply_to: root!.id, user_id: bob.id, username: bob.username })

    const [nested] = await insertMessages(app.db, [send(room, alice.id, 'reply to the reply', { reply_to: stored[4]!.id })])
    t.match(nested, { seq: 5, reply_to: root!.id }, 'a reply to a reply is stored with its root')
    const counts = await app.db.selectFrom('messages').select('reply_count').where('room_id', '=', room).orderBy('seq').execute()
    t.same(counts.map(m => m.reply_count), [2, 0, 0, 0, 0], 'the root counts both replies; nothing else counts any')

    t.equal(await marker(app.db, room, bob.id), 3, 'bob\'s read marker is at his newest message')
    t.equal(await marker(app.db, room, alice.id), 5, 'alice\'s at hers')
    t.equal(await marker(app.db, other, alice.id), 3, 'and in the other room at her newest there')
    await app.db.updateTable('room_members').set({ last_read_seq: 50 }).where('room_id', '=', room).where('user_id', '=', bob.id).execute()
    await insertMessages(app.db, [send(room, bob.id, 'after reading ahead')])
    t.equal(await marker(app.db, room, bob.id), 50, 'a send never moves the marker back')

    await app.db.updateTable('messages').set({ deleted_at: sql`now()` }).where('id', '=', root!.id).execute()
    t.same(await insertMessages(app.db, [send(room, bob.id, 'reply to a deleted message', { reply_to: root!.id })]), [undefined], 'a deleted message takes no replies')
    t.same(await insertMessages(app.db, [send(room, outsider.id, 'no'), send(424242, alice.id, 'no room')]), [undefined, undefined])
    t.equal(await lastSeq(app.db, room), 6, 'a batch with nothing to store changes no seq')

    const twice = await storeSends(app, [send(room, bob.id, 'once', { client_msg_id: 'b-1' }), send(room, bob.id, 'once', { client_msg_id: 'b-1' })])
    t.match(twice, [{ status: 'fulfilled', value: { seq: 7, client_msg_id: 'b-1' } }, { status: 'fulfilled', value: undefined }],
      'one client_msg_id twice in a batch: the first is stored, the second refused (a retry of the first)')
    t.equal(await lastSeq(app.db, room), 7)
  })
}

t.test('a batch the database fails as a whole (a client_msg_id a concurrent statement stores) is sent again one send at a time', async t => {
  const app = await build(t)
  const alice = await signUp(app)
  const bob = await signUp(app)
  const room = (await insertRoomWithCreator(app.db, { name: 'race', description: null, created_by: alice.id })).id
  await insertMember(app.db, room, bob.id, 'member', 0)
  const other = (await insertRoomWithCreator(app.db, { name: 'other', description: null, created_by: alice.id })).id
  const published: number[] = []
  app.bus.subscribe(event => { if (event.type === 'message:new') published.push(event.payload.seq) })

  // Another transaction stores alice's 'x' and commits only once the batch waits on its row: the
  // batch's snapshot did not see it, so its insert fails with a unique violation.
  // The batch starts only once the other's row is in (else the batch may store 'x' first, and the other fails).
  let release: () => void = () => {}
  const released = new Promise<void>(resolve => { release = resolve })
  let inserted: () => void = () => {}
  const stored = new Promise<void>(resolve => { inserted = resolve })
  const racer = app.db.transaction().execute(async trx => {
    await sql`update rooms set last_seq = last_seq + 1 where id = ${other}`.execute(trx)
    await sql`insert into messages (room_id, user_id, content, seq, client_msg_id) values (${other}, ${alice.id}, 'elsewhere', 1, 'x')`.execute(trx)
    inserted()
    await released
  })
  await stored
  const batch = storeSends(app, [send(room, alice.id, 'raced', { client_msg_id: 'x' }), send(room, bob.id, 'innocent')])
  // Until the batch is seen waiting for the other transaction (no clock involved).
  for (;;) {
    const waiting = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`.execute(app.db)
    if (waiting.rows[0]!.n > 0) break
    await new Promise(resolve => setImmediate(resolve))
  }
  release()
  await racer
  t.match(await batch, [{ status: 'fulfilled', value: undefined }, { status: 'fulfilled', value: { seq: 1, content: 'innocent' } }],
    'the raced send is refused (a retry of what the other stored), the other one is stored')
  t.equal(await lastSeq(app.db, room), 1, 'the failed statement used no seq')
  t.same(published, [1], 'only the stored message was published')
})
