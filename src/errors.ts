import { INT32_MAX } from './limits.js'
import { NO_NUL } from './schemas/common.js'

/** The one error type the domain throws; `toErrorBody` turns it into `{"error", "code"}`. */
export class AppError extends Error {
  override name = 'AppError'
  constructor (
    readonly statusCode: number,
    message: string,
    readonly code?: string,
    /** Seconds, for 429 and 503 (sent as Retry-After). */
    readonly retryAfter?: number
  ) {
    // A refusal (4xx) is an answer, not a fault: its stack is never logged, and capturing one
    // cost more than the rest of a refused WebSocket frame (a flood of them is refused by the thousand).
    const stackTraceLimit = Error.stackTraceLimit
    if (statusCode < 500) Error.stackTraceLimit = 0
    super(message)
    Error.stackTraceLimit = stackTraceLimit
  }
}

export const badRequest = (message: string, code = 'VALIDATION_ERROR'): AppError => new AppError(400, message, code)
export const unauthorized = (message: string, code = 'UNAUTHORIZED'): AppError => new AppError(401, message, code)
export const forbidden = (message: string, code = 'FORBIDDEN'): AppError => new AppError(403, message, code)
export const notFound = (message: string, code = 'NOT_FOUND'): AppError => new AppError(404, message, code)
export const conflict = (message: string, code: string): AppError => new AppError(409, message, code)
export const tooManyRequests = (message: string, retryAfter: number, code = 'RATE_LIMITED'): AppError =>
  new AppError(429, message, code, Math.max(1, Math.ceil(retryAfter)))
export const serviceUnavailable = (message: string, retryAfter: number, code: string): AppError =>
  new AppError(503, message, code, Math.max(1, Math.ceil(retryAfter)))

/** Errors from pg / the pool that mean "the database is unreachable", not "this request is bad". */
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH',
  '57P01', '57P02', '57P03', '53300', '08000', '08001', '08003', '08004', '08006',
  // statement timeout
  '57014'])
const UNAVAILABLE_MESSAGES = /timeout exceeded when trying to connect|Connection terminated|connection timeout|Client has encountered a connection error|Query read timeout|canceling statement due to statement timeout/i

export function isDatabaseUnavailable (err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false
  const { code, message } = err as { code?: unknown, message?: unknown }
  if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true
  return typeof message === 'string' && UNAVAILABLE_MESSAGES.test(message)
}

/** A validation error as Ajv reports it. */
export interface ValidationError {
  instancePath: string
  keyword: string
  params: Record<string, unknown>
  message?: string
  /** Set when the error is about a key of a map (`propertyNames`), not its value. */
  propertyName?: string
}

const article = (type: string): string => /^[aeiou]/.test(type) ? 'an' : 'a'

/**
 * One Ajv error as a sentence that names the field: "email must be a valid email address". The
 * one translator of validation errors, for REST (bodies, query strings, params) and frames alike.
 * `context` names the whole value when the error is at its root ("request body", "payload").
 */
