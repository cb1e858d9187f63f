import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Baseline, type Context, startBaseline, startChatServer } from '../lib/context.js'
import { rssKiB, sleep, stop } from '../lib/proc.js'
import { row, type Row } from '../lib/report.js'
import { signUpWithRoom } from './http.js'

const MiB = 1024 * 1024
/** The file every transfer moves. */
const FILE_BYTES = 5 * MiB
/** Transfers in flight at once in the throughput phases. */
const CONCURRENCY = 2
/** Uploads at once in the memory phase. */
const MEMORY_UPLOADS = 8
/**
 * "One upload's buffer" for the memory target, on the disk driver this scenario runs: the largest
 * chunk our path holds of one upload, a 64 KiB socket read (busboy passes on pieces of it; the
 * multipart file stream, the meter and the file's write stream each hold at most one chunk, their
 * highWaterMark being Node's 16 KiB; file-type reads the first 4,100 bytes, copied once). The s3
 * driver holds up to three 5 MiB parts; that is not what runs here. 8 files held whole would be
 * 40 MiB.
 */
const BUFFER_BYTES = 64 * 1024

interface Answer { status: number, bytes: number, body: Buffer }

/** One HTTP request with a body of `chunks`; the answer's bytes are counted and, when `keep`, kept. */
async function send (agent: Agent, url: string, method: string, headers: Record<string, string>, chunks: Buffer[], keep: boolean): Promise<Answer> {
  return await new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent }, res => {
      const kept: Buffer[] = []
      let bytes = 0
      res.on('data', (chunk: Buffer) => { bytes += chunk.length; if (keep) kept.push(chunk) })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, body: Buffer.concat(kept) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    for (const chunk of chunks) req.write(chunk)
    req.end()
  })
}

/** `count` transfers, `concurrency` at a time; MiB/s over the whole. Every answer must be `status` with `expect` bytes (when given). */
async function throughput (count: number, concurrency: number, transfer: () => Promise<Answer>, status: number, expect?: number): Promise<number> {
  let next = 0
  const started = process.hrtime.bigint()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next++ < count) {
      const answer = await transfer()
      if (answer.status !== status) throw new Error(`expected ${status}, got ${answer.status}: ${answer.body.toString().slice(0, 200)}`)
      if (expect !== undefined && answer.bytes !== expect) throw new Error(`expected ${expect} bytes, got ${answer.bytes}`)
    }
  }))
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  return count * FILE_BYTES / MiB / seconds
}

/**
 * P11: a 5 MiB file uploaded (`POST /api/v1/attachments`, multipart, disk driver: counted, hashed,
 * typed, a row inserted) and downloaded (`GET /api/v1/attachments/{id}`), against
 * `baselines/files.ts` piping the same bytes between a request and a file on the same disk; then the
 * server's VmRSS during 8 concurrent uploads.
 */
