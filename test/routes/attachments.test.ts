import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { constants, createDeflate } from 'node:zlib'
import type { FastifyInstance } from 'fastify'
import { sql } from 'kysely'
import sharp from 'sharp'
import t, { type Test } from 'tap'
import { contentDisposition } from '../../routes/attachments/index.js'
import { sweepAttachments } from '../../src/chat/attachments.js'
import { build, createRoom, fixtureUser, joinRoom, json, type Session } from '../helper.js'
import { TestS3 } from '../s3-server.js'
import { listen, TestSocket } from '../ws-client.js'

// The storage suite runs twice (disk, then s3 against a real S3-compatible server): past tap's 120 s on a busy machine.
t.setTimeout(400_000)

const BOUNDARY = 'test-boundary-7d1f0c'

/** A multipart/form-data body of the given parts. */
function multipart (parts: Array<{ name: string, filename?: string, type?: string, data: Buffer | string }>): { payload: Buffer, headers: Record<string, string> } {
  const chunks: Buffer[] = []
  for (const part of parts) {
    const disposition = `form-data; name="${part.name}"${part.filename === undefined ? '' : `; filename="${part.filename}"`}`
    chunks.push(Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: ${disposition}\r\n${part.type === undefined ? '' : `Content-Type: ${part.type}\r\n`}\r\n`))
    chunks.push(Buffer.from(part.data))
    chunks.push(Buffer.from('\r\n'))
  }
  chunks.push(Buffer.from(`--${BOUNDARY}--\r\n`))
  return { payload: Buffer.concat(chunks), headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` } }
}

async function upload (app: FastifyInstance, user: Session, data: Buffer | string, filename = 'file.bin', type = 'application/octet-stream'): Promise<{ statusCode: number, body: any }> {
  const { payload, headers } = multipart([{ name: 'file', filename, type, data }])
  const response = await app.inject({ method: 'POST', url: '/api/v1/attachments', headers: { ...user.auth, ...headers }, payload })
  return { statusCode: response.statusCode, body: response.json() }
}

async function png (width: number, height: number): Promise<Buffer> {
  return await sharp({ create: { width, height, channels: 3, background: { r: 200, g: 30, b: 90 } } }).png().toBuffer()
}

/** A PNG of a few hundred KB that declares 30000×30000 pixels (its IDAT a real deflate of 900 M zero pixels, 1 bit each). */
async function decompressionBomb (): Promise<Buffer> {
  const side = 30_000
  const crcTable = Array.from({ length: 256 }, (_, n) => { let c = n; for (let k = 0; k < 8; k++) c = (c & 1) !== 0 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; return c >>> 0 })
  const crc = (buf: Buffer): number => { let c = 0xffffffff; for (const b of buf) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0 }
  const chunk = (type: string, data: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data])
    const out = Buffer.alloc(12 + data.length)
    out.writeUInt32BE(data.length, 0); body.copy(out, 4); out.writeUInt32BE(crc(body), 8 + data.length)
    return out
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(side, 0); ihdr.writeUInt32BE(side, 4); ihdr[8] = 1; ihdr[9] = 0 // 1-bit greyscale
  const deflate = createDeflate({ level: constants.Z_BEST_COMPRESSION })
  const compressed: Buffer[] = []
  deflate.on('data', (c: Buffer) => compressed.push(c))
  const row = Buffer.alloc(1 + side / 8)
  const rows = Buffer.concat(Array.from({ length: 1000 }, () => row))
  for (let i = 0; i < side / 1000; i++) deflate.write(rows)
  await new Promise(resolve => deflate.end(resolve))
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', Buffer.concat(compressed)), chunk('IEND', Buffer.alloc(0))])
}

/** What a test sees of the storage behind its app, on either driver. */
interface Stored {
  /** Every object kept (files and thumbnails). */
  keys: () => Promise<string[]>
  /** Whether `key` was stored by a multipart upload; undefined where the driver has no such thing. */
  multipart: (key: string) => boolean | undefined
  /** A storage fault: deleting `key` fails until `allowDeletes`. */
  refuseDeletes: (key: string) => Promise<void>
  allowDeletes: (key: string) => Promise<void>
}

