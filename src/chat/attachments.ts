import { createHash } from 'node:crypto'
import { pipeline, type Readable, Transform, type TransformCallback } from 'node:stream'
import type Sharp from 'sharp'
import { attachmentFor, deleteAttachmentRows, type DoomedFile, filesToDelete, insertAttachment, markExpiredUploads, setThumbnail, type StoredAttachment, trySweepLock } from '../../db/attachments.js'
import type { Db } from '../../db/database.js'
import { AppError, badRequest, notFound } from '../errors.js'
import type { AttachmentView } from '../schemas/messages.js'
import { randomStorageKey, type Storage } from '../storage/index.js'

/** The one answer for an attachment the caller may not read, whether it exists or not. */
export const attachmentNotFound = (): Error => notFound('Attachment not found', 'ATTACHMENT_NOT_FOUND')

/** The most pixels an image may have to be decoded (thumbnails): more is a decompression bomb, refused. */
export const PIXEL_LIMIT = 50_000_000
/** Thumbnails: at most this many pixels on the longer side. */
export const THUMBNAIL_MAX = 320
/** The types a browser may show inline (everything else is a download) and that get thumbnails. */
export const INLINE_TYPES: ReadonlySet<string> = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp'])
/** How many leading bytes the type is read from (file-type's reasonable sample). */
const SNIFF_BYTES = 4100

interface Deps { db: Db, storage: Storage }
interface Log { warn: (obj: object, msg: string) => void }

/**
 * Counts the bytes streaming through, hashes them (SHA-256) and keeps the first `SNIFF_BYTES`;
 * fails with 413 as soon as more than `maxBytes` went through, so an oversize upload is refused
 * while it streams, never held.
 */
class Meter extends Transform {
  size = 0
  readonly hash = createHash('sha256')
  private readonly head: Buffer[] = []
  private headBytes = 0
  constructor (private readonly maxBytes: number) { super() }

  override _transform (chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.size += chunk.length
    if (this.size > this.maxBytes) {
      done(new AppError(413, `The file is larger than the ${this.maxBytes} bytes allowed`, 'FILE_TOO_LARGE'))
      return
    }
    this.hash.update(chunk)
    if (this.headBytes < SNIFF_BYTES) {
      const part = chunk.subarray(0, SNIFF_BYTES - this.headBytes)
      this.head.push(Buffer.from(part))
      this.headBytes += part.length
    }
    done(null, chunk)
  }

  get first (): Buffer { return Buffer.concat(this.head) }
}

/** sharp (libvips, a native module) is loaded with the first image it reads, not at every start (bench/README P8). */
async function loadSharp (): Promise<typeof Sharp> {
  return (await import('sharp')).default
}

/** Image dimensions from the stored file's header (sharp reads the header only; nothing is decoded). */
async function dimensionsOf (storage: Storage, key: string): Promise<{ width: number | null, height: number | null }> {
  const sharp = await loadSharp()
  const stream = await storage.get(key)
  const reader = sharp({ limitInputPixels: false })
  stream.pipe(reader)
  try {
    const { width, height } = await reader.metadata()
    return { width: width ?? null, height: height ?? null }
  } catch {
    // Not an image sharp can read after all (a truncated one, say): stored as a file.
    return { width: null, height: null }
  } finally {
    stream.destroy()
  }
}

/** A filename for display: the last path segment, no controls, at most 255 characters; `file` when nothing is left. */
export function displayName (raw: string | undefined): string {
  const base = (raw ?? '').toWellFormed().split(/[/\\]/).pop() ?? ''
  // eslint-disable-next-line no-control-regex
  const clean = base.replace(/[\u0000-\u001f\u007f-\u009f]/g, '').trim()
  return [...clean].slice(0, 255).join('') || 'file'
}

/**
 * Stores an upload: streamed to storage under a random key while counted, hashed and sniffed (its
 * type from its first bytes, never from the client; unknown: application/octet-stream). Images
 * get their dimensions from the header. Over `maxBytes`: 413, the partial file deleted, no row;
 * empty: 400. Returns the Attachment.
 */
export async function uploadAttachment ({ db, storage }: Deps, userId: number, file: { filename: string | undefined, stream: Readable }, maxBytes: number): Promise<AttachmentView> {
  const key = randomStorageKey()
  const meter = new Meter(maxBytes)
  try {
    // The source is destroyed with the meter when it refuses (and the other way round).
    await storage.put(key, pipeline(file.stream, meter, () => {}))
  } catch (err) {
    await storage.delete(key)
    throw err
  }
  try {
    if (meter.size === 0) throw badRequest('file must not be empty', 'EMPTY_FILE')
    // file-type (two dozen modules) is loaded with the first upload, not at every start (bench/README P8).
    const { fileTypeFromBuffer } = await import('file-type')
    const type = await fileTypeFromBuffer(meter.first)
    const contentType = type?.mime ?? 'application/octet-stream'
    const { width, height } = INLINE_TYPES.has(contentType) ? await dimensionsOf(storage, key) : { width: null, height: null }
    return await insertAttachment(db, {
      user_id: userId, storage_key: key, filename: displayName(file.filename), content_type: contentType, size: meter.size, sha256: meter.hash.digest('hex'), width, height
    })
  } catch (err) {
    await storage.delete(key)
    throw err
  }
}

