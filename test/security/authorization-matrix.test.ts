import { readFileSync } from 'node:fs'
import { sql } from 'kysely'
import type { FastifyInstance, InjectOptions } from 'fastify'
import t, { type Test } from 'tap'
import { inviteToRoom } from '../../src/chat/invites.js'
import { sendMessage } from '../../src/chat/messages.js'
import { banUser, changeRole, kickMember, muteMember } from '../../src/chat/moderation.js'
import { createRoom as createRoomAs, deleteRoom, joinRoom as joinRoomAs, leaveRoom } from '../../src/chat/rooms.js'
import { setAccountDisabled } from '../../src/chat/users.js'
import { build, createRoom, type Engine, fixtureUser, type Session } from '../helper.js'
import { type Frame, listen, refusedUpgrade, TestSocket } from '../ws-client.js'
import { CALLS, type Call, EXPECTED, renderMatrix, STATES, type State } from './authorization-matrix.js'

/**
 * Issue 13, item 6: every cell of the authorization matrix (authorization-matrix.ts), each in a
 * room of its own: the room is set up (owner, a moderator, a plain member `target` with a
 * message, a pending invite for `invitee`), the subject is put in the row's state, and the call is
 * made once. What came back is compared with the table; SECURITY.md must publish the same table.
 * The calls that change nothing (READS) share one room per state, set up the same way (with the
 * target's attachment): a call that changes the room, its members or its messages has its own.
 */

t.setTimeout(600_000)

interface Cast {
  owner: Session
  moderator: Session
  target: Session
  invitee: Session
  stranger: Session
  member: Session
  admin: Session
}

interface Cell {
  room: number
  subject: Session
  /** The subject's own message (posted while a member), else the target's. */
  own: number
  targets: number
  /** An attachment the target posted in the room (for the attachment calls only). */
  attachment: number
}

const BOUNDARY = 'matrix-boundary'

/** Uploads a small file as `user`; returns its id. */
async function uploadAs (app: FastifyInstance, user: Session): Promise<number> {
  const payload = `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="matrix.txt"\r\n\r\nthe target's file\r\n--${BOUNDARY}--\r\n`
  return (await ok(app, { method: 'POST', url: '/api/v1/attachments', headers: { ...user.auth, 'content-type': `multipart/form-data; boundary=${BOUNDARY}` }, payload }, 'upload')).id as number
}

async function ok (app: FastifyInstance, options: InjectOptions, what: string): Promise<any> {
  const res = await app.inject(options)
  if (res.statusCode >= 300) throw new Error(`set-up: ${what}: ${res.statusCode} ${res.body}`)
  return res.body === '' ? undefined : res.json()
}

const privateState = (state: State): boolean => state.includes('(private)')

/** The calls that change no state (reads, and frames that only answer): they share a cell per state. */
const READS: ReadonlySet<Call> = new Set<Call>([
  'GET /rooms/{id}', 'GET /rooms/{id}/messages', 'GET /rooms/{id}/events', 'GET /rooms/{id}/members', 'GET /rooms/{id}/bans',
  'GET /messages/{id}/replies', 'GET /search/messages?room_id={id}', 'GET /attachments/{target\'s}', 'ws sync', 'ws presence:get', 'ws ?since='
])

/**
 * The cell's room, put in the row's state. Set up with the functions the routes call (the routes
 * under test are the calls, each made over REST or the socket below): an HTTP round trip per step,
 * ten or so a cell, was most of this file's time. The upload and the send that attaches it go
 * through the routes.
 */
