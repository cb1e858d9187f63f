// A client generated from openapi.yaml (openapi-typescript types + openapi-fetch) drives the seed's
// whole flow against the app listening on a real port. If the document and the server disagree,
// this file fails to typecheck or fails at run time.
import { createHash } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import createClient from 'openapi-fetch'
import t, { type Test } from 'tap'
import { build, uniqueEmail } from '../helper.js'
import type { components, paths } from '../../sdk/src/openapi.js'

type Message = components['schemas']['Message']

/** The app listening on a free port, and the generated client pointed at it. */
async function listening (t: Test) {
  const app = await build(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const baseUrl = `http://127.0.0.1:${port}`
  return { baseUrl, api: createClient<paths>({ baseUrl }) }
}

t.test('the generated SDK drives the seed flow', async t => {
  const { baseUrl, api } = await listening(t)

  const health = await api.GET('/health')
  t.equal(health.response.status, 200)
  t.equal(health.data?.status, 'OK')

  // Register and log in two users: alice (who will own the room) and bob.
  const password = 'SecureP@ssw0rd'
  const aliceEmail = uniqueEmail('alice')
  const registered = await api.POST('/api/v1/users/register', { body: { email: aliceEmail, password, username: 'alice' } })
  t.equal(registered.response.status, 201)
  t.equal(registered.error, undefined)
  const alice = registered.data!
  t.match(alice, { email: aliceEmail, username: 'alice' })
  t.type(alice.id, 'number')
  t.match(alice.created_at, /^\d{4}-\d\d-\d\dT/)

  const duplicate = await api.POST('/api/v1/users/register', { body: { email: aliceEmail.toUpperCase(), password, username: 'alice2' } })
  t.equal(duplicate.response.status, 409, 'duplicate email (any case) is 409')
  t.equal(duplicate.data, undefined)
  t.same(duplicate.error, { error: 'Email already registered', code: 'EMAIL_TAKEN' })

  const bobEmail = uniqueEmail('bob')
  t.equal((await api.POST('/api/v1/users/register', { body: { email: bobEmail, password, username: 'bob' } })).response.status, 201)

  const badLogin = await api.POST('/api/v1/users/login', { body: { email: aliceEmail, password: 'not the password' } })
  t.equal(badLogin.response.status, 401)
  t.type(badLogin.error?.error, 'string')

  const aliceLogin = await api.POST('/api/v1/users/login', { body: { email: aliceEmail, password } })
  t.equal(aliceLogin.response.status, 200)
  t.same(aliceLogin.data?.user, { id: alice.id, email: aliceEmail, username: 'alice' })
  const bobLogin = await api.POST('/api/v1/users/login', { body: { email: bobEmail, password } })
  t.equal(bobLogin.response.status, 200)
  const bobId = bobLogin.data!.user.id

  const asAlice = createClient<paths>({ baseUrl, headers: { authorization: `Bearer ${aliceLogin.data!.token}` } })
  const asBob = createClient<paths>({ baseUrl, headers: { authorization: `Bearer ${bobLogin.data!.token}` } })

  const anonymous = await api.GET('/api/v1/users')
  t.equal(anonymous.response.status, 401, 'no token, no directory')
  t.equal(anonymous.error?.code, 'UNAUTHORIZED')

  // The user directory: limit/offset are optional (defaults 50/0); alice sees her own email only.
  const users = await asAlice.GET('/api/v1/users')
  t.equal(users.response.status, 200)
  const listed = users.data ?? []
  t.same(listed.map(u => u.id).sort((a, b) => a - b), [alice.id, bobId].sort((a, b) => a - b))
  t.equal(listed.find(u => u.id === alice.id)?.email, aliceEmail)
  t.equal(listed.find(u => u.id === bobId)?.email, undefined)
  const firstOnly = await asAlice.GET('/api/v1/users', { params: { query: { limit: 1 } } })
  t.equal(firstOnly.data?.length, 1)

  const bobSeenByAlice = await asAlice.GET('/api/v1/users/{id}', { params: { path: { id: bobId } } })
  t.equal(bobSeenByAlice.response.status, 200)
  t.match(bobSeenByAlice.data, { id: bobId, username: 'bob' })
  t.notOk(bobSeenByAlice.data !== undefined && 'email' in bobSeenByAlice.data, 'another user\'s email is not shown')
  const nobody = await asAlice.GET('/api/v1/users/{id}', { params: { path: { id: 2147483647 } } })
  t.equal(nobody.response.status, 404)

  // Rooms.
  const created = await asAlice.POST('/api/v1/rooms', { body: { name: 'General Discussion', description: 'A place for general topics' } })
  t.equal(created.response.status, 201)
  const room = created.data!
  t.match(room, { name: 'General Discussion', description: 'A place for general topics', created_by: alice.id })

  const rooms = await asBob.GET('/api/v1/rooms')
  t.equal(rooms.response.status, 200)
  t.match(rooms.data?.find(r => r.id === room.id), { name: 'General Discussion', member_count: 1 }, 'the creator is the first member')

  // Bob is not a member yet: 403 through the client, for reading and for sending.
  const outsiderRead = await asBob.GET('/api/v1/rooms/{id}/messages', { params: { path: { id: room.id } } })
  t.equal(outsiderRead.response.status, 403)
  t.equal(outsiderRead.error?.code, 'NOT_A_MEMBER')
  const outsiderSend = await asBob.POST('/api/v1/messages', { body: { room_id: room.id, content: 'let me in' } })
  t.equal(outsiderSend.response.status, 403)
  t.type(outsiderSend.error?.error, 'string')

  const joined = await asBob.POST('/api/v1/rooms/{id}/join', { params: { path: { id: room.id } } })
  t.equal(joined.response.status, 200)
  t.same(joined.data, { message: 'Successfully joined room', room_id: room.id })
  const joinedAgain = await asBob.POST('/api/v1/rooms/{id}/join', { params: { path: { id: room.id } } })
  t.equal(joinedAgain.response.status, 200, 'joining twice is harmless')
  t.match((await asBob.GET('/api/v1/rooms')).data?.find(r => r.id === room.id), { member_count: 2 })

  // Messages: five, alternating authors.
  const sent: Message[] = []
  for (let i = 1; i <= 5; i++) {
    const client = i % 2 === 1 ? asAlice : asBob
    const res = await client.POST('/api/v1/messages', { body: { room_id: room.id, content: `  message ${i}  ` } })
    t.equal(res.response.status, 201)
    sent.push(res.data!)
  }
  t.match(sent[0], { room_id: room.id, user_id: alice.id, username: 'alice', content: 'message 1' }, 'content is trimmed')
  t.match(sent[1], { user_id: bobId, username: 'bob', content: 'message 2' })
  const ids = sent.map(m => m.id)

  const empty = await asAlice.POST('/api/v1/messages', { body: { room_id: room.id, content: '   ' } })
  t.equal(empty.response.status, 400)
  t.match(empty.error?.error, /^content /)

  // History: oldest first; offset counts back from the newest.
  const all = await asBob.GET('/api/v1/rooms/{id}/messages', { params: { path: { id: room.id } } })
  t.equal(all.response.status, 200)
  t.same(all.data?.map(m => m.id), ids)
  t.same(all.data?.map(m => m.content), ['message 1', 'message 2', 'message 3', 'message 4', 'message 5'])

  const newest = await asBob.GET('/api/v1/rooms/{id}/messages', { params: { path: { id: room.id }, query: { limit: 1, offset: 0 } } })
  t.same(newest.data?.map(m => m.id), [ids[4]], 'limit=1&offset=0 is the newest')
  const middle = await asBob.GET('/api/v1/rooms/{id}/messages', { params: { path: { id: room.id }, query: { limit: 2, offset: 1 } } })
  t.same(middle.data?.map(m => m.id), [ids[2], ids[3]], 'limit=2&offset=1, oldest first')
  const before = await asBob.GET('/api/v1/rooms/{id}/messages', { params: { path: { id: room.id }, query: { limit: 2, before: ids[3]! } } })
  t.same(before.data?.map(m => m.id), [ids[1], ids[2]], 'the two before message 4')
  const after = await asBob.GET('/api/v1/rooms/{id}/messages', { params: { path: { id: room.id }, query: { limit: 2, after: ids[1]! } } })
  t.same(after.data?.map(m => m.id), [ids[2], ids[3]], 'the two after message 2')

  const tooMany = await asBob.GET('/api/v1/rooms/{id}/messages', { params: { path: { id: room.id }, query: { limit: 101 } } })
  t.equal(tooMany.response.status, 400)
  t.match(tooMany.error?.error, /limit/)
  const missingRoom = await asBob.GET('/api/v1/rooms/{id}/messages', { params: { path: { id: 2147483647 } } })
  t.equal(missingRoom.response.status, 404)
})

t.test('the generated SDK uploads a file (multipart) and downloads its bytes (binary), whole and in a range', async t => {
  const { baseUrl, api } = await listening(t)
  const password = 'SecureP@ssw0rd'
  const email = uniqueEmail('uploader')
  t.equal((await api.POST('/api/v1/users/register', { body: { email, password, username: 'uploader' } })).response.status, 201)
  const login = await api.POST('/api/v1/users/login', { body: { email, password } })
  const asUploader = createClient<paths>({ baseUrl, headers: { authorization: `Bearer ${login.data!.token}` } })

  const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256))
  const uploaded = await asUploader.POST('/api/v1/attachments', {
    body: { file: new Blob([bytes]) },
    // The typed body, as the multipart/form-data the route reads: one part named file, with its filename.
    bodySerializer: body => {
      const form = new FormData()
      form.append('file', body.file, 'notes.bin')
      return form
    }
  })
  t.equal(uploaded.response.status, 201, JSON.stringify(uploaded.error))
  const attachment = uploaded.data!
  t.match(attachment, { filename: 'notes.bin', content_type: 'application/octet-stream', size: bytes.length, width: null, height: null })
  t.equal(attachment.sha256, createHash('sha256').update(bytes).digest('hex'))

  const path = { params: { path: { id: attachment.id } } }
  const downloaded = await asUploader.GET('/api/v1/attachments/{id}', { ...path, parseAs: 'arrayBuffer' })
  t.equal(downloaded.response.status, 200)
  t.ok(Buffer.from(downloaded.data!).equals(bytes), 'the same bytes back')
  t.equal(downloaded.response.headers.get('etag'), `"${attachment.sha256}"`)
  t.match(downloaded.response.headers.get('content-disposition'), /^attachment; filename="notes.bin"/)

  const ranged = await asUploader.GET('/api/v1/attachments/{id}', { ...path, headers: { range: 'bytes=100-199' }, parseAs: 'blob' })
  t.equal(ranged.response.status, 206)
  t.ok(Buffer.from(await ranged.data!.arrayBuffer()).equals(bytes.subarray(100, 200)), 'a range, as a Blob')

  const empty = await asUploader.POST('/api/v1/attachments', {
    body: { file: new Blob([]) },
    bodySerializer: body => { const form = new FormData(); form.append('file', body.file, 'empty.bin'); return form }
  })
  t.equal(empty.response.status, 400)
  t.equal(empty.error?.code, 'EMPTY_FILE', 'a refusal is typed as the Error body')
  const other = await api.GET('/api/v1/attachments/{id}', path)
  t.equal(other.response.status, 401, 'no token, no bytes')
})
