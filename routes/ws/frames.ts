import type { RawData } from 'ws'
import { AppError, badRequest } from '../../src/errors.js'
import { clientPayloads, type ClientFrame, type ClientFrameType, type ClientPayload, Frame } from '../../src/schemas/realtime.js'
import { jsonValidator, parseJson } from '../../src/schemas/validator.js'

const frameShape = jsonValidator<{ type: string, payload?: unknown }>(Frame)
/** Each frame type's payload, checked by the validator of REST bodies (one input contract). */
const payloads = Object.fromEntries(
  Object.entries(clientPayloads).map(([type, schema]) => [type, jsonValidator(schema)])
) as { [T in ClientFrameType]: (value: unknown) => ClientPayload<T> }

/**
 * Parses and validates one frame from a client: JSON text (a `__proto__` key refused as in a REST
 * body), `{type, payload}`, a known type, and its payload against the same schema and validator as
 * the REST body it mirrors. Throws AppError (400) with a sentence that names the field.
 */
export function parseClientFrame (data: RawData, isBinary: boolean): ClientFrame {
  if (isBinary) throw badRequest('frames must be text: JSON {"type", "payload"}', 'INVALID_FRAME')
  const value = parseJson(toText(data), 'frame', 'INVALID_JSON')
  let frame: { type: string, payload?: unknown }
  try {
    frame = frameShape(value)
  } catch {
    throw badRequest('frame must be a JSON object {"type": "<event>", "payload": {...}}', 'INVALID_FRAME')
  }
  const { type } = frame
  if (!Object.hasOwn(payloads, type)) {
    throw badRequest(`unknown frame type "${type.slice(0, 64)}"; expected one of ${Object.keys(payloads).join(', ')}`, 'UNKNOWN_TYPE')
  }
  return { type, payload: payloads[type as ClientFrameType](frame.payload) } as ClientFrame
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
  try {
    return payloads.sync({ rooms }).rooms
  } catch (err) {
    if (!(err instanceof AppError)) throw err
    throw badRequest(`since: ${err.message}`, err.code)
  }
}

function toText (data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8')
  return Buffer.from(data as ArrayBuffer).toString('utf8')
}
