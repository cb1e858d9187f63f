import type { TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import { type ValueError, ValueErrorType } from '@sinclair/typebox/errors'
import { AppError, badRequest } from '../../src/errors.js'
import { NO_NUL } from '../../src/schemas/common.js'
import { clientPayloads, type ClientFrameType, type ClientPayload, type ErrorFrame, Frame } from '../../src/schemas/realtime.js'

const frameCheck = TypeCompiler.Compile(Frame)
const payloadChecks = Object.fromEntries(
  Object.entries(clientPayloads).map(([type, schema]) => [type, TypeCompiler.Compile(schema as TSchema)])
) as Record<ClientFrameType, TypeCheck<TSchema>>

export type ClientFrame = { [T in ClientFrameType]: { type: T, payload: ClientPayload<T> } }[ClientFrameType]

/**
 * Parses and validates one frame from a client. Throws AppError (400) with a sentence that names
 * the field, worded as the REST validation errors are.
 */
export function parseClientFrame (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): ClientFrame {
  if (isBinary) throw badRequest('frames must be text: JSON {"type", "payload"}', 'INVALID_FRAME')
  let value: unknown
  try {
    value = JSON.parse(toText(data))
  } catch {
    throw badRequest('frame is not valid JSON', 'INVALID_JSON')
  }
  if (!frameCheck.Check(value)) throw badRequest('frame must be a JSON object {"type": "<event>", "payload": {...}}', 'INVALID_FRAME')
  const type = value.type
  if (!Object.hasOwn(payloadChecks, type)) {
    throw badRequest(`unknown frame type "${type.slice(0, 64)}"; expected one of ${Object.keys(payloadChecks).join(', ')}`, 'UNKNOWN_TYPE')
  }
  const check = payloadChecks[type as ClientFrameType]
  const payload = value.payload
  if (!check.Check(payload)) {
    const first = check.Errors(payload).First()
    throw badRequest(first === undefined ? 'payload is invalid' : describe(first), 'VALIDATION_ERROR')
  }
  return { type, payload } as ClientFrame
}

/**
 * `?since=<room_id>:<seq>,...` on connect, as the `rooms` of a `sync` frame (checked by the same
 * schema). A room named twice keeps its last seq. Throws AppError (400) naming `since`.
 */
export function parseSince (since: string): ClientPayload<'sync'>['rooms'] {
  const rooms: Record<string, number> = {}
  for (const pair of since.split(',')) {
    const [room = '', seq = ''] = pair.split(':')
    rooms[room] = Number(seq)
  }
  const payload = { rooms }
  const check = payloadChecks.sync
  if (!check.Check(payload)) {
    const first = check.Errors(payload).First()
    throw badRequest(`since: ${first === undefined ? 'invalid' : describe(first)}`, 'VALIDATION_ERROR')
  }
  return rooms
}

function toText (data: Buffer | ArrayBuffer | Buffer[]): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8')
  return Buffer.from(data as ArrayBuffer).toString('utf8')
}

const article = (word: string): string => /^[aeiou]/.test(word) ? 'an' : 'a'

/** One TypeBox error as a sentence: "room_id must be a positive integer". */
export function describe (error: ValueError): string {
  const path = error.path.replace(/^\//, '').replaceAll('/', '.')
  const schema = error.schema as Record<string, unknown>
  const name = path === '' ? 'payload' : path
  switch (error.type) {
    case ValueErrorType.ObjectRequiredProperty: return `${name} is required`
    case ValueErrorType.ObjectAdditionalProperties: {
      const parts = name.split('.')
      const field = parts.pop() ?? ''
      return `${parts.length === 0 ? 'payload' : parts.join('.')} has an unknown field "${field}"`
    }
    case ValueErrorType.Object: return `${name} must be an object`
    case ValueErrorType.Integer: return `${name} must be an integer`
    case ValueErrorType.Number: return `${name} must be a number`
    case ValueErrorType.String: return `${name} must be a string`
    case ValueErrorType.Boolean: return `${name} must be a boolean`
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.NumberMinimum:
      return schema.minimum === 1 ? `${name} must be a positive integer` : `${name} must be at least ${String(schema.minimum)}`
    case ValueErrorType.IntegerMaximum:
    case ValueErrorType.NumberMaximum:
      return `${name} must be at most ${String(schema.maximum)}`
    case ValueErrorType.StringMinLength:
      return schema.minLength === 1 ? `${name} must not be empty` : `${name} must be at least ${String(schema.minLength)} characters`
    case ValueErrorType.StringMaxLength: return `${name} must be at most ${String(schema.maxLength)} characters`
    case ValueErrorType.StringPattern:
      return schema.pattern === NO_NUL ? `${name} must not contain NUL characters` : `${name} has an invalid format`
    case ValueErrorType.ObjectMaxProperties: return `${name} has too many entries (at most ${String(schema.maxProperties)})`
    default: {
      const type = typeof schema.type === 'string' ? schema.type : undefined
      return type === undefined ? `${name} is invalid` : `${name} must be ${article(type)} ${type}`
    }
  }
}

/** The `error` frame for anything a handler threw; `internal` decides what an unexpected error says. */
export function errorFrame (err: unknown, internal: (err: unknown) => { error: string, code: string }): ErrorFrame {
  if (err instanceof AppError) {
    const payload: ErrorFrame['payload'] = { error: err.message }
    if (err.code !== undefined) payload.code = err.code
    if (err.retryAfter !== undefined) payload.retry_after = err.retryAfter
    return { type: 'error', payload }
  }
  return { type: 'error', payload: internal(err) }
}