/** An attachment the user may read (its uploader, or a member of the room it was posted in); 404 ATTACHMENT_NOT_FOUND otherwise. */
export async function readableAttachment (db: Db, userId: number, id: number): Promise<StoredAttachment> {
  const attachment = await attachmentFor(db, id, userId)
  if (attachment === undefined || !attachment.readable) throw attachmentNotFound()
  return attachment
}

/**
 * The attachment's thumbnail key, made on first request and stored: at most 320 px on the longer
 * side, for PNG, JPEG, GIF and WebP (404 NO_THUMBNAIL for anything else, and for an image over
 * PIXEL_LIMIT pixels, which is never decoded).
 */
export async function thumbnailOf ({ db, storage }: Deps, userId: number, attachment: StoredAttachment): Promise<{ key: string, contentType: string }> {
  const contentType = attachment.content_type === 'image/jpeg' ? 'image/jpeg' : 'image/png'
  if (attachment.thumbnail_key !== null) return { key: attachment.thumbnail_key, contentType }
  const { width, height } = attachment
  if (!INLINE_TYPES.has(attachment.content_type) || width === null || height === null || width * height > PIXEL_LIMIT) {
    throw notFound('This attachment has no thumbnail (not an image that can be shown)', 'NO_THUMBNAIL')
  }
  const key = `${randomStorageKey()}.thumb`
  const sharp = await loadSharp()
  const source = await storage.get(attachment.storage_key)
  const resizer = sharp({ limitInputPixels: PIXEL_LIMIT, failOn: 'error' })
    .rotate()
    .resize(THUMBNAIL_MAX, THUMBNAIL_MAX, { fit: 'inside', withoutEnlargement: true })
  const output = contentType === 'image/jpeg' ? resizer.jpeg({ quality: 80 }) : resizer.png()
  source.on('error', err => output.destroy(err))
  try {
    await storage.put(key, source.pipe(output))
  } catch (err) {
    source.destroy()
    await storage.delete(key)
    // sharp refuses what it cannot decode (a corrupt image, more pixels than the limit).
    if (err instanceof Error && !(err instanceof AppError) && /pixel limit|Input|unsupported|corrupt|premature/i.test(err.message)) {
      throw notFound('This attachment has no thumbnail (its image cannot be decoded)', 'NO_THUMBNAIL')
    }
    throw err
  }
  if (await setThumbnail(db, attachment.id, key)) return { key, contentType }
  // Another request stored one first: keep that one.
  await storage.delete(key)
  const again = await readableAttachment(db, userId, attachment.id)
  if (again.thumbnail_key === null) throw attachmentNotFound()
  return { key: again.thumbnail_key, contentType }
}

/**
 * Deletes files whose rows are marked (their message or room went, or they expired): each file
 * (and thumbnail) from storage, then its row. A file whose delete fails keeps its row, marked and
 * never served, for the next sweep to try again: no row ever points to nothing it claims to have.
 */
export async function purgeFiles ({ db, storage, log }: Deps & { log: Log }, files: DoomedFile[]): Promise<number> {
  const done: number[] = []
  for (const file of files) {
    try {
      await storage.delete(file.storage_key)
      if (file.thumbnail_key !== null) await storage.delete(file.thumbnail_key)
      done.push(file.id)
    } catch (err) {
      log.warn({ err, attachment: file.id }, 'could not delete an attachment\'s file; the sweep retries')
    }
  }
  await deleteAttachmentRows(db, done)
  return done.length
}

/**
 * The periodic sweep: marks uploads never attached within `ttlHours`, then deletes the marked
 * files (a batch). One instance at a time (an advisory lock held for the transaction; the others
 * skip their turn). Returns how many files were deleted (undefined: another instance was sweeping).
 */
export async function sweepAttachments (deps: Deps & { log: Log }, ttlHours: number, batch = 500): Promise<number | undefined> {
  return await deps.db.transaction().execute(async trx => {
    if (!await trySweepLock(trx)) return undefined
    await markExpiredUploads(trx, ttlHours)
    return await purgeFiles({ ...deps, db: trx }, await filesToDelete(trx, batch))
  })
}