async function setUp (app: FastifyInstance, cast: Cast, state: State, n: number, withAttachment: boolean): Promise<Cell> {
  const { owner, moderator, target, invitee } = cast
  const isPrivate = privateState(state)
  const room = (await createRoomAs(app, owner.id, { name: `matrix ${n}`, is_private: isPrivate })).id
  const invite = async (user: Session): Promise<void> => { await inviteToRoom(app, owner.id, room, user.id) }
  const join = async (user: Session): Promise<void> => {
    if (isPrivate) await invite(user)
    await joinRoomAs(app, user.id, room)
  }
  const send = async (user: Session, content: string): Promise<number> => (await sendMessage(app, user.id, { room_id: room, content })).message.id
  await join(moderator)
  await changeRole(app, owner.id, room, moderator.id, 'moderator')
  await join(target)
  const targets = await send(target, 'the target\'s message')
  let attachment = 0
  if (withAttachment) {
    attachment = await uploadAs(app, target)
    await ok(app, { method: 'POST', url: '/api/v1/messages', headers: target.auth, payload: { room_id: room, content: '', attachment_ids: [attachment] } }, 'attach')
  }
  await invite(invitee)

  let subject = cast.member
  if (state === 'owner') subject = owner
  else if (state === 'moderator') subject = moderator
  else if (state.startsWith('site admin')) subject = cast.admin
  else if (state === 'disabled account') subject = await fixtureUser(app)
  let own = targets
  const becomeMember = async (): Promise<void> => {
    await join(subject)
    own = await send(subject, 'the subject\'s message')
  }
  switch (state) {
    case 'never joined':
    case 'never joined (private)':
    case 'site admin, not a member':
    case 'site admin, not a member (private)':
      break
    case 'invited (private)':
      await invite(subject)
      break
    case 'member':
      await becomeMember()
      break
    case 'muted':
      await becomeMember()
      await muteMember(app, owner.id, room, subject.id, undefined)
      break
    case 'moderator':
    case 'owner':
      own = await send(subject, 'the subject\'s message')
      break
    case 'left':
      await becomeMember()
      await leaveRoom(app, subject.id, room)
      break
    case 'kicked':
    case 'kicked (private)':
      await becomeMember()
      await kickMember(app, owner.id, room, subject.id)
      break
    case 'banned':
    case 'banned (private)':
      await becomeMember()
      await banUser(app, owner.id, room, subject.id)
      break
    case 'disabled account':
      await becomeMember()
      await setAccountDisabled(app, subject.id, true, { id: cast.admin.id, role: 'admin' })
      break
    case 'room deleted':
      await becomeMember()
      await deleteRoom(app, { id: owner.id, role: 'user' }, room)
      break
  }
  return { room, subject, own, targets, attachment }
}

