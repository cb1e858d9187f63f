import fastifyMultipart from '@fastify/multipart'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { INLINE_TYPES, readableAttachment, thumbnailOf, uploadAttachment } from '../../src/chat/attachments.js'
import type { Config } from '../../src/config.js'
import { AppError, badRequest, tooManyRequests } from '../../src/errors.js'
import { authErrors, bearer, errors, IdParams } from '../../src/schemas/common.js'
import { Attachment } from '../../src/schemas/messages.js'
import type { ByteRange } from '../../src/storage/index.js'

const NOT_READABLE = 'The uploader and the members of the room it was posted in may read it; anyone else gets 404 ATTACHMENT_NOT_FOUND, the answer for an id that does not exist.'

/** The headers of every download, as documented (they are set by `sendBytes`). */
const text = (description: string, maxLength = 1024): { type: 'string', maxLength: number, description: string } => ({ type: 'string', maxLength, description })
const downloadHeaders = {
  'Content-Disposition': text('`attachment; filename="..."; filename*=UTF-8\'\'...` (RFC 6266 / 5987); `inline` for PNG, JPEG, GIF and WebP only'),
  'Content-Security-Policy': text('`sandbox`: a file opened in a browser runs nothing', 64),
  'X-Content-Type-Options': text('`nosniff`: browsers take the type given, from the file\'s bytes', 16),
  ETag: text('The SHA-256 of the bytes, quoted; send it back as If-None-Match for a 304', 66),
  'Cache-Control': text('`private`', 64),
  'Accept-Ranges': text('`bytes`', 16)
}
const bytes = { type: 'string', format: 'binary', maxLength: Number.MAX_SAFE_INTEGER } as const
const binary = (description: string, headers: Record<string, unknown>): Record<string, unknown> =>
  ({ description, headers, content: { 'application/octet-stream': { schema: bytes }, 'image/*': { schema: bytes } } })

/** RFC 5987 / 6266: a quoted ASCII fallback (no quotes, backslashes or controls) and the UTF-8 name percent-encoded. */
export function contentDisposition (type: 'inline' | 'attachment', filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\%]/g, '_')
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, c => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  return `${type}; filename="${ascii}"; filename*=UTF-8''${encoded}`
}

/**
 * A single `bytes=` range of an object of `size` bytes: the range, 'unsatisfiable', or undefined
 * when there is none to honour (absent, malformed, or several ranges: the whole object is sent, as
 * RFC 9110 allows).
 */