export function describeValidationError (error: ValidationError, context: string | undefined): string {
  const params = error.params as Record<string, unknown>
  const path = error.instancePath.replace(/^\//, '').replaceAll('/', '.')
  const field = error.keyword === 'required' ? [path, params.missingProperty].filter(Boolean).join('.') : path
  const name = field === '' ? (context === 'body' ? 'request body' : context ?? 'input') : field
  if (error.propertyName !== undefined) return `${name} has an unknown field "${error.propertyName}": its keys are ids from 1 to ${INT32_MAX}`
  switch (error.keyword) {
    case 'required': return `${name} is required`
    case 'type': return `${name} must be ${article(String(params.type))} ${String(params.type)}`
    case 'decimal': return `${name} must be an integer written in plain decimal digits`
    case 'format': return params.format === 'email' ? `${name} must be a valid email address` : `${name} must be a valid ${String(params.format)}`
    case 'minLength': return params.limit === 1 ? `${name} must not be empty` : `${name} must be at least ${String(params.limit)} characters`
    case 'maxLength': return `${name} must be at most ${String(params.limit)} characters`
    case 'minimum': return params.limit === 1 ? `${name} must be a positive integer` : `${name} must be at least ${String(params.limit)}`
    case 'maximum': return `${name} must be at most ${String(params.limit)}`
    case 'pattern': return params.pattern === NO_NUL ? `${name} must not contain NUL characters` : `${name} has an invalid format`
    case 'additionalProperties': return `${name} has an unknown field "${String(params.additionalProperty)}"`
    case 'maxProperties': return `${name} has too many entries (at most ${String(params.limit)})`
    case 'anyOf': return `${name} has an invalid value`
    default: return `${name} ${error.message ?? 'is invalid'}`
  }
}

/** Seconds a client is asked to wait while the database is unreachable. */
const UNAVAILABLE_RETRY_AFTER_S = 5

/** Fastify's own error codes that are the client's fault, and the sentence we answer with. */
const clientErrors: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'Content-Type must be application/json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'Content-Length does not match the body',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'request body must not be empty when Content-Type is application/json',
  FST_ERR_CTP_BODY_TOO_LARGE: 'request body is too large',
  FST_ERR_CTP_INVALID_JSON_BODY: 'request body is not valid JSON'
}

/** What the error handler and the WebSocket error frames log through (pino's shape). */
export interface ErrorLog {
  warn: (obj: object, msg: string) => void
  error: (obj: object, msg: string) => void
}

export interface ErrorAnswer {
  statusCode: number
  body: { error: string, code?: string }
  /** Seconds (sent as Retry-After over REST, `retry_after` in an error frame). */
  retryAfter?: number
}

interface FrameworkError { statusCode?: number, code?: string, message: string, validation?: ValidationError[], validationContext?: string }

/**
 * The one mapping from anything thrown to the answer a client gets, for REST responses and
 * WebSocket error frames alike: the domain's AppError as it is, a validation error as a sentence
 * naming the field, an unreachable database as 503, a client's out-of-range number as 400, and
 * anything else as a 500 that is logged and never shows internals. A client's bad input is never
 * logged at error level.
 */
export function toErrorBody (err: unknown, log: ErrorLog): ErrorAnswer {
  if (err instanceof AppError) {
    const body = err.code === undefined ? { error: err.message } : { error: err.message, code: err.code }
    return { statusCode: err.statusCode, body, ...(err.retryAfter === undefined ? {} : { retryAfter: err.retryAfter }) }
  }
  const error = err as FrameworkError
  if (error?.validation !== undefined) {
    const first = error.validation[0]
    const message = first === undefined ? 'invalid request' : describeValidationError(first, error.validationContext)
    return { statusCode: 400, body: { error: message, code: 'VALIDATION_ERROR' } }
  }
  if (isDatabaseUnavailable(err)) {
    log.warn({ err }, 'database unavailable')
    return { statusCode: 503, body: { error: 'The service is temporarily unavailable; please retry shortly', code: 'DATABASE_UNAVAILABLE' }, retryAfter: UNAVAILABLE_RETRY_AFTER_S }
  }
  // numeric_value_out_of_range: a number the client sent is too large for its column.
  if (error?.code === '22003') return { statusCode: 400, body: { error: 'a number in the request is out of range', code: 'VALIDATION_ERROR' } }
  const status = error?.statusCode ?? 500
  if (status >= 400 && status < 500) {
    const code = error.code
    const message = (code !== undefined ? clientErrors[code] : undefined) ?? (/^FST_/.test(code ?? '') ? error.message : 'Bad request')
    const body: ErrorAnswer['body'] = { error: message }
    if (code !== undefined) body.code = code.replace(/^FST_ERR_(CTP_)?/, '')
    return { statusCode: status, body }
  }
  log.error({ err }, 'unexpected error')
  return { statusCode: 500, body: { error: 'Internal server error', code: 'INTERNAL' } }
}
