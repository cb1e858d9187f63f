import { pipeline, type Readable, Transform, type TransformCallback } from 'node:stream'
import { DeleteObjectCommand, GetObjectCommand, NoSuchKey, S3Client, S3ServiceException } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import type { Config } from '../config.js'
import { type ByteRange, type Storage, StorageNotFound } from './index.js'
import { isStorageKey } from './keys.js'

/**
 * Multipart uploads: parts of 5 MiB (S3's smallest), at most 2 in flight. A put holds at most
 * about (queue + 1) × part size, whatever the file's size; a body smaller than one part is a
 * single PutObject.
 */
export const PART_SIZE = 5 * 1024 * 1024
const QUEUE_SIZE = 2

/** Counts the bytes going through. */
class Counter extends Transform {
  bytes = 0
  override _transform (chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length
    done(null, chunk)
  }
}

/**
 * The s3 driver: each object under its key in one bucket (S3, or an S3-compatible server at
 * `endpoint`). A put is streamed with lib-storage's `Upload` (multipart past one part; a failed
 * multipart upload is aborted by it), so a failed put leaves no object under the key. `get` asks
 * for the range only; a missing key is `StorageNotFound`. Credentials: the configured pair, else
 * the SDK's default chain (environment, profile, instance role).
 */
export function s3Storage (options: NonNullable<Config['uploads']['s3']>): Storage {
  const client = new S3Client({
    region: options.region,
    endpoint: options.endpoint,
    forcePathStyle: options.forcePathStyle,
    credentials: options.credentials,
    // Checksums only where S3 requires them: S3-compatible servers differ in what else they accept.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED'
  })
  const bucket = options.bucket
  const checked = (key: string): string => {
    if (!isStorageKey(key)) throw new Error(`not a storage key: ${key.slice(0, 40)}`)
    return key
  }
  return {
    async put (key, body: Readable) {
      const counter = new Counter()
      // Heard before the upload hears of it (the counter is destroyed after the body, by the pipeline).
      let failure: Error | undefined
      body.once('error', err => { failure ??= err })
      pipeline(body, counter, () => {})
      const upload = new Upload({ client, params: { Bucket: bucket, Key: checked(key), Body: counter }, partSize: PART_SIZE, queueSize: QUEUE_SIZE })
      try {
        await upload.done()
      } catch (err) {
        // The body's own failure (413 while it streamed, a client gone) is the reason, whatever
        // the upload then reported (aborting the multipart upload can fail in its turn).
        throw failure ?? err
      }
      return counter.bytes
    },
    async get (key, range?: ByteRange) {
      try {
        const object = await client.send(new GetObjectCommand({
          Bucket: bucket, Key: checked(key), Range: range === undefined ? undefined : `bytes=${range.start}-${range.end}`
        }))
        // In Node the body is the response's IncomingMessage: a Readable.
        return object.Body as Readable
      } catch (err) {
        if (err instanceof NoSuchKey || (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404)) throw new StorageNotFound(key)
        throw err
      }
    },
    async delete (key) {
      // S3 answers 204 for a key it does not have: idempotent as it is.
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: checked(key) }))
    },
    async close () {
      client.destroy()
    }
  }
}