export function parseRange (header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  const match = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (match === null) return undefined
  const [, first = '', last = ''] = match
  if (first === '' && last === '') return undefined
  if (first === '') {
    const suffix = Number(last)
    if (suffix === 0 || size === 0) return 'unsatisfiable'
    return { start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(first)
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1)
  if (last !== '' && Number(last) < start) return undefined
  if (start >= size) return 'unsatisfiable'
  return { start, end }
}

/** Whether If-None-Match names this ETag (or `*`). */
function matches (header: string | undefined, etag: string): boolean {
  if (header === undefined) return false
  return header.split(',').some(tag => { const t = tag.trim().replace(/^W\//, ''); return t === etag || t === '*' })
}

const attachments: FastifyPluginAsyncTypebox<{ config: Config }> = async function (app, { config }) {
  app.addHook('onRequest', app.authenticate)
  // Here only: the rest of the API takes JSON. One byte over the limit is read, so the upload's meter sees it and answers 413.
  await app.register(fastifyMultipart, { limits: { fileSize: config.uploads.maxBytes + 1, files: 1, fields: 10, parts: 20 }, throwFileSizeLimit: false })

  app.post('', {
    config: {
      rateLimit: {
        max: config.rateLimit.uploads,
        timeWindow: 3_600_000,
        keyGenerator: (request: FastifyRequest) => `upload:${(request.user as { id: number }).id}`,
        errorResponseBuilder: (_request, context) =>
          tooManyRequests(`Too many uploads; retry in ${Math.ceil(context.ttl / 1000)} seconds`, context.ttl / 1000)
      }
    },
    // The body is a stream read by the handler (multipart): the schema below documents it, nothing validates it here.
    validatorCompiler: () => () => true,
    schema: {
      operationId: 'uploadAttachment',
      tags: ['attachments'],
      summary: 'Upload a file, to attach to a message you send',
      description: 'multipart/form-data with one part named `file`. Streamed to storage, never held whole; over MAX_UPLOAD_BYTES (default 10 MiB) ' +
        '413 FILE_TOO_LARGE, refused while it streams (nothing is kept). An empty file or none is 400 (EMPTY_FILE, NO_FILE); a body that is not multipart 415. ' +
        '`content_type` comes from the bytes (magic numbers), never from the client (unknown: application/octet-stream); images get `width` and `height`. ' +
        '`filename` is for display only. Send its id in `attachment_ids` within UPLOAD_TTL_HOURS (default 24), or it is removed. ' +
        'At most RATE_LIMIT_UPLOADS (default 30) uploads an hour per user.',
      security: bearer,
      consumes: ['multipart/form-data'],
      body: Type.Object({ file: Type.Unsafe<unknown>({ ...bytes, description: 'The file; its part\'s filename is kept for display' }) }, { required: ['file'] }),
      response: { 201: Type.Ref(Attachment, { description: 'Stored' }), ...errors(400, 413, 415, ...authErrors) }
    }
  }, async (request, reply) => {
    if (!request.isMultipart()) throw new AppError(415, 'Content-Type must be multipart/form-data with a part named file', 'UNSUPPORTED_MEDIA_TYPE')
    try {
      for await (const part of request.parts()) {
        if (part.type !== 'file') continue
        if (part.fieldname !== 'file') { part.file.resume(); continue }
        const attachment = await uploadAttachment(app, request.user.id, { filename: part.filename, stream: part.file }, config.uploads.maxBytes)
        return await reply.code(201).send(attachment)
      }
    } catch (err) {
      // Malformed multipart (no boundary, a part cut short): the client's fault.
      if (!(err instanceof AppError) && err instanceof Error && /multipart|boundary|unexpected end|terminated early/i.test(err.message)) {
        throw badRequest('request body is not valid multipart/form-data', 'INVALID_MULTIPART')
      }
      throw err
    }
    throw badRequest('a part named file is required', 'NO_FILE')
  })

  app.get('/:id', {
    schema: {
      operationId: 'downloadAttachment',
      tags: ['attachments'],
      summary: 'Download an attachment\'s bytes',
      description: 'Streamed with its type (from its bytes), `X-Content-Type-Options: nosniff`, `Content-Security-Policy: sandbox`, ' +
        '`Content-Disposition` (`inline` only for PNG, JPEG, GIF and WebP), `Cache-Control: private` and `ETag` (its SHA-256): ' +
        'If-None-Match with it answers 304. One `Range: bytes=` range answers 206 with Content-Range; one past the end 416. ' + NOT_READABLE,
      security: bearer,
      params: IdParams,
      response: {
        200: binary('The bytes', downloadHeaders),
        206: binary('The range asked for', { ...downloadHeaders, 'Content-Range': text('`bytes <first>-<last>/<size>`', 64) }),
        304: Type.Null({ description: 'Not modified (If-None-Match named its ETag)' }),
        ...errors(400, 404, 416, ...authErrors)
      }
    }
  }, async (request, reply) => {
    const attachment = await readableAttachment(app.db, request.user.id, request.params.id)
    const etag = `"${attachment.sha256}"`
    setDownloadHeaders(reply, INLINE_TYPES.has(attachment.content_type) ? 'inline' : 'attachment', attachment.filename, etag)
    if (matches(request.headers['if-none-match'], etag)) return await reply.code(304).send(null)
    const size = attachment.size
    const range = parseRange(request.headers.range, size)
    if (range === 'unsatisfiable') {
      reply.header('content-range', `bytes */${size}`)
      throw new AppError(416, `The range is past the end of the file (${size} bytes)`, 'RANGE_NOT_SATISFIABLE')
    }
    reply.type(attachment.content_type)
    if (range === undefined) {
      reply.header('content-length', size)
      return await reply.code(200).send(await app.storage.get(attachment.storage_key))
    }
    reply.header('content-range', `bytes ${range.start}-${range.end}/${size}`).header('content-length', range.end - range.start + 1)
    return await reply.code(206).send(await app.storage.get(attachment.storage_key, range))
  })

  app.get('/:id/thumbnail', {
    schema: {
      operationId: 'attachmentThumbnail',
      tags: ['attachments'],
      summary: 'A small version of an image attachment',
      description: 'At most 320 px on its longer side (never enlarged), made on first request and kept; JPEG for a JPEG, PNG otherwise. ' +
        'Not an image (PNG, JPEG, GIF, WebP), or one too large to decode safely (over 50 megapixels, a decompression bomb): 404 NO_THUMBNAIL. ' + NOT_READABLE,
      security: bearer,
      params: IdParams,
      response: {
        200: binary('The thumbnail', { ...downloadHeaders, ETag: text('The thumbnail\'s own tag, quoted', 80) }),
        304: Type.Null({ description: 'Not modified (If-None-Match named its ETag)' }),
        ...errors(400, 404, ...authErrors)
      }
    }
  }, async (request, reply) => {
    const attachment = await readableAttachment(app.db, request.user.id, request.params.id)
    const { key, contentType } = await thumbnailOf(app, request.user.id, attachment)
    const etag = `"${key}"`
    setDownloadHeaders(reply, 'inline', `thumbnail-${attachment.filename}`, etag)
    if (matches(request.headers['if-none-match'], etag)) return await reply.code(304).send(null)
    return await reply.code(200).type(contentType).send(await app.storage.get(key))
  })
}

function setDownloadHeaders (reply: FastifyReply, disposition: 'inline' | 'attachment', filename: string, etag: string): void {
  reply.headers({
    'x-content-type-options': 'nosniff',
    'content-security-policy': 'sandbox',
    'content-disposition': contentDisposition(disposition, filename),
    etag,
    'cache-control': 'private',
    'accept-ranges': 'bytes'
  })
}

export default attachments
