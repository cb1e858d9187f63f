import { randomUUID } from 'node:crypto'
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifySchemaValidationError } from 'fastify'
import fp from 'fastify-plugin'
import { AppError } from '../src/errors.js'
import { NO_NUL } from '../src/schemas/common.js'

/** Errors from pg / the pool that mean "the database is unreachable", not "this request is bad". */
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH',
  '57P01', '57P02', '57P03', '53300', '08000', '08001', '08003', '08004', '08006'])
const UNAVAILABLE_MESSAGES = /timeout exceeded when trying to connect|Connection terminated|connection timeout|Client has encountered a connection error|Query read timeout|canceling statement due to statement timeout/i

export function isDatabaseUnavailable (err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false
  const { code, message } = err as { code?: unknown, message?: unknown }
  if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true
  if (code === '57014') return true // statement timeout
  return typeof message === 'string' && UNAVAILABLE_MESSAGES.test(message)
}

const article = (type: string): string => /^[aeiou]/.test(type) ? 'an' : 'a'

/** One Ajv error as a sentence that names the field: "email must be a valid email address". */
export function describeValidationError (error: FastifySchemaValidationError, context: string | undefined): string {
  const params = error.params as Record<string, unknown>
  const path = error.instancePath.replace(/^\//, '').replaceAll('/', '.')
  const field = error.keyword === 'required' ? [path, params.missingProperty].filter(Boolean).join('.') : path
  const name = field === '' ? (context === 'body' ? 'request body' : context ?? 'input') : field
  switch (error.keyword) {
    case 'required': return `${name} is required`
    case 'type': return `${name} must be ${article(String(params.type))} ${String(params.type)}`
    case 'format': return params.format === 'email' ? `${name} must be a valid email address` : `${name} must be a valid ${String(params.format)}`
    case 'minLength': return params.limit === 1 ? `${name} must not be empty` : `${name} must be at least ${String(params.limit)} characters`
    case 'maxLength': return `${name} must be at most ${String(params.limit)} characters`
    case 'minimum': return params.limit === 1 ? `${name} must be a positive integer` : `${name} must be at least ${String(params.limit)}`
    case 'maximum': return `${name} must be at most ${String(params.limit)}`
    case 'pattern': return params.pattern === NO_NUL ? `${name} must not contain NUL characters` : `${name} has an invalid format`
    case 'additionalProperties': return `${name} has an unknown field "${String(params.additionalProperty)}"`
    case 'anyOf': return `${name} has an invalid value`
    default: return `${name} ${error.message ?? 'is invalid'}`
  }
}

/** Fastify's own error codes that are the client's fault, and the sentence we answer with. */
const clientErrors: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'Content-Type must be application/json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'Content-Length does not match the body',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'request body must not be empty when Content-Type is application/json',
  FST_ERR_CTP_BODY_TOO_LARGE: 'request body is too large',
  FST_ERR_CTP_INVALID_JSON_BODY: 'request body is not valid JSON'
}

/**
 * Fastify's `frameworkErrors`: a URL that can't be decoded, or a path parameter longer than
 * `maxParamLength`. Without it Fastify writes its own body ("Bad Request", 414) past every hook.
 */
export function frameworkErrors (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const message = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path parameter is too long' : 'the URL is not valid'
  // No hook runs for these requests (helmet's included): set the headers every response must carry.
  reply.code(400).headers(request.server.securityHeaders).header('x-request-id', request.id)
    .send({ error: message, code: 'BAD_URL' })
}

/** What Node's HTTP parser refuses, by its error code: the status and our answer. Anything else is 400. */
const parserRefusals: Record<string, { status: number, error: string, code: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, error: 'the request headers are too large', code: 'HEADERS_TOO_LARGE' },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: { status: 413, error: 'the chunk extensions of the request body are too large', code: 'BODY_TOO_LARGE' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, error: 'the request did not arrive in time', code: 'REQUEST_TIMEOUT' }
}
const malformed = { status: 400, error: 'the request is not valid HTTP/1.1', code: 'BAD_REQUEST' }