/** A storage driver the suite runs on: the app's environment for it, and what the test sees of it. */
interface Driver {
  name: 'disk' | 's3'
  open: (dataDir: string) => Promise<{ env: Record<string, string>, stored: Stored }>
}

const disk: Driver = {
  name: 'disk',
  open: async dataDir => {
    const root = join(dataDir, 'uploads')
    const pathOf = (key: string): string => join(root, key.slice(0, 2), key)
    return {
      env: { STORAGE_DRIVER: 'disk' },
      stored: {
        keys: async () => existsSync(root) ? readdirSync(root, { recursive: true, withFileTypes: true }).filter(e => e.isFile()).map(e => e.name) : [],
        multipart: () => undefined,
        // A directory where the file was: unlink fails (EISDIR / EPERM), as a real storage fault would.
        refuseDeletes: async key => {
          rmSync(pathOf(key))
          mkdirSync(join(pathOf(key), 'inside'), { recursive: true })
        },
        allowDeletes: async key => { rmSync(pathOf(key), { recursive: true }) }
      }
    }
  }
}

/** A real S3-compatible server for the whole file; each app gets a bucket of its own. */
const s3server = await TestS3.start(t)
const s3: Driver = {
  name: 's3',
  open: async () => {
    const { bucket, env } = await s3server.bucketEnv()
    return {
      env,
      stored: {
        keys: async () => await s3server.keys(bucket),
        multipart: key => s3server.created.get(key) === 'ObjectCreated:Post',
        // The server is gone (every request fails) until it is brought back, with its objects.
        refuseDeletes: async () => { await s3server.stop() },
        allowDeletes: async () => { await s3server.restart() }
      }
    }
  }
}

interface SetupOptions { driver?: Driver, env?: Record<string, string>, engine?: 'postgres' | 'embedded' }

async function setup (t: Test, { driver = disk, env = {}, engine = 'postgres' }: SetupOptions = {}): Promise<{ app: FastifyInstance, stored: Stored, alice: Session, bob: Session, carol: Session, room: number }> {
  const dataDir = t.testdir()
  const storage = await driver.open(dataDir)
  const app = await build(t, { env: { DATA_DIR: dataDir, ...storage.env, ...env }, engine })
  const [alice, bob, carol] = [await fixtureUser(app), await fixtureUser(app), await fixtureUser(app)]
  const room = await createRoom(app, alice, 'files')
  await joinRoom(app, bob, room)
  return { app, stored: storage.stored, alice, bob, carol, room }
}

const send = async (app: FastifyInstance, user: Session, payload: Record<string, unknown>) =>
  await app.inject({ method: 'POST', url: '/api/v1/messages', headers: user.auth, payload })

t.test('RATE_LIMIT_UPLOADS: per user an hour, then 429', async t => {
  const { app, alice, bob } = await setup(t, { env: { RATE_LIMIT_UPLOADS: '2' } })
  t.equal((await upload(app, alice, 'a')).statusCode, 201)
  t.equal((await upload(app, alice, 'b')).statusCode, 201)
  const third = await upload(app, alice, 'c')
  t.equal(third.statusCode, 429)
  t.equal((await upload(app, bob, 'd')).statusCode, 201, 'another user has a budget of their own')
})