/** The REST request of a call, made by the subject. */
function restRequest (call: Call, cell: Cell, cast: Cast): InjectOptions | undefined {
  const { room, subject } = cell
  const headers = subject.auth
  const r = `/api/v1/rooms/${room}`
  const emoji = encodeURIComponent('👍')
  switch (call) {
    case 'GET /rooms/{id}': return { method: 'GET', url: r, headers }
    case 'PATCH /rooms/{id}': return { method: 'PATCH', url: r, headers, payload: { name: 'renamed' } }
    case 'DELETE /rooms/{id}': return { method: 'DELETE', url: r, headers }
    case 'POST /rooms/{id}/join': return { method: 'POST', url: `${r}/join`, headers }
    case 'POST /rooms/{id}/leave': return { method: 'POST', url: `${r}/leave`, headers }
    case 'GET /rooms/{id}/messages': return { method: 'GET', url: `${r}/messages`, headers }
    case 'GET /rooms/{id}/events': return { method: 'GET', url: `${r}/events`, headers }
    case 'POST /rooms/{id}/read': return { method: 'POST', url: `${r}/read`, headers, payload: { seq: 1 } }
    case 'GET /rooms/{id}/members': return { method: 'GET', url: `${r}/members`, headers }
    case 'PATCH /rooms/{id}/members/{target}': return { method: 'PATCH', url: `${r}/members/${cast.target.id}`, headers, payload: { role: 'moderator' } }
    case 'DELETE /rooms/{id}/members/{target}': return { method: 'DELETE', url: `${r}/members/${cast.target.id}`, headers }
    case 'PUT /rooms/{id}/bans/{target}': return { method: 'PUT', url: `${r}/bans/${cast.target.id}`, headers }
    case 'DELETE /rooms/{id}/bans/{target}': return { method: 'DELETE', url: `${r}/bans/${cast.target.id}`, headers }
    case 'GET /rooms/{id}/bans': return { method: 'GET', url: `${r}/bans`, headers }
    case 'PUT /rooms/{id}/mutes/{target}': return { method: 'PUT', url: `${r}/mutes/${cast.target.id}`, headers, payload: { minutes: 5 } }
    case 'DELETE /rooms/{id}/mutes/{target}': return { method: 'DELETE', url: `${r}/mutes/${cast.target.id}`, headers }
    case 'POST /rooms/{id}/invites': return { method: 'POST', url: `${r}/invites`, headers, payload: { user_id: cast.stranger.id } }
    case 'DELETE /rooms/{id}/invites/{invitee}': return { method: 'DELETE', url: `${r}/invites/${cast.invitee.id}`, headers }
    case 'POST /messages': return { method: 'POST', url: '/api/v1/messages', headers, payload: { room_id: room, content: 'hello' } }
    case 'PATCH /messages/{own}': return { method: 'PATCH', url: `/api/v1/messages/${cell.own}`, headers, payload: { content: 'edited' } }
    case 'DELETE /messages/{target\'s}': return { method: 'DELETE', url: `/api/v1/messages/${cell.targets}`, headers }
    case 'PUT /messages/{id}/reactions/{emoji}': return { method: 'PUT', url: `/api/v1/messages/${cell.targets}/reactions/${emoji}`, headers }
    case 'DELETE /messages/{id}/reactions/{emoji}': return { method: 'DELETE', url: `/api/v1/messages/${cell.targets}/reactions/${emoji}`, headers }
    case 'GET /messages/{id}/replies': return { method: 'GET', url: `/api/v1/messages/${cell.targets}/replies`, headers }
    case 'GET /search/messages?room_id={id}': return { method: 'GET', url: `/api/v1/search/messages?q=hello&room_id=${cell.room}`, headers }
    case 'GET /attachments/{target\'s}': return { method: 'GET', url: `/api/v1/attachments/${cell.attachment}`, headers }
    default: return undefined
  }
}

/** The WebSocket frame of a call, and the frame type that answers it when it succeeds. */
function wsFrame (call: Call, room: number): { frame: unknown, success: (f: Frame) => boolean } | undefined {
  switch (call) {
    case 'ws message:send': return { frame: { type: 'message:send', payload: { room_id: room, content: 'over ws' } }, success: f => f.type === 'message:new' && f.payload.content === 'over ws' }
    case 'ws room:join': return { frame: { type: 'room:join', payload: { room_id: room } }, success: f => f.type === 'room:joined' }
    case 'ws sync': return { frame: { type: 'sync', payload: { rooms: { [room]: 0 } } }, success: f => f.type === 'sync:done' && room in f.payload.rooms }
    case 'ws presence:get': return { frame: { type: 'presence:get', payload: { room_id: room } }, success: f => f.type === 'presence:list' }
    default: return undefined
  }
}

