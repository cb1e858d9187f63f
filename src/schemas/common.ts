import { type TSchema, Type } from '@sinclair/typebox'
import { BODY_MAX_BYTES, INT32_MAX, PAGE_MAX } from '../limits.js'

/** An ISO 8601 timestamp; handlers may hand over a Date, the serializer writes the string. */
export const Timestamp = Type.Unsafe<Date | string>(Type.String({ format: 'date-time', maxLength: 32, examples: ['2026-01-28T10:30:00.000Z'] }))

/** Every error the API returns. */
export const ErrorResponse = Type.Object({
  error: Type.String({ maxLength: 1000, description: 'A sentence for a person', examples: ['email must be a valid email address'] }),
  code: Type.Optional(Type.String({ maxLength: 64, pattern: '^[A-Z][A-Z0-9_]*$', description: 'A stable machine word', examples: ['VALIDATION_ERROR'] }))
}, { $id: 'Error', title: 'Error' })

export const Id = Type.Integer({ format: 'int32', minimum: 1, maximum: INT32_MAX, description: 'A positive integer id' })

export const IdParams = Type.Object({ id: Id })

/** What each error status means, for the OpenAPI document. */
const errorDescriptions = {
  400: 'Invalid input: the `error` names the field',
  401: 'Missing or invalid authentication token',
  403: 'Authenticated, but not allowed (for example, not a member of the room)',
  404: 'No such resource',
  409: 'Conflict with an existing resource',
  413: 'Request body too large',
  415: 'Request body is not JSON',
  416: 'The Range asked for is not satisfiable (Content-Range: bytes */<size> says the size)',
  429: 'Rate limited; see the Retry-After header',
  500: 'Unexpected server error (the body never carries internals)',
  503: 'The database is unreachable, the server is overloaded, or it is shutting down; retry after the Retry-After seconds'
} as const

export type ErrorStatus = keyof typeof errorDescriptions

/** Response schemas for the given error statuses, each a reference to the shared Error schema. */
export function errors<S extends ErrorStatus> (...statuses: S[]): Record<S, TSchema> {
  const out = {} as Record<S, TSchema>
  for (const status of statuses) {
    out[status] = Type.Ref(ErrorResponse, { description: errorDescriptions[status] })
  }
  return out
}

/** Statuses every route can return: rate limits, faults, an unreachable database. */
export const alwaysErrors = [429, 500, 503] as const
/** What an authenticated route adds to those. */
export const authErrors = [401, ...alwaysErrors] as const
/** What a route with a JSON body adds to those. */
export const bodyErrors = [400, 413, 415] as const

export const bearer = [{ bearerAuth: [] }]

/**
 * The raw length of a text field whose bound applies after trimming (username, room name, message
 * content): the body limit (BODY_MAX_BYTES), which refuses anything longer with 413 first.
 */
export const MAX_RAW_TEXT = BODY_MAX_BYTES

/** An id as text (a key of `sync`'s `rooms` map): 1 to 2147483647 in plain decimal. */
export const ID_TEXT = '^(?:[1-9][0-9]{0,8}|1[0-9]{9}|20[0-9]{8}|21[0-3][0-9]{7}|214[0-6][0-9]{6}|2147[0-3][0-9]{5}|21474[0-7][0-9]{4}|214748[0-2][0-9]{3}|2147483[0-5][0-9]{2}|21474836[0-3][0-9]|214748364[0-7])$'

/** No NUL characters anywhere in the string. */
export const NO_NUL = '^[^\\u0000]*$'

export const Pagination = Type.Object({
  limit: Type.Integer({ format: 'int32', minimum: 1, maximum: PAGE_MAX, default: 50, description: `Page size, 1 to ${PAGE_MAX}` }),
  offset: Type.Integer({ format: 'int32', minimum: 0, maximum: INT32_MAX, default: 0, description: 'How many to skip' })
})