t.test('attachment_ids on a send: own uploads not yet attached, else 400 INVALID_ATTACHMENT; content may then be empty', async t => {
  const { app, alice, bob, room } = await setup(t)
  const a = (await upload(app, alice, await png(40, 30), 'a.png')).body
  const b = (await upload(app, alice, 'notes', 'b.txt')).body
  const bobs = (await upload(app, bob, 'bob', 'bob.txt')).body

  const sent = await send(app, alice, { room_id: room, content: '', attachment_ids: [b.id, a.id] })
  t.equal(sent.statusCode, 201, sent.body)
  const message = sent.json()
  t.equal(message.content, '')
  t.same(message.attachments.map((x: { id: number }) => x.id), [a.id, b.id], 'attached, in upload order')
  t.match(message.attachments[0], { filename: 'a.png', content_type: 'image/png', width: 40, height: 30, sha256: a.sha256 })

  const history = await app.inject({ method: 'GET', url: `/api/v1/rooms/${room}/messages`, headers: bob.auth })
  t.same(json(history).at(-1).attachments.map((x: { id: number }) => x.id), [a.id, b.id], 'history shows them')

  for (const [label, ids] of [['already attached', [a.id]], ['someone else\'s', [bobs.id]], ['no such upload', [987654]], ['named twice', [bobs.id, bobs.id]],
    ['more than 10', Array.from({ length: 11 }, (_, i) => i + 1)]] as const) {
    const refused = await send(app, alice, { room_id: room, content: 'x', attachment_ids: ids })
    t.equal(refused.statusCode, 400, label)
    t.equal(refused.json().code, 'INVALID_ATTACHMENT', label)
  }
  const c = (await upload(app, alice, 'c', 'c.txt')).body
  const mixed = await send(app, alice, { room_id: room, content: 'x', attachment_ids: [c.id, bobs.id] })
  t.equal(mixed.json().code, 'INVALID_ATTACHMENT')
  const [row] = await app.db.selectFrom('attachments').select('message_id').where('id', '=', c.id).execute()
  t.equal(row!.message_id, null, 'a refused send attaches nothing')
  const seqs = await app.db.selectFrom('rooms').select('last_seq').where('id', '=', room).executeTakeFirstOrThrow()
  t.equal(seqs.last_seq, message.seq, 'and uses no seq')

  const emptyWithout = await send(app, alice, { room_id: room, content: '  ' })
  t.equal(emptyWithout.statusCode, 400, 'no attachments: content must not be empty')
  const outsider = await fixtureUser(app)
  const outsiders = (await upload(app, outsider, 'o')).body
  const notMember = await send(app, outsider, { room_id: room, content: 'hi', attachment_ids: [outsiders.id] })
  t.equal(notMember.statusCode, 403, 'membership is told first')
  const plain = await send(app, alice, { room_id: room, content: 'no files' })
  t.same(plain.json().attachments, [])
})

t.test('message:send over the WebSocket takes attachment_ids too, and message:new carries them', async t => {
  const { app, alice, bob, room } = await setup(t)
  const url = await listen(app)
  const bobSocket = await TestSocket.as(t, url, bob)
  const aliceSocket = await TestSocket.as(t, url, alice)
  const a = (await upload(app, alice, 'over the socket', 'ws.txt')).body
  aliceSocket.send({ type: 'message:send', payload: { room_id: room, content: '', attachment_ids: [a.id] } })
  const frame = await bobSocket.next(f => f.type === 'message:new')
  t.same(frame.payload.attachments.map((x: { id: number }) => x.id), [a.id])
  aliceSocket.send({ type: 'message:send', payload: { room_id: room, content: 'again', attachment_ids: [a.id] } })
  const error = await aliceSocket.error()
  t.equal(error.payload.code, 'INVALID_ATTACHMENT')
})

