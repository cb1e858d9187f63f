import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import { randomBytes } from 'node:crypto'
import S3rver from 's3rver'
import type { Test } from 'tap'

/** The credentials s3rver accepts. */
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }

/**
 * A real S3-compatible server (s3rver) on a free loopback port, its objects in a temporary
 * directory of `t`, closed when `t` ends. `stop()` and `restart()` take it away and bring it back on
 * the same port with the same objects: storage that fails, then recovers.
 */
export class TestS3 {
  private server: S3rver | undefined
  readonly client: S3Client
  /** How each key was last created: `ObjectCreated:Put` (one request) or `ObjectCreated:Post` (multipart). */
  readonly created = new Map<string, string>()

  private constructor (private readonly directory: string, private readonly port: number, server: S3rver) {
    this.server = this.listenTo(server)
    this.client = new S3Client({ region: 'us-east-1', endpoint: this.endpoint, forcePathStyle: true, credentials: CREDENTIALS })
  }

  static async start (t: Test): Promise<TestS3> {
    const directory = t.testdir()
    const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true })
    const { port } = await server.run()
    const s3 = new TestS3(directory, port, server)
    t.teardown(async () => {
      await s3.stop()
      s3.client.destroy()
    })
    return s3
  }

  get endpoint (): string { return `http://127.0.0.1:${this.port}` }

  /** Brings a stopped server back, on its port, with the objects it had. */
  async restart (): Promise<void> {
    if (this.server !== undefined) return
    this.server = this.listenTo(new S3rver({ address: '127.0.0.1', port: this.port, directory: this.directory, silent: true }))
    await this.server.run()
  }

  private listenTo (server: S3rver): S3rver {
    return server.on('event', event => {
      for (const record of event.Records) if (record.eventName.startsWith('ObjectCreated:')) this.created.set(record.s3.object.key, record.eventName)
    })
  }

  async stop (): Promise<void> {
    await this.server?.close()
    this.server = undefined
  }

  /** A new, empty bucket; returns the app's environment for STORAGE_DRIVER=s3 on it. */
  async bucketEnv (): Promise<{ bucket: string, env: Record<string, string> }> {
    const bucket = `chat-test-${randomBytes(6).toString('hex')}`
    await this.client.send(new CreateBucketCommand({ Bucket: bucket }))
    return {
      bucket,
      env: {
        STORAGE_DRIVER: 's3',
        S3_BUCKET: bucket,
        S3_ENDPOINT: this.endpoint,
        S3_FORCE_PATH_STYLE: 'true',
        S3_REGION: 'us-east-1',
        S3_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
        S3_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey
      }
    }
  }

  /** Every key in the bucket. */
  async keys (bucket: string): Promise<string[]> {
    const listed = await this.client.send(new ListObjectsV2Command({ Bucket: bucket }))
    return (listed.Contents ?? []).map(o => o.Key ?? '')
  }
}
