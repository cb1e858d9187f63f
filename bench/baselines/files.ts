/**
 * Baseline for P11: a bare node:http server that streams bytes between a request and a file, the
 * physical limit of an upload and a download on this disk. `POST /` pipes the request body into a
 * new file under BENCH_FILES_DIR (201 with its name); `GET /files/<name>` streams that file back
 * (200, Content-Length). No multipart parsing, no hashing, no auth, no database.
 * PORT and BENCH_FILES_DIR from the environment.
 */
import { randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'

const dir = process.env.BENCH_FILES_DIR ?? ''

const server = createServer((request, response) => {
  const done = (status: number, body = ''): void => { response.writeHead(status, { 'content-type': 'text/plain' }).end(body) }
  if (request.method === 'POST' && request.url === '/') {
    const name = randomBytes(16).toString('hex')
    pipeline(request, createWriteStream(join(dir, name), { flags: 'wx' })).then(() => done(201, name), () => done(500))
    return
  }
  const match = request.method === 'GET' ? /^\/files\/([0-9a-f]{32})$/.exec(request.url ?? '') : null
  if (match?.[1] !== undefined) {
    const path = join(dir, match[1])
    stat(path).then(async ({ size }) => {
      response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size })
      await pipeline(createReadStream(path), response)
    }, () => done(404))
    return
  }
  // For the bench to see that it is up.
  done(request.url === '/' ? 200 : 404, 'ok')
})
server.listen(Number(process.env.PORT), '127.0.0.1')
process.on('SIGTERM', () => { server.close(() => process.exit(0)) })
