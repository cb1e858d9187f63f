import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
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
