// The unread model test (issue 12, item 8): random sends (some concurrent), edits, deletes, reads,
// leaves and rejoins by several users in several rooms, through the domain functions REST and
// WebSocket share. After every step, every member's `unread_count` (GET /users/me/rooms's query)
// equals a recount from the model's history: the room's messages after the user's marker that are
// not deleted and not theirs. The model also numbers the feed itself (every change takes the next
// seq), so a change that took a seq it should not have, or none, fails too.
// 50 runs by default (npm test keeps to its time); MODEL_RUNS=n for more (`npm run test:model`), MODEL_SEED=s to replay a seed.
import fc from 'fast-check'
import t from 'tap'
import { deleteMessage, editMessage, sendMessage } from '../../src/chat/messages.js'
import { markRead, myRooms } from '../../src/chat/read-state.js'
import { createRoom, joinRoom, leaveRoom } from '../../src/chat/rooms.js'
import { build, signUp } from '../helper.js'

const USERS = 3
const ROOMS = 2
const RUNS = Number(process.env.MODEL_RUNS ?? 50)
const SEED = process.env.MODEL_SEED === undefined ? undefined : Number(process.env.MODEL_SEED)

type Step =
  | { kind: 'send', user: number, room: number, count: number }
  | { kind: 'edit', pick: number }
  | { kind: 'delete', user: number, pick: number }
  | { kind: 'read', user: number, room: number, back: number }
  | { kind: 'leave', user: number, room: number }
  | { kind: 'join', user: number, room: number }

const user = fc.nat({ max: USERS - 1 })
const room = fc.nat({ max: ROOMS - 1 })
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('send' as const), user, room, count: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('edit' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), user, pick: fc.nat() }) },
  // `back`: how far before the room's last seq the read goes (negative: past the end).
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('read' as const), user, room, back: fc.integer({ min: -2, max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('leave' as const), user, room }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('join' as const), user, room }) }
)

interface ModelMessage { id: number, room: number, author: number, seq: number, deleted: boolean, content: string }
interface ModelRoom {
  id: number
  lastSeq: number
  /** Members in the order they joined (the first is the longest), with their role and marker. */
  members: Array<{ user: number, role: 'owner' | 'member', marker: number }>
}

// A run takes about 0.06–0.17 s here (a loaded CI machine is the slow end): room to spare.
t.setTimeout(Math.max(120_000, RUNS * 600))