// The storage suite, once on each driver: the same uploads, downloads, ranges, thumbnails and deletes.
for (const driver of [disk, s3]) {
  t.test(`on the ${driver.name} driver`, async t => {
    t.test('POST /attachments: streamed, typed from its bytes, hashed, measured', async t => {
      const { app, stored, alice } = await setup(t, { driver })
      const image = await png(1000, 500)
      const saved = await upload(app, alice, image, 'holiday.txt', 'text/plain')
      t.equal(saved.statusCode, 201)
      t.match(saved.body, { filename: 'holiday.txt', content_type: 'image/png', size: image.length, width: 1000, height: 500 })
      t.equal(saved.body.sha256, createHash('sha256').update(image).digest('hex'))
      t.equal((await stored.keys()).length, 1, 'one file in storage')

      const notes = await upload(app, alice, 'just some text\n', '../../etc/passwd', 'image/png')
      t.equal(notes.statusCode, 201)
      t.equal(notes.body.content_type, 'application/octet-stream', 'unknown bytes: octet-stream, whatever the client said')
      t.equal(notes.body.filename, 'passwd', 'no path survives in the filename')
      t.equal(notes.body.width, null)
      const { storage_key: key } = await app.db.selectFrom('attachments').select('storage_key').where('id', '=', notes.body.id).executeTakeFirstOrThrow()
      t.match(key, /^[0-9a-f]{32}$/, 'the storage key is random, not the filename')
      t.ok((await stored.keys()).includes(key), 'and the object is stored under it')
    })

    t.test('POST /attachments refusals: 400 empty or no file, 415 not multipart, 413 over the limit (nothing kept)', async t => {
      const { app, stored, alice } = await setup(t, { driver, env: { MAX_UPLOAD_BYTES: '1000' } })
      const empty = await upload(app, alice, '')
      t.equal(empty.statusCode, 400)
      t.equal(empty.body.code, 'EMPTY_FILE')

      const field = multipart([{ name: 'note', data: 'no file here' }])
      const none = await app.inject({ method: 'POST', url: '/api/v1/attachments', headers: { ...alice.auth, ...field.headers }, payload: field.payload })
      t.equal(none.statusCode, 400)
      t.equal(none.json().code, 'NO_FILE')

      const wrongName = multipart([{ name: 'upload', filename: 'a.bin', data: 'abc' }])
      const misnamed = await app.inject({ method: 'POST', url: '/api/v1/attachments', headers: { ...alice.auth, ...wrongName.headers }, payload: wrongName.payload })
      t.equal(misnamed.statusCode, 400, 'a file part not named file is no file')

      const asJson = await app.inject({ method: 'POST', url: '/api/v1/attachments', headers: alice.auth, payload: { file: 'abc' } })
      t.equal(asJson.statusCode, 415)
      t.equal(asJson.json().code, 'UNSUPPORTED_MEDIA_TYPE')
      const asText = await app.inject({ method: 'POST', url: '/api/v1/attachments', headers: { ...alice.auth, 'content-type': 'text/plain' }, payload: 'abc' })
      t.equal(asText.statusCode, 415)

      const exact = await upload(app, alice, Buffer.alloc(1000, 1))
      t.equal(exact.statusCode, 201, 'exactly MAX_UPLOAD_BYTES is allowed')
      const tooBig = await upload(app, alice, Buffer.alloc(1001, 1))
      t.equal(tooBig.statusCode, 413)
      t.equal(tooBig.body.code, 'FILE_TOO_LARGE')
      const huge = await upload(app, alice, Buffer.alloc(200_000, 1))
      t.equal(huge.statusCode, 413)
      const rows = await app.db.selectFrom('attachments').select('id').execute()
      t.equal(rows.length, 1, 'no row for the refused uploads')
      t.equal((await stored.keys()).length, 1, 'no partial file left behind')

      const anonymous = await app.inject({ method: 'POST', url: '/api/v1/attachments', headers: multipart([]).headers, payload: multipart([]).payload })
      t.equal(anonymous.statusCode, 401)
    })

    t.test('GET /attachments/{id}: the uploader and the room\'s members; headers; ETag, Range', async t => {
      const { app, alice, bob, carol, room } = await setup(t, { driver })
      const bytes = Buffer.from('0123456789abcdefghij')
      const doc = (await upload(app, alice, bytes, 'Résumé final;%.txt')).body
      const get = async (user: Session, headers: Record<string, string> = {}, id = doc.id) =>
        await app.inject({ method: 'GET', url: `/api/v1/attachments/${id}`, headers: { ...user.auth, ...headers } })

      const own = await get(alice)
      t.equal(own.statusCode, 200, 'the uploader, before it is attached')
      t.equal(own.body, bytes.toString())
      const missing = await get(carol, {}, 999999)
      t.equal(missing.statusCode, 404)
      t.equal((await get(bob)).statusCode, 404, 'not attached yet: nobody else')
      t.same((await get(bob)).json(), missing.json(), 'the same answer as a missing id')

      await send(app, alice, { room_id: room, content: 'cv', attachment_ids: [doc.id] })
      const member = await get(bob)
      t.equal(member.statusCode, 200, 'a member of the room it was posted in')
      t.equal(member.headers['content-type'], 'application/octet-stream')
      t.equal(member.headers['x-content-type-options'], 'nosniff')
      t.equal(member.headers['content-security-policy'], 'sandbox')
      t.equal(member.headers['cache-control'], 'private')
      t.equal(member.headers.etag, `"${doc.sha256}"`)
      t.equal(member.headers['content-length'], String(bytes.length))
      t.equal(member.headers['content-disposition'], 'attachment; filename="R_sum_ final;_.txt"; filename*=UTF-8\'\'R%C3%A9sum%C3%A9%20final%3B%25.txt')
      t.equal(contentDisposition('attachment', 'a "quoted"\\name\'s (1).txt'), 'attachment; filename="a _quoted__name\'s (1).txt"; filename*=UTF-8\'\'a%20%22quoted%22%5Cname%27s%20%281%29.txt',
        'quotes and backslashes never reach the quoted form')
      const outsider = await get(carol)
      t.equal(outsider.statusCode, 404, 'not a member')
      t.same(outsider.json(), missing.json())

      const cached = await get(bob, { 'if-none-match': `"${doc.sha256}"` })
      t.equal(cached.statusCode, 304)
      t.equal(cached.body, '')
      t.equal((await get(bob, { 'if-none-match': '"other"' })).statusCode, 200)

      const part = await get(bob, { range: 'bytes=2-5' })
      t.equal(part.statusCode, 206)
      t.equal(part.body, '2345')
      t.equal(part.headers['content-range'], `bytes 2-5/${bytes.length}`)
      const tail = await get(bob, { range: 'bytes=-3' })
      t.equal(tail.body, 'hij')
      t.equal((await get(bob, { range: 'bytes=15-' })).body, 'fghij')
      const past = await get(bob, { range: 'bytes=20-' })
      t.equal(past.statusCode, 416)
      t.equal(past.headers['content-range'], `bytes */${bytes.length}`)
      t.equal((await get(bob, { range: 'bytes=1-2,4-5' })).statusCode, 200, 'several ranges: the whole file')

      const image = (await upload(app, alice, await png(10, 10), 'dot.png')).body
      t.match((await get(alice, {}, image.id)).headers['content-disposition'], /^inline; /, 'PNG: inline')
      t.equal((await get(alice, {}, image.id)).headers['content-type'], 'image/png')
    })

    t.test('thumbnails: at most 320 px, made once; 404 for non-images and decompression bombs', async t => {
      const { app, alice, bob } = await setup(t, { driver })
      const wide = (await upload(app, alice, await png(1000, 500), 'wide.png')).body
      const thumb = await app.inject({ method: 'GET', url: `/api/v1/attachments/${wide.id}/thumbnail`, headers: alice.auth })
      t.equal(thumb.statusCode, 200)
      t.equal(thumb.headers['content-type'], 'image/png')
      const meta = await sharp(thumb.rawPayload).metadata()
      t.same([meta.width, meta.height], [320, 160])
      const [row] = await app.db.selectFrom('attachments').select('thumbnail_key').where('id', '=', wide.id).execute()
      t.ok(row!.thumbnail_key, 'stored')
      const again = await app.inject({ method: 'GET', url: `/api/v1/attachments/${wide.id}/thumbnail`, headers: alice.auth })
      t.equal(again.headers.etag, thumb.headers.etag, 'the same thumbnail the second time')
      const [after] = await app.db.selectFrom('attachments').select('thumbnail_key').where('id', '=', wide.id).execute()
      t.equal(after!.thumbnail_key, row!.thumbnail_key, 'made once')

      const small = (await upload(app, alice, await png(100, 50), 'small.png')).body
      const smallThumb = await app.inject({ method: 'GET', url: `/api/v1/attachments/${small.id}/thumbnail`, headers: alice.auth })
      t.same([(await sharp(smallThumb.rawPayload).metadata()).width], [100], 'never enlarged')

      const text = (await upload(app, alice, 'plain', 'a.txt')).body
      const none = await app.inject({ method: 'GET', url: `/api/v1/attachments/${text.id}/thumbnail`, headers: alice.auth })
      t.equal(none.statusCode, 404)
      t.equal(none.json().code, 'NO_THUMBNAIL')
      t.equal((await app.inject({ method: 'GET', url: `/api/v1/attachments/${wide.id}/thumbnail`, headers: bob.auth })).statusCode, 404, 'not readable: 404')

      const bombBytes = await decompressionBomb()
      t.ok(bombBytes.length < 1_000_000, `the bomb is small (${bombBytes.length} bytes)`)
      const bomb = await upload(app, alice, bombBytes, 'bomb.png')
      t.equal(bomb.statusCode, 201)
      t.match(bomb.body, { content_type: 'image/png', width: 30000, height: 30000 }, 'its header is read, nothing decoded')
      const started = Date.now()
      const refused = await app.inject({ method: 'GET', url: `/api/v1/attachments/${bomb.body.id}/thumbnail`, headers: alice.auth })
      t.equal(refused.statusCode, 404)
      t.equal(refused.json().code, 'NO_THUMBNAIL')
      t.ok(Date.now() - started < 2000, 'refused at once, not decoded')
    })

    t.test('deleting a message or a room deletes its files; the sweep removes expired uploads, one instance at a time', async t => {
      const { app, stored, alice, bob, room } = await setup(t, { driver })
      const a = (await upload(app, alice, 'a')).body
      const message = (await send(app, alice, { room_id: room, content: 'x', attachment_ids: [a.id] })).json()
      t.equal((await stored.keys()).length, 1)
      const deleted = await app.inject({ method: 'DELETE', url: `/api/v1/messages/${message.id}`, headers: alice.auth })
      t.equal(deleted.statusCode, 204)
      t.equal((await app.inject({ method: 'GET', url: `/api/v1/attachments/${a.id}`, headers: alice.auth })).statusCode, 404)
      t.equal((await stored.keys()).length, 0, 'its file is gone')
      t.equal((await app.db.selectFrom('attachments').select('id').execute()).length, 0, 'then its row')
      const history = await app.inject({ method: 'GET', url: `/api/v1/rooms/${room}/messages`, headers: bob.auth })
      t.same(json(history)[0].attachments, [], 'a tombstone has no attachments')

      const b = (await upload(app, alice, await png(500, 500), 'b.png')).body
      await send(app, alice, { room_id: room, content: 'y', attachment_ids: [b.id] })
      await app.inject({ method: 'GET', url: `/api/v1/attachments/${b.id}/thumbnail`, headers: alice.auth })
      t.equal((await stored.keys()).length, 2, 'the file and its thumbnail')
      t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/rooms/${room}`, headers: alice.auth })).statusCode, 204)
      t.equal((await stored.keys()).length, 0, 'a deleted room\'s files are gone, thumbnails too')
      t.equal((await app.db.selectFrom('attachments').select('id').execute()).length, 0)

      const fresh = (await upload(app, alice, 'fresh')).body
      const old = (await upload(app, alice, 'old')).body
      await sql`update attachments set created_at = now() - interval '25 hours' where id = ${old.id}`.execute(app.db)
      const deps = { db: app.db, storage: app.storage, log: app.log }
      // Another instance sweeping: this one skips its turn.
      const otherInstance = await app.db.transaction().execute(async trx => {
        await sql`select pg_advisory_xact_lock(hashtext('chat-app:attachment-sweep'))`.execute(trx)
        return await sweepAttachments(deps, 24)
      })
      t.equal(otherInstance, undefined, 'the lock is held elsewhere: nothing swept')
      t.equal(await sweepAttachments(deps, 24), 1, 'one expired upload swept')
      const left = await app.db.selectFrom('attachments').select('id').execute()
      t.same(left.map(r => r.id), [fresh.id], 'the fresh one stays')
      t.equal((await stored.keys()).length, 1)
      t.equal((await send(app, alice, { room_id: await createRoom(app, alice, 'r2'), content: 'x', attachment_ids: [old.id] })).json().code, 'INVALID_ATTACHMENT', 'a swept upload cannot be attached')
    })

    t.test('a storage delete that fails leaves the row marked (never served) for the sweep to finish', async t => {
      const { app, stored, alice, room } = await setup(t, { driver })
      const a = (await upload(app, alice, 'stubborn')).body
      const message = (await send(app, alice, { room_id: room, content: 'x', attachment_ids: [a.id] })).json()
      const { storage_key: key } = await app.db.selectFrom('attachments').select('storage_key').where('id', '=', a.id).executeTakeFirstOrThrow()
      await stored.refuseDeletes(key)
      t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/messages/${message.id}`, headers: alice.auth })).statusCode, 204, 'the delete itself succeeds')
      const row = await app.db.selectFrom('attachments').select(['deleted_at']).where('id', '=', a.id).executeTakeFirst()
      t.ok(row?.deleted_at, 'the row stays, marked')
      t.equal((await app.inject({ method: 'GET', url: `/api/v1/attachments/${a.id}`, headers: alice.auth })).statusCode, 404, 'and is never served')
      const deps = { db: app.db, storage: app.storage, log: app.log }
      t.equal(await sweepAttachments(deps, 24), 0, 'the sweep tries again and fails again: the row stays')
      await stored.allowDeletes(key)
      t.equal(await sweepAttachments(deps, 24), 1, 'once storage lets it, the sweep deletes it')
      t.equal((await app.db.selectFrom('attachments').select('id').execute()).length, 0)
      t.same(await stored.keys(), [], 'and its file is gone')
    })

    t.test('a large upload (past S3\'s 5 MiB part: multipart on s3) comes back byte for byte, whole and in ranges', async t => {
      const { app, stored, alice } = await setup(t, { driver, env: { MAX_UPLOAD_BYTES: String(32 * 1024 * 1024) } })
      const bytes = randomBytes(12 * 1024 * 1024 + 12345)
      const sha256 = createHash('sha256').update(bytes).digest('hex')
      const saved = await upload(app, alice, bytes, 'large.bin')
      t.equal(saved.statusCode, 201, JSON.stringify(saved.body))
      t.match(saved.body, { size: bytes.length, sha256 })
      const { storage_key: key } = await app.db.selectFrom('attachments').select('storage_key').where('id', '=', saved.body.id).executeTakeFirstOrThrow()
      if (driver.name === 's3') t.equal(stored.multipart(key), true, 'uploaded to S3 in parts (a multipart upload)')
      const whole = await app.inject({ method: 'GET', url: `/api/v1/attachments/${saved.body.id}`, headers: alice.auth })
      t.equal(whole.statusCode, 200)
      t.equal(whole.rawPayload.length, bytes.length)
      t.equal(createHash('sha256').update(whole.rawPayload).digest('hex'), sha256, 'the SHA-256 of the download is the upload\'s')
      // A range across the first part boundary (5 MiB), and the last bytes.
      const start = 5 * 1024 * 1024 - 100
      const across = await app.inject({ method: 'GET', url: `/api/v1/attachments/${saved.body.id}`, headers: { ...alice.auth, range: `bytes=${start}-${start + 199}` } })
      t.equal(across.statusCode, 206)
      t.ok(across.rawPayload.equals(bytes.subarray(start, start + 200)), 'a range across a part boundary')
      const last = await app.inject({ method: 'GET', url: `/api/v1/attachments/${saved.body.id}`, headers: { ...alice.auth, range: 'bytes=-10' } })
      t.ok(last.rawPayload.equals(bytes.subarray(-10)), 'the last 10 bytes')
      t.same(await stored.keys(), [key])
    })

    t.test('on the embedded engine: upload, attach, read, delete', async t => {
      const { app, stored, alice, bob, carol, room } = await setup(t, { driver, engine: 'embedded' })
      const a = (await upload(app, alice, await png(64, 64), 'e.png')).body
      t.equal(a.content_type, 'image/png')
      const message = (await send(app, alice, { room_id: room, content: '', attachment_ids: [a.id] })).json()
      t.same(message.attachments.map((x: { id: number }) => x.id), [a.id])
      t.equal((await app.inject({ method: 'GET', url: `/api/v1/attachments/${a.id}`, headers: bob.auth })).statusCode, 200)
      t.equal((await app.inject({ method: 'GET', url: `/api/v1/attachments/${a.id}`, headers: carol.auth })).statusCode, 404)
      await app.inject({ method: 'DELETE', url: `/api/v1/messages/${message.id}`, headers: alice.auth })
      t.equal((await stored.keys()).length, 0)
    })
  })
}