export async function p11 (ctx: Context): Promise<Row[]> {
  const root = mkdtempSync(join(tmpdir(), 'chat-bench-p11-'))
  const filesDir = join(root, 'baseline')
  mkdirSync(filesDir)
  const agent = new Agent({ keepAlive: true, maxSockets: MEMORY_UPLOADS })
  const server = await startChatServer({ databaseUrl: ctx.databaseUrl, dataDir: join(root, 'chat') })
  let bare: Baseline | undefined
  try {
    const files = await startBaseline('files.ts', { BENCH_FILES_DIR: filesDir })
    bare = files
    const { token } = await signUpWithRoom(server.base, 'p11uploader')
    const file = randomBytes(FILE_BYTES)
    const sha256 = createHash('sha256').update(file).digest('hex')
    const boundary = 'bench-p11-boundary-5d2c'
    const multipart = [
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="p11.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`),
      file,
      Buffer.from(`\r\n--${boundary}--\r\n`)
    ]
    const auth = { authorization: `Bearer ${token}` }
    const ours = {
      upload: async () => await send(agent, `${server.base}/api/v1/attachments`, 'POST', { ...auth, 'content-type': `multipart/form-data; boundary=${boundary}` }, multipart, true),
      download: async (id: number) => await send(agent, `${server.base}/api/v1/attachments/${id}`, 'GET', auth, [], false)
    }
    const baseline = {
      upload: async () => await send(agent, `${files.base}/`, 'POST', { 'content-type': 'application/octet-stream', 'content-length': String(FILE_BYTES) }, [file], true),
      download: async (name: string) => await send(agent, `${files.base}/files/${name}`, 'GET', {}, [], false)
    }

    // One of each first: the files the downloads read, and a check that both sides keep the bytes.
    const first = JSON.parse((await ours.upload()).body.toString()) as { id: number, size: number, sha256: string }
    if (first.size !== FILE_BYTES || first.sha256 !== sha256) throw new Error(`our upload stored ${first.size} bytes, sha256 ${first.sha256}`)
    const name = (await baseline.upload()).body.toString()
    const check = await send(agent, `${server.base}/api/v1/attachments/${first.id}`, 'GET', auth, [], true)
    if (createHash('sha256').update(check.body).digest('hex') !== sha256) throw new Error('our download is not the bytes uploaded')

    // Memory first, while the server has done one upload and one download only (after the
    // throughput rounds its heap has grown to hold their garbage, and 8 more uploads fit in it
    // unseen): idle after a pause, then the peak while 8 uploads run at once.
    /** VmRSS of `pid` idle (after a pause) and at its peak while `uploads` run at once. */
    const rssDuring = async (pid: number, upload: () => Promise<Answer>): Promise<{ idleKiB: number, peakKiB: number, samples: number }> => {
      await sleep(1500)
      const idleKiB = rssKiB(pid)
      let peakKiB = idleKiB
      let samples = 0
      const sampler = setInterval(() => { peakKiB = Math.max(peakKiB, rssKiB(pid)); samples++ }, 5)
      try {
        await throughput(MEMORY_UPLOADS, MEMORY_UPLOADS, upload, 201)
      } finally {
        clearInterval(sampler)
      }
      return { idleKiB, peakKiB, samples }
    }
    const growth = (m: { idleKiB: number, peakKiB: number }): number => (m.peakKiB - m.idleKiB) / 1024
    const memory: Array<{ idleKiB: number, peakKiB: number, samples: number }> = []
    const bareMemory: typeof memory = []
    for (let i = 0; i < (ctx.quick ? 1 : 3); i++) {
      memory.push(await rssDuring(server.pid, ours.upload))
      // The same 8 uploads piped to files by the bare server: what Node itself costs (socket reads are fresh buffers, freed by a later GC).
      bareMemory.push(await rssDuring(files.child.pid, baseline.upload))
      ctx.log(`P11 memory ${i + 1}: VmRSS ${(memory[i]!.idleKiB / 1024).toFixed(1)} MiB idle, +${growth(memory[i]!).toFixed(1)} MiB at the peak during ${MEMORY_UPLOADS} uploads ` +
        `(${memory[i]!.samples} samples); bare server +${growth(bareMemory[i]!).toFixed(1)} MiB`)
    }
    const rounds = ctx.quick ? 1 : 3
    const count = ctx.quick ? 6 : 50
    const runs = { upload: { ours: [] as number[], baseline: [] as number[] }, download: { ours: [] as number[], baseline: [] as number[] } }
    // A warm-up of each, then baseline and ours alternately; the best round of each side.
    await throughput(2, CONCURRENCY, baseline.upload, 201)
    await throughput(2, CONCURRENCY, ours.upload, 201)
    for (let i = 0; i < rounds; i++) {
      runs.upload.baseline.push(await throughput(count, CONCURRENCY, baseline.upload, 201))
      runs.upload.ours.push(await throughput(count, CONCURRENCY, ours.upload, 201))
      runs.download.baseline.push(await throughput(count, CONCURRENCY, async () => await baseline.download(name), 200, FILE_BYTES))
      runs.download.ours.push(await throughput(count, CONCURRENCY, async () => await ours.download(first.id), 200, FILE_BYTES))
      ctx.log(`P11 round ${i + 1}: upload ours ${runs.upload.ours.at(-1)!.toFixed(0)} MiB/s, baseline ${runs.upload.baseline.at(-1)!.toFixed(0)} MiB/s; ` +
        `download ours ${runs.download.ours.at(-1)!.toFixed(0)} MiB/s, baseline ${runs.download.baseline.at(-1)!.toFixed(0)} MiB/s`)
    }

    const worst = memory.reduce((a, b) => (growth(b) > growth(a) ? b : a))
    const growthMiB = growth(worst)
    const bareGrowthMiB = Math.max(...bareMemory.map(growth))
    ctx.details.P11 = { fileBytes: FILE_BYTES, concurrency: CONCURRENCY, count, runs, memory, bareMemory, bufferBytes: BUFFER_BYTES }

    const best = (xs: number[]): number => Math.max(...xs)
    const limitMiB = 4 * BUFFER_BYTES / MiB
    return [
      row('P11', 'upload 5 MiB: MiB/s', 'MiB/s', best(runs.upload.ours), best(runs.upload.baseline), { on: 'ratio', op: '>=', value: 0.5 },
        `${count} uploads a round, ${CONCURRENCY} at a time, best of ${rounds}`),
      row('P11', 'download 5 MiB: MiB/s', 'MiB/s', best(runs.download.ours), best(runs.download.baseline), { on: 'ratio', op: '>=', value: 0.5 }),
      row('P11', `RSS above idle, ${MEMORY_UPLOADS} concurrent uploads: MiB`, 'MiB', growthMiB, bareGrowthMiB, { on: 'ours', op: '<=', value: limitMiB },
        `worst of ${memory.length}, before the throughput rounds: VmRSS ${(worst.idleKiB / 1024).toFixed(1)} → ${(worst.peakKiB / 1024).toFixed(1)} MiB; limit 4 × one upload's buffer ` +
        `(the 64 KiB socket read, the largest chunk the disk path holds): ${limitMiB} MiB; 8 files held whole would be 40 MiB; baseline: the bare server's growth for the same 8 uploads, worst of ${bareMemory.length}`)
    ]
  } finally {
    agent.destroy()
    if (bare !== undefined) await stop(bare.child)
    await stop(server.child)
    rmSync(root, { recursive: true, force: true })
  }
}