async function outcomeOf (t: Test, app: FastifyInstance, url: string, call: Call, cell: Cell, cast: Cast): Promise<string> {
  const request = restRequest(call, cell, cast)
  if (request !== undefined) {
    const res = await app.inject(request)
    const code = res.statusCode >= 400 ? (res.json() as { code?: string }).code : undefined
    return code === undefined ? String(res.statusCode) : `${res.statusCode} ${code}`
  }
  const since = call === 'ws ?since=' ? `&since=${cell.room}:0` : ''
  const target = `${url}?token=${encodeURIComponent(cell.subject.token)}${since}`
  let socket: TestSocket
  try {
    socket = await TestSocket.open(t, target)
  } catch {
    return `upgrade ${(await refusedUpgrade(target)).status}`
  }
  const isAnswer = (success: (f: Frame) => boolean) => (f: Frame): boolean => f.type === 'error' || success(f)
  if (call === 'ws ?since=') {
    const answer = await socket.next(isAnswer(f => f.type === 'sync:done'), 'the catch-up\'s answer')
    socket.ws.terminate()
    if (answer.type === 'error') return `error ${String(answer.payload.code)}`
    return cell.room in answer.payload.rooms ? 'sync:done' : 'sync:done without the room'
  }
  if (call === 'ws typing') {
    // Accepted typing has no answer: a sync of no rooms behind it is the barrier.
    socket.send({ type: 'typing', payload: { room_id: cell.room } })
    socket.send({ type: 'sync', payload: { rooms: {} } })
    const answer = await socket.next(f => f.type === 'error' || f.type === 'sync:done', 'typing\'s refusal or the barrier')
    socket.ws.terminate()
    return answer.type === 'error' ? `error ${String(answer.payload.code)}` : 'accepted'
  }
  const { frame, success } = wsFrame(call, cell.room)!
  socket.send(frame)
  const answer = await socket.next(isAnswer(success), `the answer to ${call}`)
  socket.ws.terminate()
  if (answer.type === 'error') return `error ${String(answer.payload.code)}`
  return answer.type
}

async function runMatrix (t: Test, engine: Engine): Promise<void> {
  const app = await build(t, { engine })
  const url = await listen(app)
  const user = async (name: string): Promise<Session> => await fixtureUser(app, { username: `${name}-${process.pid}` })
  const cast: Cast = {
    owner: await user('owner'),
    moderator: await user('moderator'),
    target: await user('target'),
    invitee: await user('invitee'),
    stranger: await user('stranger'),
    member: await user('subject'),
    admin: await user('admin')
  }
  await sql`update users set role = 'admin' where id = ${cast.admin.id}`.execute(app.db)
  // The subject's rooms exist before the cells' rooms: the matrix is about the cell's room only.
  await createRoom(app, cast.member, 'home')

  const observed = Object.fromEntries(CALLS.map(call => [call, [] as string[]])) as unknown as Record<Call, string[]>
  let n = 0
  for (const state of STATES) {
    const reads = await setUp(app, cast, state, ++n, true)
    for (const call of CALLS) {
      const cell = READS.has(call) ? reads : await setUp(app, cast, state, ++n, false)
      observed[call].push(await outcomeOf(t, app, url, call, cell, cast))
    }
  }
  if (process.env.MATRIX_PRINT === '1') console.log(JSON.stringify(observed, null, 2))

  let cells = 0
  for (const call of CALLS) {
    for (const [i, state] of STATES.entries()) {
      cells++
      t.equal(observed[call][i], EXPECTED[call]?.[i], `${call} — ${state}`)
    }
  }
  t.comment(`${engine}: ${STATES.length} states × ${CALLS.length} calls = ${cells} cells asserted`)
}

t.test('the authorization matrix: every call in every membership state (PostgreSQL)', async t => { await runMatrix(t, 'postgres') })
// The embedded engine's run (the same cells) is part of the long suite (`npm run test:model`, which CI runs): npm test keeps to its time.
t.test('the same matrix on the embedded engine', { skip: process.env.MATRIX_EMBEDDED === '1' ? false : 'set MATRIX_EMBEDDED=1 (npm run test:model does)' }, async t => { await runMatrix(t, 'embedded') })

t.test('SECURITY.md publishes the same table', async t => {
  const published = readFileSync(new URL('../../SECURITY.md', import.meta.url), 'utf8')
  const start = published.indexOf('<!-- authorization-matrix:start -->')
  const end = published.indexOf('<!-- authorization-matrix:end -->')
  t.ok(start >= 0 && end > start, 'SECURITY.md has the matrix markers')
  const section = published.slice(start, end).split('\n').slice(1).join('\n').trim()
  t.equal(section, renderMatrix().trim(), 'the published table is the test\'s (npm run security:matrix rewrites it)')
})
