import { existsSync, readdirSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import t, { type Test } from 'tap'
import { build, signUp } from '../helper.js'
import { TestS3 } from '../s3-server.js'
import { listen } from '../ws-client.js'

// Its own file, so its own process: the first upload measured is the first this process makes (in
// test/routes/attachments.test.ts it came after a dozen others). The disk driver runs first; the s3
// driver's after it.

const BOUNDARY = 'memory-boundary-3a9e'
const MiB = 1024 * 1024

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const s3server = await TestS3.start(t)
/**
 * Each driver with what it holds of an upload by design, over the 25 MiB allowed to the disk path
 * (which holds a chunk at a time): the s3 driver up to three 5 MiB parts (two in flight, one being
 * filled; src/storage/s3.ts PART_SIZE and QUEUE_SIZE), and one more part for the S3 server it talks
 * to, which runs in this process too and receives a part before writing it (measured: 28–34 MiB in
 * all; holding the file whole read 70 MiB).
 */
const drivers: Array<{ name: string, holds: number, open: (dataDir: string) => Promise<{ env: Record<string, string>, keys: () => Promise<string[]> }> }> = [
  {
    name: 'disk',
    holds: 0,
    open: async dataDir => {
      const root = join(dataDir, 'uploads')
      return {
        env: { STORAGE_DRIVER: 'disk' },
        keys: async () => existsSync(root) ? readdirSync(root, { recursive: true, withFileTypes: true }).filter(e => e.isFile()).map(e => e.name) : []
      }
    }
  },
  {
    name: 's3',
    holds: 20 * MiB,
    open: async () => {
      const { bucket, env } = await s3server.bucketEnv()
      return { env, keys: async () => await s3server.keys(bucket) }
    }
  }
]

/** POSTs a multipart upload of `size` bytes (64 KiB blocks, never held whole by the client) over real HTTP. */
async function post (base: string, auth: Record<string, string>, size: number): Promise<{ status: number, body: string }> {
  const head = Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`)
  const tail = Buffer.from(`\r\n--${BOUNDARY}--\r\n`)
  const block = Buffer.alloc(64 * 1024, 7)
  async function * body (): AsyncGenerator<Buffer> {
    yield head
    for (let sent = 0; sent < size; sent += block.length) yield block
    yield tail
  }
  return await new Promise((resolve, reject) => {
    const req = httpRequest(`${base}/api/v1/attachments`, {
      method: 'POST', headers: { ...auth, 'content-type': `multipart/form-data; boundary=${BOUNDARY}` }
    }, res => {
      let text = ''
      res.on('data', (c: Buffer) => { text += c.toString() })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
    })
    // The server may answer (413) and close before the whole body is sent.
    req.on('error', err => { if ((err as NodeJS.ErrnoException).code !== 'EPIPE' && (err as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(err) })
    Readable.from(body()).pipe(req)
  })
}

for (const driver of drivers) {
  t.test(`a 50 MiB upload streams on the ${driver.name} driver: what it holds stays far below the file`, async (t: Test) => {
    const dataDir = t.testdir()
    const storage = await driver.open(dataDir)
    const app = await build(t, { env: { DATA_DIR: dataDir, ...storage.env, MAX_UPLOAD_BYTES: String(64 * MiB) } })
    const alice = await signUp(app)
    const base = (await listen(app)).replace(/^ws/, 'http').replace(/\/ws$/, '')
    const size = 50 * MiB
    // What JavaScript holds, heap and Buffers (heapUsed + external), not RSS: RSS does not shrink
    // after a collection (the pages the app's start-up grew stay mapped, and the upload reuses
    // them), so here it read 0 MiB whatever the upload held. Two measures: the raw peak (garbage
    // included: every socket read is a fresh buffer, freed at the next scavenge), and the peak with
    // a full collection before each sample, which is what the process holds. Neither may come near
    // the file's 50 MiB; a file held whole (a Buffer.concat, an array of its chunks) would be 50.
    const used = (): number => { const m = process.memoryUsage(); return m.heapUsed + m.external }
    gc()
    const before = used()
    let peak = before
    let heldPeak = before
    let samples = 0
    const sampler = setInterval(() => {
      peak = Math.max(peak, used())
      if (++samples % 5 === 0) {
        gc()
        heldPeak = Math.max(heldPeak, used())
      }
    }, 20)
    const answer = await post(base, alice.auth, size)
    clearInterval(sampler)
    gc()
    const after = (used() - before) / MiB
    t.equal(answer.status, 201, answer.body)
    t.equal(JSON.parse(answer.body).size, size)
    const growth = (peak - before) / MiB
    const held = (heldPeak - before) / MiB
    t.comment(`Heap + external growth during a 50 MiB upload (${driver.name}): peak ${growth.toFixed(1)} MiB, held (after GC) ${held.toFixed(1)} MiB, still held after it ended ${after.toFixed(1)} MiB, ${samples} samples`)
    const limit = 25 + driver.holds / MiB
    t.ok(held < limit, `what the process holds grew ${held.toFixed(1)} MiB (< ${limit} MiB)`)
    t.ok(growth < size / MiB, `the raw peak grew ${growth.toFixed(1)} MiB, less than the file`)

    const tooBig = await post(base, alice.auth, 65 * MiB)
    t.equal(tooBig.status, 413, 'over the limit, over real HTTP: refused')
    t.equal(JSON.parse(tooBig.body).code, 'FILE_TOO_LARGE')
    t.equal((await storage.keys()).length, 1, 'only the accepted upload is stored')
  })
}