t.test(`unread model: ${RUNS} runs; after every step, every unread_count is the recount`, async t => {
  const app = await build(t)
  const users = await Promise.all(Array.from({ length: USERS }, async () => await signUp(app)))
  const ids = users.map(u => u.id)
  let runs = 0

  await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 16 }), async steps => {
    runs++
    const rooms: ModelRoom[] = []
    const messages: ModelMessage[] = []
    const member = (model: ModelRoom, u: number): ModelRoom['members'][number] | undefined => model.members.find(m => m.user === u)

    async function join (model: ModelRoom, u: number): Promise<void> {
      await joinRoom(app, ids[u]!, model.id)
      if (member(model, u) !== undefined) return
      model.lastSeq++
      // A new member has read everything before their join.
      model.members.push({ user: u, role: 'member', marker: model.lastSeq })
    }

    // Fresh rooms each run; user 0 creates (owns) them, users 1 and 2 join.
    for (let r = 0; r < ROOMS; r++) {
      const created = await createRoom(app, ids[0]!, { name: `model ${runs}.${r}` })
      const model: ModelRoom = { id: created.id, lastSeq: 0, members: [{ user: 0, role: 'owner', marker: 0 }] }
      for (let u = 1; u < USERS; u++) await join(model, u)
      rooms.push(model)
    }
    const expected = (model: ModelRoom, u: number): number => {
      const marker = member(model, u)!.marker
      return messages.filter(m => m.room === model.id && m.seq > marker && !m.deleted && m.author !== u).length
    }

    async function check (after: string): Promise<void> {
      for (let u = 0; u < USERS; u++) {
        const listed = new Map((await myRooms(app, ids[u]!, { limit: 100, offset: 0 })).map(r => [r.id, r]))
        for (const model of rooms) {
          const mine = member(model, u)
          const row = listed.get(model.id)
          if (mine === undefined) {
            if (row !== undefined) throw new Error(`${after}: user ${u} is not in room ${model.id} but it is listed`)
            continue
          }
          if (row === undefined) throw new Error(`${after}: user ${u}'s room ${model.id} is not listed`)
          const want = { unread_count: expected(model, u), last_read_seq: mine.marker, role: mine.role }
          const got = { unread_count: row.unread_count, last_read_seq: row.last_read_seq, role: row.role }
          if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`${after}: user ${u} in room ${model.id}: ${JSON.stringify(got)}, the model says ${JSON.stringify(want)}`)
        }
      }
      for (const model of rooms) {
        const { last_seq: lastSeq } = await app.db.selectFrom('rooms').select('last_seq').where('id', '=', model.id).executeTakeFirstOrThrow()
        if (lastSeq !== model.lastSeq) throw new Error(`${after}: room ${model.id} is at seq ${lastSeq}, the model at ${model.lastSeq}`)
      }
    }

    for (const [i, s] of steps.entries()) {
      const model = 'room' in s ? rooms[s.room]! : undefined
      switch (s.kind) {
        case 'send': {
          if (member(model!, s.user) === undefined) break
          // Concurrent sends: the server orders them; the model takes the order it chose.
          const sent = await Promise.all(Array.from({ length: s.count }, async (_, k) =>
            (await sendMessage(app, ids[s.user]!, { room_id: model!.id, content: `run ${runs} step ${i}.${k}` })).message))
          for (const message of sent.sort((x, y) => x.seq - y.seq)) {
            messages.push({ id: message.id, room: model!.id, author: s.user, seq: message.seq, deleted: false, content: message.content })
          }
          model!.lastSeq += s.count
          // Sending moves your own marker past what you sent.
          const me = member(model!, s.user)!
          me.marker = Math.max(me.marker, ...sent.map(m => m.seq))
          break
        }
        case 'edit': {
          const live = messages.filter(m => !m.deleted)
          const target = live[s.pick % Math.max(1, live.length)]
          const where = rooms.find(r => r.id === target?.room)
          if (target === undefined || member(where!, target.author) === undefined) break
          target.content = `${target.content} (edited)`
          await editMessage(app, ids[target.author]!, target.id, { content: target.content }, 0)
          where!.lastSeq++
          break
        }
        case 'delete': {
          const target = messages[s.pick % Math.max(1, messages.length)]
          if (target === undefined) break
          const where = rooms.find(r => r.id === target.room)!
          const actor = member(where, s.user)
          const allowed = actor !== undefined && (target.author === s.user || actor.role === 'owner')
          try {
            await deleteMessage(app, { id: ids[s.user]!, role: 'user' }, target.id)
          } catch (err) {
            const { statusCode } = err as { statusCode?: number }
            if (allowed || (statusCode !== 403 && statusCode !== 404)) throw err
            break
          }
          if (!allowed) throw new Error(`step ${i}: user ${s.user} deleted message ${target.id}, which the model forbids`)
          if (!target.deleted) where.lastSeq++
          target.deleted = true
          break
        }
        case 'read': {
          const me = member(model!, s.user)
          if (me === undefined) break
          const seq = Math.max(0, model!.lastSeq - s.back)
          const state = await markRead(app, ids[s.user]!, model!.id, seq)
          me.marker = Math.max(me.marker, Math.min(seq, model!.lastSeq))
          if (state.last_read_seq !== me.marker || state.unread_count !== expected(model!, s.user)) {
            throw new Error(`step ${i}: markRead answered ${JSON.stringify(state)}, the model says marker ${me.marker}, unread ${expected(model!, s.user)}`)
          }
          break
        }
        case 'leave': {
          const me = member(model!, s.user)
          if (me === undefined) break
          await leaveRoom(app, ids[s.user]!, model!.id)
          model!.members = model!.members.filter(m => m.user !== s.user)
          model!.lastSeq++
          const heir = model!.members[0]
          if (me.role === 'owner' && heir !== undefined) {
            heir.role = 'owner'
            model!.lastSeq++
          }
          break
        }
        case 'join': await join(model!, s.user)
      }
      await check(`after step ${i} (${JSON.stringify(s)})`)
    }
  }), { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }), endOnFailure: true })
  t.equal(runs, RUNS, `${RUNS} runs, every unread count and marker the recount after every step`)
})
