import { randomUUID } from 'node:crypto'
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { AppError, toErrorBody } from '../src/errors.js'
import { parseJson } from '../src/schemas/validator.js'

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

/** JSON bodies in, through the same parser as WebSocket frames; every answer through the one error mapping. */
export default fp(async function errorsPlugin (app) {
  // JSON in: a text/plain body is refused with 415 like any other type, not parsed as a string.
  app.removeContentTypeParser('text/plain')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    if (body === '') {
      done(new AppError(400, 'request body must not be empty when Content-Type is application/json', 'EMPTY_JSON_BODY'), undefined)
      return
    }
    try {
      done(null, parseJson(body as string, 'request body', 'INVALID_JSON_BODY'))
    } catch (err) {
      done(err as Error, undefined)
    }
  })

  app.setErrorHandler(function (error, request, reply) {
    const { statusCode, body, retryAfter } = toErrorBody(error, request.log)
    if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter))
    return reply.code(statusCode).send(body)
  })

  app.setNotFoundHandler(function (request, reply) {
    return reply.code(404).send({ error: `Route ${request.method} ${(request.url.split('?')[0] ?? '').slice(0, 200)} not found`, code: 'ROUTE_NOT_FOUND' })
  })
}, { name: 'errors' })