/**
 * Fastify's `clientErrorHandler` (`this` is the app): what Node's HTTP parser refuses before there is
 * a request (malformed HTTP, headers over 16 KiB, a request that did not arrive within
 * REQUEST_TIMEOUT_SECONDS) is answered `{"error","code"}` with the security headers and a fresh
 * request id, then the connection is closed. Only the error's code is logged: the error itself
 * carries the refused bytes, credentials included.
 */
export function clientErrorHandler (this: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket | Duplex): void {
  // A reset connection is gone: there is no one to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const { status, error, code } = parserRefusals[err.code ?? ''] ?? malformed
  const id = randomUUID()
  this.log.debug({ reqId: id, code: err.code }, 'refused a request the HTTP parser could not accept')
  // As Node does: answer only when no response of this connection has started (keep-alive, pipelining).
  const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage
  if (socket.writable && inFlight?.headersSent !== true) {
    const body = JSON.stringify({ error, code })
    const headers = {
      ...this.securityHeaders,
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
      'x-request-id': id,
      connection: 'close'
    }
    const head = Object.entries(headers).map(([name, value]) => `${name}: ${value}`).join('\r\n')
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${head}\r\n\r\n${body}`)
  }
  socket.destroy()
}

/**
 * Ajv coerces the strings "Infinity" and "1e400" to Infinity and then skips the integer's type and
 * bounds checks (they only look at finite numbers). Refuse such values as the schema would have.
 */
function nonFinite (values: unknown): string | undefined {
  if (typeof values !== 'object' || values === null) return undefined
  for (const [key, value] of Object.entries(values)) {
    if (typeof value === 'number' && !Number.isFinite(value)) return key
  }
  return undefined
}

export default fp(async function errorsPlugin (app) {
  // JSON in: a text/plain body is refused with 415 like any other type, not parsed as a string.
  app.removeContentTypeParser('text/plain')

  app.addHook('preHandler', async request => {
    const field = nonFinite(request.params) ?? nonFinite(request.query) ?? nonFinite(request.body)
    if (field !== undefined) throw new AppError(400, `${field} must be an integer`, 'VALIDATION_ERROR')
  })

  app.setErrorHandler(function (error: FastifyError | AppError | Error, request, reply) {
    if (error instanceof AppError) {
      if (error.retryAfter !== undefined) reply.header('retry-after', String(error.retryAfter))
      const body = error.code === undefined ? { error: error.message } : { error: error.message, code: error.code }
      return reply.code(error.statusCode).send(body)
    }
    const fastifyError = error as FastifyError
    if (fastifyError.validation !== undefined) {
      const first = fastifyError.validation[0]
      const message = first === undefined ? 'invalid request' : describeValidationError(first, fastifyError.validationContext)
      return reply.code(400).send({ error: message, code: 'VALIDATION_ERROR' })
    }
    if (isDatabaseUnavailable(error)) {
      request.log.warn({ err: error }, 'database unavailable')
      reply.header('retry-after', '5')
      return reply.code(503).send({ error: 'The service is temporarily unavailable; please retry shortly', code: 'DATABASE_UNAVAILABLE' })
    }
    const status = fastifyError.statusCode ?? 500
    if (status >= 400 && status < 500) {
      const code = fastifyError.code
      const message = (code !== undefined ? clientErrors[code] : undefined) ?? (/^FST_/.test(code ?? '') ? fastifyError.message : 'Bad request')
      return reply.code(status).send({ error: message, code: code?.replace(/^FST_ERR_(CTP_)?/, '') })
    }
    request.log.error({ err: error }, 'unexpected error')
    return reply.code(500).send({ error: 'Internal server error', code: 'INTERNAL' })
  })

  app.setNotFoundHandler(function (request, reply) {
    return reply.code(404).send({ error: `Route ${request.method} ${(request.url.split('?')[0] ?? '').slice(0, 200)} not found`, code: 'ROUTE_NOT_FOUND' })
  })
}, { name: 'errors' })
