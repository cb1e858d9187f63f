import t from 'tap'
import type { Db } from '../../db/database.js'
import { insertMessages, listMessages, messagesAfterSeq, type MessageRow } from '../../db/messages.js'
import { insertMember, insertRoomWithCreator, standingIn } from '../../db/rooms.js'
import { build, signUp } from '../helper.js'

/** One send alone (a batch of one): the stored message, or undefined when it was refused. */
async function insertMessage (db: Db, message: { room_id: number, user_id: number, content: string, client_msg_id?: string }): Promise<MessageRow | undefined> {
  const [stored] = await insertMessages(db, [{ ...message, client_msg_id: message.client_msg_id ?? null, reply_to: null }])
  return stored
}

t.test('insertMessage stores a member\'s message with the room\'s next seq, and nothing for anyone else', async t => {
  const app = await build(t)
  const alice = await signUp(app)
  const bob = await signUp(app)
  const room = await insertRoomWithCreator(app.db, { name: 'repo', description: null, created_by: alice.id })
  t.match(await standingIn(app.db, room.id, alice.id), { role: 'owner', is_private: false, invited: false, banned: false }, 'the creator is its owner')
  t.match(await standingIn(app.db, room.id, bob.id), { role: null })
  t.equal(await standingIn(app.db, 424242, alice.id), undefined, 'no such room')

  const first = await insertMessage(app.db, { room_id: room.id, user_id: alice.id, content: 'one' })
  t.match(first, { room_id: room.id, user_id: alice.id, username: alice.username, content: 'one', seq: 1, client_msg_id: null })
  t.equal(await insertMessage(app.db, { room_id: room.id, user_id: bob.id, content: 'not a member' }), undefined, 'a non-member\'s message: nothing stored')
  t.equal(await insertMessage(app.db, { room_id: 424242, user_id: alice.id, content: 'no room' }), undefined, 'no such room: nothing stored')
  await insertMember(app.db, room.id, bob.id, 'member', 1)
  const second = await insertMessage(app.db, { room_id: room.id, user_id: bob.id, content: 'two', client_msg_id: 'c-1' })
  t.equal(second?.seq, 2, 'the refused inserts used no seq')

  const concurrent = await Promise.all(Array.from({ length: 20 }, async (_, i) => await insertMessage(app.db, { room_id: room.id, user_id: alice.id, content: `c${i}` })))
  t.same(concurrent.map(m => m!.seq).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 3), 'concurrent inserts: gap-free seqs')

  t.same((await messagesAfterSeq(app.db, room.id, 20, 100)).map(m => m.seq), [21, 22], 'messagesAfterSeq: in seq order')
  const newest = await listMessages(app.db, room.id, { limit: 2, offset: 0 })
  t.same(newest.map(m => m.seq), [21, 22], 'listMessages: the newest page, oldest first')
  const cursor = await listMessages(app.db, room.id, { limit: 2, offset: 0, before: newest[0]!.id })
  t.same(cursor.map(m => m.seq), [19, 20], 'before: the page just older')
})
