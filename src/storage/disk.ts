import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, rename, rm, stat, unlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { type ByteRange, type Storage, StorageNotFound } from './index.js'
import { isStorageKey } from './keys.js'

/**
 * The disk driver: each object a file under `dir`, in a subdirectory named by the key's first two
 * characters. A put writes to a `.part` file and renames it when complete, so a reader never sees
 * half a file and a failed put leaves nothing under the key. `dir` undefined: a temporary
 * directory of this process, removed on close (DATA_DIR=memory://, the tests).
 */
export async function diskStorage (dir: string | undefined): Promise<Storage> {
  const temporary = dir === undefined
  const root = dir ?? await mkdtemp(join(tmpdir(), 'chat-uploads-'))
  await mkdir(root, { recursive: true })
  const pathOf = (key: string): string => {
    if (!isStorageKey(key)) throw new Error(`not a storage key: ${key.slice(0, 40)}`)
    return join(root, key.slice(0, 2), key)
  }
  return {
    async put (key, body: Readable) {
      const path = pathOf(key)
      await mkdir(join(root, key.slice(0, 2)), { recursive: true })
      const part = `${path}.part`
      try {
        await pipeline(body, createWriteStream(part, { flags: 'wx' }))
        await rename(part, path)
      } catch (err) {
        await rm(part, { force: true })
        throw err
      }
      return (await stat(path)).size
    },
    async get (key, range?: ByteRange) {
      const path = pathOf(key)
      // Opened before it is returned, so a missing file is an error here, not on the stream later.
      const stream = createReadStream(path, range === undefined ? {} : { start: range.start, end: range.end })
      await new Promise<void>((resolve, reject) => {
        stream.once('open', () => resolve())
        stream.once('error', err => reject((err as NodeJS.ErrnoException).code === 'ENOENT' ? new StorageNotFound(key) : err))
      })
      return stream
    },
    async delete (key) {
      try {
        await unlink(pathOf(key))
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      }
    },
    async close () {
      if (temporary) await rm(root, { recursive: true, force: true })
    }
  }
}
