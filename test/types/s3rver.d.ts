// s3rver ships no types: the part of its API the tests use, as its README documents.
declare module 's3rver' {
  import type { AddressInfo } from 'node:net'
  export interface S3rverOptions {
    address?: string
    port?: number
    directory?: string
    silent?: boolean
    resetOnClose?: boolean
    configureBuckets?: Array<{ name: string }>
  }
  export default class S3rver {
    constructor (options?: S3rverOptions)
    run (): Promise<AddressInfo>
    close (): Promise<void>
    /** S3 event notifications: `ObjectCreated:Put` (PutObject), `ObjectCreated:Post` (a completed multipart upload), `ObjectRemoved:Delete`. */
    on (event: 'event', listener: (event: { Records: Array<{ eventName: string, s3: { object: { key: string } } }> }) => void): this
  }
}
