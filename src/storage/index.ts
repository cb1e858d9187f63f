import type { Readable } from 'node:stream'

/** A byte range of a stored object, both ends included (as HTTP's `Range: bytes=start-end`). */
export interface ByteRange { start: number, end: number }

/**
 * Where attachments' bytes live, by key (random keys the app makes, never user input). One small
 * interface, the disk driver (disk.ts) and the S3 one (s3.ts) alike: `put`
 * consumes a stream and returns how many bytes it stored; `get` streams an object or a range of
 * it (never read whole); `delete` is idempotent (a missing key is no error).
 */
export interface Storage {
  put: (key: string, body: Readable) => Promise<number>
  get: (key: string, range?: ByteRange) => Promise<Readable>
  delete: (key: string) => Promise<void>
  /** Releases what the driver holds (a temporary directory, connections). */
  close: () => Promise<void>
}

/** Thrown by `get` for a key that is not stored. */
export class StorageNotFound extends Error {
  override name = 'StorageNotFound'
}

/** Storage keys are made here only: 32 random hex characters (never anything a client sent). */
export { randomStorageKey } from './keys.js'
